/**
 * Engagement: signed click redirects and the open pixel, the providers' delivery webhooks (email
 * and Twilio's SMS status callback) and notificationStats, against the running subgraph and its
 * database.
 */
import { createHmac } from 'node:crypto';
import { columnAad, connectDatabase, keyRingFromEnv } from '@bilten/platform';
import {
  captureLogs,
  startTestSmtpServer,
  startTestSubgraph,
  type TestSmtpServer,
  type TestSubgraph,
  waitFor,
} from '@bilten/testkit';
import Fastify from 'fastify';
import { v7 as uuidv7 } from 'uuid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAddressHash } from '../src/adapters/address-hash.ts';
import { registerDeliveryWebhooks } from '../src/adapters/delivery-webhooks.ts';
import { messagingKeysFromEnv } from '../src/db/person-keys.ts';
import { DELIVERY_COLUMNS } from '../src/db/schema.ts';
import { enqueueDeliveries } from '../src/domain/deliveries.ts';
import { createEmailTracking } from '../src/domain/engagement.ts';
import { messagingSubgraph } from '../src/server.ts';

const GATEWAY = 'https://gateway.example';
const SECRET = 'engagement-test-secret-of-at-least-32-chars';
const WEBHOOK_SECRET = 'whsec_engagement_test';
const SMS_AUTH_TOKEN = 'twilio-auth-token-engagement';

let subgraph: TestSubgraph;
let smtp: TestSmtpServer;
let origin: string;
const tracking = createEmailTracking({
  env: { NODE_ENV: 'test', MAIL_LINK_SECRET: SECRET },
  gateway: GATEWAY,
});
const ring = keyRingFromEnv({ NODE_ENV: 'test' });

beforeAll(async () => {
  smtp = await startTestSmtpServer();
  subgraph = await startTestSubgraph(messagingSubgraph, 'in-process', {
    env: {
      SMTP_URL: smtp.url,
      MAIL_LINK_SECRET: SECRET,
      PUBLIC_GATEWAY_URL: GATEWAY,
      DELIVERY_WEBHOOK_SECRET: WEBHOOK_SECRET,
      SMS_AUTH_TOKEN,
    },
  });
  origin = new URL(subgraph.service.url).origin;
});

afterAll(async () => {
  await subgraph?.dispose();
  await smtp?.stop();
});

interface DeliveryState {
  status: string;
  sent_at: Date | null;
  delivered_at: Date | null;
  opened_at: Date | null;
  clicked_at: Date | null;
  ended_at: Date | null;
  last_error: string | null;
}

interface NewDelivery {
  /** Unset: a reader who granted ANALYTICS, so opens and clicks count. */
  recipientId?: string;
  kind?: string;
  category?: string;
  channel?: 'EMAIL' | 'SMS' | 'WEB_PUSH';
  status?: string;
  address?: string;
  organizationId?: string | null;
  eventId?: string | null;
  providerMessageId?: string | null;
  createdAt?: Date;
  sent?: boolean;
  opened?: boolean;
  clicked?: boolean;
  delivered?: boolean;
}

const addressHash = createAddressHash({ NODE_ENV: 'test', MAIL_LINK_SECRET: SECRET });

/** A user whose copy of identity's consents grants ANALYTICS (opens and clicks are tracked). */
async function analyticsReader() {
  const userId = uuidv7();
  await subgraph.sql`
    insert into messaging.consents (user_id, purpose, granted, text_version, changed_at)
    values (${userId}, 'ANALYTICS', true, 'analytics/test', now())`;
  return userId;
}

/**
 * A delivery row in the state the worker and earlier webhooks would have left it (address and data
 * sealed as enqueueDeliveries seals them). Inserted directly: enqueueing gives only QUEUED rows, and
 * these tests start from every other state. Held a day, so the running worker leaves them alone.
 */
