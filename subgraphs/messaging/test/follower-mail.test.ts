import { randomBytes } from 'node:crypto';
import { eventPublished } from '@bilten/contracts/catalog';
import { organizationCreated, userEmailChanged, userRegistered } from '@bilten/contracts/identity';
import { type DomainEvent, newEvent } from '@bilten/platform';
import {
  type ReceivedMail,
  startTestSmtpServer,
  startTestSubgraph,
  TEST_NATS_URL,
  type TestSmtpServer,
  type TestSubgraph,
  testLinkTokens,
  waitFor,
} from '@bilten/testkit';
import { type JetStreamManager, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { v7 as uuidv7 } from 'uuid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAddressHash } from '../src/adapters/address-hash.ts';
import { RECIPIENT_EMAIL_COLUMN } from '../src/db/schema.ts';
import { displayNameOf, emailOf } from '../src/domain/recipients.ts';
import { encryptedColumns, messagingSubgraph } from '../src/server.ts';
import { consumerCaughtUp, knownOrganization, testPersonKeys } from './support.ts';

const DATA_KEY = `k1:${randomBytes(32).toString('base64')}`;
const GATEWAY = 'https://gateway.example';
const WEB = 'https://web.example';

let smtp: TestSmtpServer;
let subgraph: TestSubgraph;
let origin: string;
let nats: NatsConnection;
let jsm: JetStreamManager;
let person: ReturnType<typeof testPersonKeys>;

beforeAll(async () => {
  smtp = await startTestSmtpServer();
  subgraph = await startTestSubgraph(messagingSubgraph, 'jetstream', {
    env: {
      SMTP_URL: smtp.url,
      PUBLIC_GATEWAY_URL: GATEWAY,
      PUBLIC_WEB_URL: WEB,
      DATA_ENCRYPTION_KEYS: DATA_KEY,
    },
  });
  origin = new URL(subgraph.service.url).origin;
  nats = await connect({ servers: TEST_NATS_URL });
  jsm = await jetstreamManager(nats);
  person = testPersonKeys(subgraph.database.url);
});

afterAll(async () => {
  await person?.close();
  await nats?.close();
  await subgraph?.dispose();
  await smtp?.stop();
});

const caughtUp = (consumer: string) => consumerCaughtUp(jsm, subgraph, consumer);

const newAddress = () => `${uuidv7()}@example.test`;
/** The event as identity would have published it at `occurredAt`. */
const at = <T>(event: DomainEvent<T>, occurredAt: Date): DomainEvent<T> => ({
  ...event,
  occurredAt: occurredAt.toISOString(),
});

function registration(userId: string, email: string, displayName = 'Lejla Kovač') {
  return newEvent(userRegistered, userId, 1, {
    userId,
    email,
    displayName,
    sealedToken: testLinkTokens.seal(`v-${uuidv7()}`, userId),
    expiresAt: new Date(Date.now() + 86_400_000).toISOString(),
  });
}
const emailChange = (userId: string, email: string) =>
  newEvent(userEmailChanged, userId, 2, { userId, email });

/** The book's row as stored, and opened with the user's key. */
async function bookEntry(userId: string) {
  const [row] = await subgraph.sql<Array<{ email_sealed: string; display_name_sealed: string | null }>>`
    select email_sealed, display_name_sealed from messaging.recipients where user_id = ${userId}`;
  if (!row) return undefined;
  const stored = { userId, emailSealed: row.email_sealed, displayNameSealed: row.display_name_sealed };
  return {
    ...row,
    email: await emailOf(person.db, person.keys, stored),
    display_name: await displayNameOf(person.db, person.keys, stored),
  };
}

/** Registers `userId` in the book through identity's event. */
async function register(userId: string, email: string, displayName?: string) {
  await subgraph.testBus.bus.publish(registration(userId, email, displayName));
  await caughtUp('recipient-book-registered');
}

describe('the recipient address book', () => {
  it('keeps the registered address and name sealed under the user’s key, bound to its user', async () => {
    const userId = uuidv7();
    const email = newAddress();
    await register(userId, email, 'Lejla Kovač');
    const row = (await bookEntry(userId))!;
    expect(row.email_sealed).not.toContain(email.split('@')[0]);
    expect(row.email_sealed.startsWith('p1.')).toBe(true);
    expect(row.display_name_sealed!.startsWith('p1.')).toBe(true);
    expect(row.email).toBe(email);
    expect(row.display_name).toBe('Lejla Kovač');
    // Moved to another user's row, it does not decrypt.
    await expect(
      emailOf(person.db, person.keys, { userId: uuidv7(), emailSealed: row.email_sealed }),
    ).rejects.toThrow();
    // Per-person keys rotate by re-wrapping: `keys:rotate` leaves the book alone.
    expect(encryptedColumns).not.toContainEqual(RECIPIENT_EMAIL_COLUMN);
  });

  it('follows a confirmed change, and an older event arriving late never brings an old address back', async () => {
    const userId = uuidv7();
    const [first, second, third] = [newAddress(), newAddress(), newAddress()];
    const t0 = new Date(Date.now() - 60_000);
    // The change reaches messaging before the registration it follows.
    await subgraph.testBus.bus.publish(at(emailChange(userId, second), new Date(t0.getTime() + 1000)));
    await caughtUp('recipient-book-email-changed');
    expect((await bookEntry(userId))!.display_name).toBeNull();
    await subgraph.testBus.bus.publish(at(registration(userId, first, 'Mirza Begić'), t0));
    await caughtUp('recipient-book-registered');
    let row = (await bookEntry(userId))!;
    expect(row.email).toBe(second);
    // The registration still brings the name.
    expect(row.display_name).toBe('Mirza Begić');

    await subgraph.testBus.bus.publish(at(emailChange(userId, third), new Date(t0.getTime() + 3000)));
    await subgraph.testBus.bus.publish(at(emailChange(userId, first), new Date(t0.getTime() + 2000)));
    await caughtUp('recipient-book-email-changed');
    row = (await bookEntry(userId))!;
    expect(row.email).toBe(third);
    expect(row.display_name).toBe('Mirza Begić');
  });
});

// ---------------------------------------------------------------- event published → follower mail

const as = (userId: string) => subgraph.bearer({ sub: userId });
async function gqlOk<T>(query: string, variables: Record<string, unknown>, userId: string) {
  const { data, errors } = await subgraph.gql<T>(query, variables, await as(userId));
  expect(errors).toBeUndefined();
  return data!;
}
const follow = (userId: string, organizationId: string) =>
  gqlOk(
    `mutation($input: FollowOrganizationInput!) { followOrganization(input: $input) { following } }`,
    { input: { organizationId } },
    userId,
  );
const turnOff = (userId: string, channel: string) =>
  gqlOk(
    `mutation($input: UpdateNotificationPreferencesInput!) {
      updateNotificationPreferences(input: $input) { errors { code } } }`,
    { input: { categories: [{ category: 'EVENT_UPDATES', channels: [{ channel, enabled: false }] }] } },
    userId,
  );
async function eventUpdatesOf(userId: string) {
  const data = await gqlOk<{
    myNotificationPreferences: { categories: Array<{ category: string; enabledChannels: string[] }> };
  }>(`{ myNotificationPreferences { categories { category enabledChannels } } }`, {}, userId);
  return data.myNotificationPreferences.categories.find((entry) => entry.category === 'EVENT_UPDATES')!
    .enabledChannels;
}

function published(organizationId: string, title: string) {
  const eventId = uuidv7();
  return newEvent(eventPublished, eventId, 1, {
    eventId,
    organizationId,
    title,
    visibility: 'PUBLIC',
    startsAt: '2027-05-14T18:30:00.000Z',
    endsAt: '2027-05-14T22:00:00.000Z',
    timezone: 'Europe/Sarajevo',
    venue: null,
    onlineUrl: null,
  });
}
const inAppRecipients = async (eventId: string) =>
  (
    await subgraph.sql<Array<{ recipient_id: string }>>`
      select recipient_id from messaging.notifications where source_event_id = ${eventId}`
  )
    .map((row) => row.recipient_id)
    .sort();
/** The follower mails `address` got (the registration also sends it a verification mail). */
const mailsTo = (address: string) =>
  smtp.messages.filter(
    (mail) => mail.envelope.to.includes(address) && headerOf(mail, 'List-Unsubscribe') !== undefined,
  );

/** A header as it crossed the wire, unfolded. */
function headerOf(mail: ReceivedMail, name: string): string | undefined {
  const line = mail.parsed.headerLines.find((header) => header.key === name.toLowerCase())?.line;
  return line
    ?.replace(/\r?\n[ \t]+/g, ' ')
    .slice(name.length + 1)
    .trim();
}
/** What a mail client does for RFC 8058: POST the header's link, no cookies, no redirects followed. */
const oneClick = (link: string) => {
  const url = new URL(link);
  expect(url.origin).toBe(GATEWAY);
  // The gateway passes `/unsubscribe` on unchanged (gateway/src/unsubscribe.ts); here the subgraph answers.
  return fetch(`${origin}${url.pathname}${url.search}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: 'List-Unsubscribe=One-Click',
    redirect: 'manual',
  });
};

describe('event published → follower email', () => {
  it('mails each follower with EVENT_UPDATES email on once, with one-click unsubscribe that works', async () => {
    const organizationId = uuidv7();
    await subgraph.testBus.bus.publish(
      newEvent(organizationCreated, organizationId, 1, {
        organizationId,
        name: 'Kino <Meeting> Point',
        slug: `kino-${uuidv7().slice(-6)}`,
        testMode: false,
      }),
    );
    await caughtUp('organization-names-created');
    const [mailed, noEmail, noAddress] = [uuidv7(), uuidv7(), uuidv7()];
    const [mailedAddress, quietAddress] = [newAddress(), newAddress()];
    await register(mailed, mailedAddress, 'Amra Hadžić');
    await register(noEmail, quietAddress);
    for (const userId of [mailed, noEmail, noAddress]) await follow(userId, organizationId);
    await turnOff(noEmail, 'EMAIL');

    const event = published(organizationId, 'Sarajevo <Film> Night');
    await subgraph.testBus.bus.publish(event);
    await caughtUp('event-published-followers');
    // The follow-up mail is sent by the delivery worker once the workflow committed.
    await waitFor(async () => mailsTo(mailedAddress).length > 0);

    const [mail, ...more] = mailsTo(mailedAddress);
    expect(more).toHaveLength(0);
    expect(mailsTo(quietAddress)).toHaveLength(0);
    // Everyone still gets the in-app one, with or without an address or email.
    expect(await inAppRecipients(event.id)).toEqual([mailed, noEmail, noAddress].sort());

    expect(mail!.parsed.subject).toBe('New from Kino <Meeting> Point: Sarajevo <Film> Night');
    expect(mail!.parsed.text).toContain('Hello Amra Hadžić,');
    expect(mail!.parsed.text).toContain(`${WEB}/events/${event.payload.eventId}`);
    expect(mail!.parsed.text).toContain('on Friday, 14 May 2027 at 20:30 (Europe/Sarajevo)');
    expect(mail!.parsed.html).toContain('Sarajevo &lt;Film&gt; Night');
    expect(mail!.parsed.html).not.toContain('<Film>');
    const header = headerOf(mail!, 'List-Unsubscribe')!;
    expect(header).toMatch(/^<https:\/\/gateway\.example\/unsubscribe\?token=[^>\s]+>$/);
    expect(headerOf(mail!, 'List-Unsubscribe-Post')).toBe('List-Unsubscribe=One-Click');
    const link = header.slice(1, -1);
    // The same link, visible in both parts.
    expect(mail!.parsed.text).toContain(`Unsubscribe from these emails:\n${link}`);
    expect(mail!.parsed.html).toContain(`href="${link.replaceAll('&', '&amp;')}"`);

    // A tampered link changes nothing.
    const tampered = `${link.slice(0, -2)}${link.endsWith('AA') ? 'BB' : 'AA'}`;
    expect((await oneClick(tampered)).status).toBe(400);
    expect(await eventUpdatesOf(mailed)).toContain('EMAIL');

    const response = await oneClick(link);
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('You are unsubscribed from event update emails.');
    // Exactly that category and channel.
    expect(await eventUpdatesOf(mailed)).toEqual(expect.not.arrayContaining(['EMAIL']));
    expect(await eventUpdatesOf(mailed)).toContain('IN_APP');

    const next = published(organizationId, 'Another night');
    await subgraph.testBus.bus.publish(next);
    await caughtUp('event-published-followers');
    expect(await inAppRecipients(next.id)).toContain(mailed);
    expect(mailsTo(mailedAddress)).toHaveLength(1);
    expect(await inAppRecipients(next.id)).toContain(mailed);
  });

  it('mails the address the book holds now, and names no organizer it has not heard of', async () => {
    const organizationId = uuidv7();
    const userId = uuidv7();
    const [old, current] = [newAddress(), newAddress()];
    await register(userId, old);
    await subgraph.testBus.bus.publish(emailChange(userId, current));
    await caughtUp('recipient-book-email-changed');
    // A follow from before following needed an organization messaging knows.
    await subgraph.sql`insert into messaging.follows (user_id, organization_id) values (${userId}, ${organizationId})`;
    await subgraph.testBus.bus.publish(published(organizationId, 'Open air'));
    const mail = await smtp.waitForMessage((received) => received.envelope.to.includes(current));
    expect(mail.parsed.subject).toBe('New event: Open air');
    await caughtUp('event-published-followers');
    expect(mailsTo(old)).toHaveLength(0);
  });
});

describe('the per-recipient hourly limit', () => {
  it('holds for follower mails too', async () => {
    const organizationId = await knownOrganization(jsm, subgraph);
    const userId = uuidv7();
    const email = newAddress();
    await register(userId, email);
    await follow(userId, organizationId);
    // Ten mails sent to the address this hour already (any kind): the limit.
    const addressHash = createAddressHash({ NODE_ENV: 'test' })(email, 'EMAIL');
    await subgraph.sql`
      insert into messaging.deliveries (id, kind, category, critical, channel, source_event_id, address_sealed,
        address_hash, data_sealed, status, sent_at)
      select gen_random_uuid(), 'passwordReset', 'ACCOUNT_SECURITY', true, 'EMAIL', gen_random_uuid(), 'x',
        ${addressHash}, 'x', 'SENT', now() from generate_series(1, 10)`;
    const event = published(organizationId, 'One too many');
    await subgraph.testBus.bus.publish(event);
    const [held] = await waitFor(async () => {
      const rows = await subgraph.sql<Array<{ id: string; status: string; last_error: string | null }>>`
        select id, status, last_error from messaging.deliveries
        where source_event_id = ${event.id} and channel = 'EMAIL' and status <> 'QUEUED'`;
      return rows.length > 0 && rows;
    });
    expect(held).toMatchObject({ status: 'FAILED', last_error: 'rate limited' });
    expect(mailsTo(email)).toHaveLength(0);
    expect(
      subgraph.logs.filter(
        (line) =>
          line.deliveryId === held!.id &&
          line.msg === 'mail not sent: its recipient had the most mails an hour allows',
      ),
    ).toHaveLength(1);
  });
});