async function insertDelivery(row: NewDelivery = {}) {
  const id = uuidv7();
  const recipientId = row.recipientId ?? (await analyticsReader());
  const address = row.address ?? `reader-${id}@example.com`;
  const status = row.status ?? 'SENT';
  const createdAt = row.createdAt ?? new Date();
  const at = (flag: boolean | undefined) => (flag ? createdAt : null);
  await subgraph.sql`
    insert into messaging.deliveries (
      id, recipient_id, kind, category, critical, channel, source_event_id, address_sealed, address_hash, data_sealed,
      organization_id, event_id, status, next_attempt_at, transport, provider_message_id, created_at,
      sent_at, delivered_at, opened_at, clicked_at)
    values (
      ${id}, ${recipientId}, ${row.kind ?? 'announcement'}, ${row.category ?? 'ANNOUNCEMENTS'}, false, ${row.channel ?? 'EMAIL'},
      ${uuidv7()}, ${ring.encrypt(address, columnAad(DELIVERY_COLUMNS[0], id))},
      ${addressHash(address, row.channel ?? 'EMAIL')},
      ${ring.encrypt('{}', columnAad(DELIVERY_COLUMNS[1], id))},
      ${row.organizationId ?? null}, ${row.eventId ?? null}, ${status},
      ${new Date(Date.now() + 86_400_000)}, ${status === 'QUEUED' ? null : 'smtp'},
      ${row.providerMessageId ?? null}, ${createdAt},
      ${at(row.sent ?? status !== 'QUEUED')}, ${at(row.delivered)}, ${at(row.opened)}, ${at(row.clicked)})`;
  return id;
}

const stateOf = async (id: string) =>
  (
    await subgraph.sql<DeliveryState[]>`
      select status, sent_at, delivered_at, opened_at, clicked_at, ended_at, last_error
      from messaging.deliveries where id = ${id}`
  )[0]!;

const suppressionsOf = (id: string) =>
  subgraph.sql<Array<{ channel: string; reason: string }>>`
    select s.channel, s.reason from messaging.suppressed_addresses s
    join messaging.deliveries d on d.address_hash = s.address_hash and d.channel = s.channel
    where d.id = ${id}`;

/** A link of a decorated mail, as the gateway passes it on to the subgraph. */
const atSubgraph = (link: string) => {
  const url = new URL(link);
  expect(url.origin).toBe(GATEWAY);
  return `${origin}${url.pathname}${url.search}`;
};

const hrefsOf = (html: string) => [...html.matchAll(/href\s*=\s*"([^"]*)"/g)].map((match) => match[1]!);
const pixelOf = (html: string) => /<img src="([^"]+\/t\/o\/[^"]+)"/.exec(html)![1]!;

const UNSUBSCRIBE = `${GATEWAY}/unsubscribe?token=abc.def&x=1`;
const MAIL = `<!doctype html><html><body><div>
  <a href="https://bilten.example/events/1?utm=mail&amp;lang=bs" style="color:#123">The event</a>
  <a class="button" href = "http://tickets.example/t/9">Tickets</a>
  <a href="mailto:help@bilten.example">Help</a>
  <a href="${UNSUBSCRIBE.replace('&', '&amp;')}">Unsubscribe</a>
  <img src="https://cdn.example/logo.png" alt="logo">
  <p>Write href=&#34;https://not-a-link.example&#34; in your title</p>
</div></body></html>`;

describe('decorate', () => {
  it('routes every http(s) link but the unsubscribe one through a signed redirect and adds one pixel', () => {
    const deliveryId = uuidv7();
    const html = tracking.decorate(MAIL, deliveryId, UNSUBSCRIBE);
    const hrefs = hrefsOf(html);
    expect(hrefs).toHaveLength(4);
    expect(hrefs[0]).toMatch(new RegExp(`^${GATEWAY}/t/c/[\\w-]+\\.[\\w-]+$`));
    expect(hrefs[1]).toMatch(new RegExp(`^${GATEWAY}/t/c/[\\w-]+\\.[\\w-]+$`));
    expect(hrefs[2]).toBe('mailto:help@bilten.example');
    expect(hrefs[3]).toBe(UNSUBSCRIBE.replace('&', '&amp;'));
    // Attributes that are not links, and text that only looks like one, are left alone.
    expect(html).toContain('<img src="https://cdn.example/logo.png" alt="logo">');
    expect(html).toContain('Write href=&#34;https://not-a-link.example&#34; in your title');
    expect(html).toContain('style="color:#123"');
    expect(html.match(/\/t\/o\//g)).toHaveLength(1);
    expect(pixelOf(html)).toMatch(new RegExp(`^${GATEWAY}/t/o/${deliveryId}\\.[\\w-]+\\.gif$`));
    expect(html).toMatch(/width="1" height="1" alt=""[^>]*><\/body><\/html>$/);
    expect(tracking.clickedLink(hrefs[0]!.split('/t/c/')[1]!)).toEqual({
      deliveryId,
      url: 'https://bilten.example/events/1?utm=mail&lang=bs',
    });
  });
});

describe('click redirects', () => {
  it('redirects a signed link to the URL the reader saw and counts the first click (and an open)', async () => {
    const deliveryId = await insertDelivery();
    const [eventLink, ticketsLink] = hrefsOf(tracking.decorate(MAIL, deliveryId, UNSUBSCRIBE));

    const response = await fetch(atSubgraph(eventLink!), { redirect: 'manual' });
    expect(response.status).toBe(302);
    expect(response.headers.get('location')).toBe('https://bilten.example/events/1?utm=mail&lang=bs');
    expect(response.headers.get('cache-control')).toContain('no-store');
    const first = await stateOf(deliveryId);
    expect(first.status).toBe('CLICKED');
    expect(first.clicked_at).toBeInstanceOf(Date);
    expect(first.opened_at).toEqual(first.clicked_at);

    const again = await fetch(atSubgraph(ticketsLink!), { redirect: 'manual' });
    expect(again.status).toBe(302);
    expect(again.headers.get('location')).toBe('http://tickets.example/t/9');
    expect(await stateOf(deliveryId)).toEqual(first);
  });

  it('refuses a token whose URL or delivery was changed, an open token and a foreign one: 400, nothing counted', async () => {
    const deliveryId = await insertDelivery();
    const html = tracking.decorate(MAIL, deliveryId, UNSUBSCRIBE);
    const token = hrefsOf(html)[0]!.split('/t/c/')[1]!;
    const [, mac] = token.split('.') as [string, string];
    const body = (text: string) => Buffer.from(text).toString('base64url');
    const foreign = createEmailTracking({
      env: { NODE_ENV: 'test', MAIL_LINK_SECRET: 'another-secret-another-secret-another' },
      gateway: GATEWAY,
    });
    for (const bad of [
      `${body(`${deliveryId}|https://evil.example/phish`)}.${mac}`,
      `${body(`${uuidv7()}|https://bilten.example/events/1?utm=mail&lang=bs`)}.${mac}`,
      `${token.split('.')[0]}.${mac.slice(0, -2)}AA`,
      token.split('.')[0]!,
      pixelOf(html)
        .split('/t/o/')[1]!
        .replace(/\.gif$/, ''),
      hrefsOf(foreign.decorate(MAIL, deliveryId))[0]!.split('/t/c/')[1]!,
    ]) {
      const response = await fetch(`${origin}/t/c/${bad}`, { redirect: 'manual' });
      expect(response.status, bad).toBe(400);
      expect(response.headers.get('location')).toBeNull();
      expect(await response.text()).toBe('this link is not valid');
    }
    expect(await stateOf(deliveryId)).toMatchObject({ status: 'SENT', opened_at: null, clicked_at: null });
  });

  it('never moves an ended delivery back', async () => {
    const deliveryId = await insertDelivery({ status: 'COMPLAINED' });
    const link = hrefsOf(tracking.decorate(MAIL, deliveryId))[0]!;
    expect((await fetch(atSubgraph(link), { redirect: 'manual' })).status).toBe(302);
    expect((await stateOf(deliveryId)).status).toBe('COMPLAINED');
  });
});

describe('open pixel', () => {
  it('answers a 43-byte transparent GIF, uncached, and counts the first open only', async () => {
    const deliveryId = await insertDelivery({ status: 'DELIVERED', delivered: true });
    const pixel = atSubgraph(pixelOf(tracking.decorate(MAIL, deliveryId)));

    const response = await fetch(pixel);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('image/gif');
    expect(response.headers.get('cache-control')).toContain('no-store');
    const image = Buffer.from(await response.arrayBuffer());
    expect(image).toHaveLength(43);
    expect(image.subarray(0, 6).toString()).toBe('GIF89a');
    const opened = await stateOf(deliveryId);
    expect(opened.status).toBe('OPENED');
    expect(opened.opened_at).toBeInstanceOf(Date);

    await fetch(pixel);
    expect(await stateOf(deliveryId)).toEqual(opened);
  });

  it('keeps CLICKED when opened later; a forged pixel gets the same image and counts nothing', async () => {
    const clicked = await insertDelivery({ status: 'CLICKED', opened: true, clicked: true });
    await fetch(atSubgraph(pixelOf(tracking.decorate(MAIL, clicked))));
    expect((await stateOf(clicked)).status).toBe('CLICKED');

    const deliveryId = await insertDelivery();
    const forged = pixelOf(tracking.decorate(MAIL, deliveryId)).replace(/\.([\w-]+)\.gif$/, '.AAAA$1.gif');
    const response = await fetch(atSubgraph(forged));
    expect(response.status).toBe(200);
    expect(Buffer.from(await response.arrayBuffer())).toHaveLength(43);
    const unsigned = await fetch(`${origin}/t/o/${deliveryId}.gif`);
    expect(unsigned.status).toBe(200);
    expect(await stateOf(deliveryId)).toMatchObject({ status: 'SENT', opened_at: null });
  });
});

/** Signs as the email provider does: `t=<unix>,v1=<hex HMAC-SHA256 of "t.body">`. */
const providerSignature = (body: string, secret = WEBHOOK_SECRET, at = Math.floor(Date.now() / 1000)) =>
  `t=${at},v1=${createHmac('sha256', secret).update(`${at}.${body}`).digest('hex')}`;

const postEmailEvents = (body: string, signature?: string) =>
  fetch(`${origin}/webhooks/email`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(signature ? { 'bilten-signature': signature } : {}) },
    body,
  });

describe('email provider webhook', () => {
  it('applies delivered, hard and soft bounces and complaints; suppresses bounced and complaining addresses', async () => {
    const ids = { delivered: '', bounced: '', soft: '', complained: '' };
    for (const name of Object.keys(ids) as Array<keyof typeof ids>)
      ids[name] = await insertDelivery({ providerMessageId: `<${name}-${uuidv7()}@bilten.local>` });
    const messageIdOf = async (id: string) =>
      (
        await subgraph.sql<Array<{ provider_message_id: string }>>`
        select provider_message_id from messaging.deliveries where id = ${id}`
      )[0]!.provider_message_id;
    const body = JSON.stringify({
      events: [
        { type: 'delivered', messageId: await messageIdOf(ids.delivered), at: '2026-01-02T03:04:05Z' },
        // Without the angle brackets, as some providers send it.
        { type: 'bounce', permanent: true, messageId: (await messageIdOf(ids.bounced)).slice(1, -1) },
        { type: 'bounce', permanent: false, messageId: await messageIdOf(ids.soft) },
        { type: 'complaint', messageId: await messageIdOf(ids.complained) },
        { type: 'delivered', messageId: '<someone-elses@example.com>' },
      ],
    });

    const response = await postEmailEvents(body, providerSignature(body));
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ received: 5, applied: 4, ignored: 1 });

    expect(await stateOf(ids.delivered)).toMatchObject({
      status: 'DELIVERED',
      delivered_at: new Date('2026-01-02T03:04:05Z'),
    });
    expect(await stateOf(ids.bounced)).toMatchObject({ status: 'BOUNCED', ended_at: expect.any(Date) });
    expect(await suppressionsOf(ids.bounced)).toEqual([{ channel: 'EMAIL', reason: 'BOUNCE' }]);
    expect(await stateOf(ids.soft)).toMatchObject({
      status: 'SENT',
      last_error: expect.stringContaining('soft'),
    });
    expect(await suppressionsOf(ids.soft)).toEqual([]);
    expect(await stateOf(ids.complained)).toMatchObject({ status: 'COMPLAINED' });
    expect(await suppressionsOf(ids.complained)).toEqual([{ channel: 'EMAIL', reason: 'COMPLAINT' }]);

    // Delivered again after the bounce, or redelivered: an ended delivery stays ended.
    const late = JSON.stringify({
      events: [{ type: 'delivered', messageId: await messageIdOf(ids.bounced) }],
    });
    expect((await postEmailEvents(late, providerSignature(late))).status).toBe(200);
    expect((await stateOf(ids.bounced)).status).toBe('BOUNCED');
  });

  it('refuses bad, stale, missing and foreign signatures with 401, and malformed events with 400, changing nothing', async () => {
    const messageId = `<refused-${uuidv7()}@bilten.local>`;
    const deliveryId = await insertDelivery({ providerMessageId: messageId });
    const body = JSON.stringify({ events: [{ type: 'bounce', permanent: true, messageId }] });
    const now = Math.floor(Date.now() / 1000);
    for (const signature of [
      providerSignature(body, 'whsec_someone_else'),
      providerSignature(body, WEBHOOK_SECRET, now - 301),
      providerSignature(body, WEBHOOK_SECRET, now + 301),
      providerSignature(`${body} `),
      `t=${now}`,
      'garbage',
      undefined,
    ]) {
      const response = await postEmailEvents(body, signature);
      expect(response.status, signature).toBe(401);
    }
    const malformed = JSON.stringify({ events: [{ type: 'opened', messageId }] });
    expect((await postEmailEvents(malformed, providerSignature(malformed))).status).toBe(400);
    expect((await postEmailEvents('{', providerSignature('{'))).status).toBe(400);
    expect((await stateOf(deliveryId)).status).toBe('SENT');
    expect(await suppressionsOf(deliveryId)).toEqual([]);
    // A signature four minutes old is still in time.
    expect((await postEmailEvents(body, providerSignature(body, WEBHOOK_SECRET, now - 240))).status).toBe(
      200,
    );
    expect((await stateOf(deliveryId)).status).toBe('BOUNCED');
  });

  it('is refused while no webhook secret is configured', async () => {
    const { log } = captureLogs('webhooks-unconfigured');
    const database = connectDatabase({ url: subgraph.database.url, applicationName: 'engagement-test' });
    const app = Fastify();
    registerDeliveryWebhooks(app, { db: database.db, config: { PUBLIC_GATEWAY_URL: GATEWAY }, log });
    try {
      const body = JSON.stringify({ events: [] });
      const email = await app.inject({
        method: 'POST',
        url: '/webhooks/email',
        headers: { 'content-type': 'application/json', 'bilten-signature': providerSignature(body, '') },
        body,
      });
      expect(email.statusCode).toBe(503);
      const sms = await app.inject({ method: 'POST', url: '/webhooks/sms', body: 'MessageSid=SM1' });
      expect(sms.statusCode).toBe(503);
    } finally {
      await app.close();
      await database.close();
    }
  });
});

/**
 * Twilio's documented request validation: base64 HMAC-SHA1 with the auth token over the URL and
 * then each POST parameter, sorted by name, name and value appended.
 */
const twilioSignature = (authToken: string, url: string, params: Record<string, string>) =>
  createHmac('sha1', authToken)
    .update(
      Object.keys(params)
        .sort()
        .reduce((text, name) => text + name + params[name], url),
    )
    .digest('base64');

const SMS_WEBHOOK = `${GATEWAY}/webhooks/sms`;
const postSmsStatus = (params: Record<string, string>, signature: string) =>
  fetch(`${origin}/webhooks/sms`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': signature },
    body: new URLSearchParams(params).toString(),
  });

describe('SMS status callback (Twilio)', () => {
  it('computes the signature of Twilio’s documented example', () => {
    expect(
      twilioSignature('12345', 'https://mycompany.com/myapp.php?foo=1&bar=2', {
        CallSid: 'CA1234567890ABCDE',
        Caller: '+14158675309',
        Digits: '1234',
        From: '+14158675309',
        To: '+18005551212',
      }),
    ).toBe('RSOYDt4T1cUTdK1PDd93/VVr8B8=');
  });

  it('marks delivered, and suppresses a number Twilio calls invalid', async () => {
    const deliveredSid = `SM${uuidv7().replaceAll('-', '')}`;
    const invalidSid = `SM${uuidv7().replaceAll('-', '')}`;
    const delivered = await insertDelivery({ channel: 'SMS', providerMessageId: deliveredSid });
    const invalid = await insertDelivery({ channel: 'SMS', providerMessageId: invalidSid });

    const deliveredParams = {
      MessageSid: deliveredSid,
      MessageStatus: 'delivered',
      AccountSid: 'AC1',
      To: '+38761000000',
    };
    const ok = await postSmsStatus(
      deliveredParams,
      twilioSignature(SMS_AUTH_TOKEN, SMS_WEBHOOK, deliveredParams),
    );
    expect(ok.status).toBe(200);
    expect(await ok.text()).toBe('applied');
    expect(await stateOf(delivered)).toMatchObject({ status: 'DELIVERED', delivered_at: expect.any(Date) });

    const failedParams = { MessageSid: invalidSid, MessageStatus: 'undelivered', ErrorCode: '21211' };
    const failed = await postSmsStatus(
      failedParams,
      twilioSignature(SMS_AUTH_TOKEN, SMS_WEBHOOK, failedParams),
    );
    expect(failed.status).toBe(200);
    expect(await stateOf(invalid)).toMatchObject({
      status: 'FAILED',
      last_error: expect.stringContaining('21211'),
    });
    expect(await suppressionsOf(invalid)).toEqual([{ channel: 'SMS', reason: 'INVALID_NUMBER' }]);

    const unknown = { MessageSid: 'SMnotours', MessageStatus: 'delivered' };
    const ignored = await postSmsStatus(unknown, twilioSignature(SMS_AUTH_TOKEN, SMS_WEBHOOK, unknown));
    expect(await ignored.text()).toBe('ignored');
  });

  it('refuses a bad signature with 401 and changes nothing', async () => {
    const sid = `SM${uuidv7().replaceAll('-', '')}`;
    const deliveryId = await insertDelivery({ channel: 'SMS', providerMessageId: sid });
    const params = { MessageSid: sid, MessageStatus: 'failed', ErrorCode: '21614' };
    for (const signature of [
      twilioSignature('another-auth-token', SMS_WEBHOOK, params),
      // Signed for the subgraph's own address, not the public one Twilio calls.
      twilioSignature(SMS_AUTH_TOKEN, `${origin}/webhooks/sms`, params),
      twilioSignature(SMS_AUTH_TOKEN, SMS_WEBHOOK, { ...params, ErrorCode: '30003' }),
      '',
    ]) {
      expect((await postSmsStatus(params, signature)).status).toBe(401);
    }
    expect((await stateOf(deliveryId)).status).toBe('SENT');
    expect(await suppressionsOf(deliveryId)).toEqual([]);
  });
});

const STATS = `query($filter: NotificationStatsFilter!) {
  notificationStats(filter: $filter) {
    queued sent delivered opened clicked bounced complained failed suppressed openRate clickRate bounceRate
  }
}`;

describe('notificationStats', () => {
  it('counts an organization’s deliveries by the state each reached, with rates over sent', async () => {
    const organizationId = uuidv7();
    const eventId = uuidv7();
    const base = { organizationId, eventId };
    const rows: NewDelivery[] = [
      { status: 'QUEUED' },
      { status: 'SENT' },
      { status: 'SENT' },
      { status: 'DELIVERED', delivered: true },
      { status: 'OPENED', delivered: true, opened: true },
      { status: 'OPENED', opened: true },
      { status: 'CLICKED', opened: true, clicked: true },
      { status: 'BOUNCED' },
      { status: 'COMPLAINED', opened: true },
      { status: 'FAILED', sent: false },
      { status: 'SUPPRESSED', sent: false },
      // Not counted for the organizer: account-level mail, another event's SMS, too old.
      { status: 'SENT', kind: 'receipt', category: 'TRANSACTIONAL' },
      { status: 'SENT', channel: 'SMS', kind: 'eventReminder', category: 'EVENT_UPDATES', eventId: uuidv7() },
      { status: 'SENT', createdAt: new Date('2020-01-01T00:00:00Z') },
    ];
    for (const row of rows) await insertDelivery({ ...base, ...row });
    await insertDelivery({ organizationId: uuidv7(), status: 'SENT' });

    const admin = await subgraph.bearer({ orgs: { [organizationId]: 'ADMIN' } });
    const stats = async (filter: Record<string, unknown>, headers = admin) => {
      const { data, errors } = await subgraph.gql<{ notificationStats: Record<string, number> }>(
        STATS,
        { filter },
        headers,
      );
      expect(errors).toBeUndefined();
      return data!.notificationStats;
    };

    const window = { organizationId, from: '2026-01-01T00:00:00Z', to: '2099-01-01T00:00:00Z' };
    expect(await stats({ ...window, kind: 'ANNOUNCEMENT' })).toEqual({
      queued: 1,
      sent: 8,
      delivered: 5,
      opened: 4,
      clicked: 1,
      bounced: 1,
      complained: 1,
      failed: 1,
      suppressed: 1,
      openRate: 0.5,
      clickRate: 0.125,
      bounceRate: 0.125,
    });
    // Without a period, the old one counts too; the reminder SMS is an event update of its own event.
    expect((await stats({ organizationId })).sent).toBe(10);
    expect((await stats({ organizationId, channel: 'SMS' })).sent).toBe(1);
    expect((await stats({ organizationId, eventId })).sent).toBe(9);
    expect(await stats({ organizationId, kind: 'EVENT_PUBLISHED' })).toMatchObject({ sent: 0, openRate: 0 });

    // Platform ADMINs see everything, the organization's receipts too.
    const platformAdmin = await subgraph.bearer({ roles: ['ADMIN'] });
    expect((await stats({ organizationId }, platformAdmin)).sent).toBe(11);
  });

  it('is FORBIDDEN to another organization’s ADMIN, to STAFF and without an organization; bad filters are BAD_USER_INPUT', async () => {
    const organizationId = uuidv7();
    const refused = async (filter: Record<string, unknown>, claims: Record<string, unknown>) => {
      const { data, errors } = await subgraph.gql(STATS, { filter }, await subgraph.bearer(claims));
      expect(data).toBeNull();
      return errors![0]!.extensions!.code;
    };
    expect(await refused({ organizationId }, { orgs: { [uuidv7()]: 'ADMIN' } })).toBe('FORBIDDEN');
    expect(await refused({ organizationId }, { orgs: { [organizationId]: 'STAFF' } })).toBe('FORBIDDEN');
    expect(await refused({}, { orgs: { [organizationId]: 'OWNER' } })).toBe('FORBIDDEN');
    const owner = { orgs: { [organizationId]: 'OWNER' } };
    expect(
      await refused({ organizationId, from: '2026-02-01T00:00:00Z', to: '2026-01-01T00:00:00Z' }, owner),
    ).toBe('BAD_USER_INPUT');
    expect(await refused({ organizationId, eventId: 'not-an-id' }, owner)).toBe('BAD_USER_INPUT');
    const anonymous = await subgraph.gql(STATS, { filter: { organizationId } });
    expect(anonymous.errors![0]!.extensions!.code).toBe('UNAUTHENTICATED');
  });
});

describe('a mail sent by the delivery worker', () => {
  it('carries tracked links and a pixel that count, and its bounce stops the next mail to the address', async () => {
    const database = connectDatabase({ url: subgraph.database.url, applicationName: 'engagement-test' });
    const address = `follower-${uuidv7()}@example.com`;
    const recipientId = await analyticsReader();
    const announcement = (subject: string) => ({
      kind: 'announcement' as const,
      channel: 'EMAIL' as const,
      locale: 'en',
      sourceEventId: uuidv7(),
      recipientId,
      address,
      organizationId: uuidv7(),
      eventId: uuidv7(),
      data: {
        recipient: { name: 'Amra' },
        event: { id: uuidv7(), title: 'Jazz Night', url: 'https://bilten.example/events/jazz?from=mail&x=1' },
        organizer: { name: 'Kino Meeting Point' },
        subject,
        body: 'Doors open at eight.',
      },
    });
    const enqueue = (subject: string) =>
      database.db.transaction((tx) =>
        enqueueDeliveries(
          tx,
          { ring, keys: messagingKeysFromEnv(database.db, { NODE_ENV: 'test' }), addressHash },
          [announcement(subject)],
        ),
      );
    try {
      await enqueue('Doors at eight');
      const mail = await smtp.waitForMessage((received) => received.envelope.to.includes(address));
      const html = String(mail.parsed.html);
      const links = hrefsOf(html).filter((href) => href.startsWith(`${GATEWAY}/t/c/`));
      expect(links.length).toBeGreaterThan(0);
      // The unsubscribe link stays as it is: RFC 8058 clients and readers must reach it directly.
      expect(hrefsOf(html).some((href) => href.startsWith(`${GATEWAY}/unsubscribe?token=`))).toBe(true);
      // The worker records SENT after the SMTP server's 250, which may come after the mail has arrived.
      const delivery = await waitFor(async () => {
        const [row] = await subgraph.sql<Array<{ id: string; status: string; provider_message_id: string }>>`
          select id, status, provider_message_id from messaging.deliveries
          where provider_message_id = ${mail.parsed.messageId!}`;
        return row;
      });
      expect(delivery.status).toBe('SENT');

      await fetch(atSubgraph(pixelOf(html)));
      expect((await stateOf(delivery.id)).status).toBe('OPENED');
      const eventLink = links.find((link) =>
        tracking.clickedLink(link.split('/t/c/')[1]!)?.url.startsWith('https://bilten.example/events/jazz'),
      )!;
      const click = await fetch(atSubgraph(eventLink), { redirect: 'manual' });
      expect(click.status).toBe(302);
      expect(click.headers.get('location')).toBe('https://bilten.example/events/jazz?from=mail&x=1');
      expect((await stateOf(delivery.id)).status).toBe('CLICKED');

      const bounce = JSON.stringify({
        events: [{ type: 'bounce', permanent: true, messageId: delivery.provider_message_id }],
      });
      expect((await postEmailEvents(bounce, providerSignature(bounce))).status).toBe(200);
      expect(await suppressionsOf(delivery.id)).toEqual([{ channel: 'EMAIL', reason: 'BOUNCE' }]);

      // The next announcement to the bounced address is not sent.
      await enqueue('Second set at ten');
      const next = await waitFor(async () => {
        const [row] = await subgraph.sql<Array<{ status: string }>>`
          select status from messaging.deliveries
          where address_hash = ${addressHash(address, 'EMAIL')} and id <> ${delivery.id}`;
        return row && row.status !== 'QUEUED' && row.status;
      });
      expect(next).toBe('SUPPRESSED');
      expect(smtp.messages.filter((received) => received.envelope.to.includes(address))).toHaveLength(1);
    } finally {
      await database.close();
    }
  });
});
