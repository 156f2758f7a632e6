import { createECDH, createPublicKey, type ECDH, randomBytes, verify } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { columnAad, connectDatabase, keyRingFromEnv } from '@bilten/platform';
import {
  captureLogs,
  startTestSmtpServer,
  startTestSubgraph,
  type TestSmtpServer,
  type TestSubgraph,
  type UserError,
  waitFor,
} from '@bilten/testkit';
import { v7 as uuidv7 } from 'uuid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import webpush from 'web-push';
import { createAddressHash } from '../src/adapters/address-hash.ts';
import { createSmsSender, SMS_MAX_LENGTH } from '../src/adapters/sms.ts';
import { createPushSender } from '../src/adapters/web-push.ts';
import { messagingKeysFromEnv, sealFor } from '../src/db/person-keys.ts';
import { upsertRecipient } from '../src/db/recipients.ts';
import { RECIPIENT_EMAIL_COLUMN } from '../src/db/schema.ts';
import { type DataOf, DeliveryFailure } from '../src/domain/channels.ts';
import { enqueueDeliveries } from '../src/domain/deliveries.ts';
import { pushEndpointProblem } from '../src/domain/push-subscriptions.ts';
import { messagingSubgraph } from '../src/server.ts';

/** RFC 8188 decryption, to read what a browser would (http_ece ships no types). */
const ece = createRequire(import.meta.url)('http_ece') as {
  decrypt(body: Buffer, params: { version: 'aes128gcm'; privateKey: ECDH; authSecret: string }): Buffer;
};

const vapid = webpush.generateVAPIDKeys();
/** The development key ring the subgraph uses in tests (no DATA_ENCRYPTION_KEYS). */
const ring = keyRingFromEnv({ NODE_ENV: 'test' });
const VAPID_SUBJECT = 'mailto:push-test@bilten.local';

interface Received {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: Buffer;
}

/** A real HTTP server on a free port that records every request and answers with `answer`. */
async function startRecordingServer(answer: (request: Received) => { status: number; body?: unknown }) {
  const received: Received[] = [];
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const entry = {
        method: request.method!,
        url: request.url!,
        headers: request.headers,
        body: Buffer.concat(chunks),
      };
      received.push(entry);
      const { status, body } = answer(entry);
      response.writeHead(status, { 'content-type': 'application/json' });
      response.end(body === undefined ? '' : JSON.stringify(body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, received, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

/** A browser's subscription keys: its P-256 key pair and auth secret, as PushSubscription.toJSON() gives them. */
function browserKeys() {
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  const auth = randomBytes(16).toString('base64url');
  return { ecdh, keys: { p256dh: ecdh.getPublicKey('base64url'), auth } };
}

/** The push service's status for each path of the local push service. */
const PUSH_ANSWERS: Record<string, number> = {
  '/ok': 201,
  '/gone': 410,
  '/missing': 404,
  '/busy': 503,
  '/slow-down': 429,
  '/too-big': 413,
};

const rejection = async (promise: Promise<unknown>): Promise<DeliveryFailure> => {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(DeliveryFailure);
  return error as DeliveryFailure;
};

describe('web push sender', () => {
  let pushService: Awaited<ReturnType<typeof startRecordingServer>>;
  const sender = createPushSender({
    VAPID_PUBLIC_KEY: vapid.publicKey,
    VAPID_PRIVATE_KEY: vapid.privateKey,
    VAPID_SUBJECT,
  });

  beforeAll(async () => {
    pushService = await startRecordingServer(({ url }) => ({ status: PUSH_ANSWERS[url] ?? 400 }));
  });
  afterAll(() => pushService?.close());

  it('sends the payload encrypted to the browser key, signed with our VAPID key', async () => {
    const browser = browserKeys();
    const message = {
      title: 'Doors open at 19:00',
      body: 'Sarajevo Film Festival — Kino Meeting Point',
      url: 'https://bilten.local/e/1',
    };

    const sent = await sender.send({ endpoint: `${pushService.url}/ok`, keys: browser.keys }, message, {
      ttlSeconds: 3600,
      urgency: 'high',
    });

    expect(sent.transport).toBe('web-push');
    const request = pushService.received.at(-1)!;
    expect(request).toMatchObject({ method: 'POST', url: '/ok' });
    expect(request.headers).toMatchObject({ ttl: '3600', urgency: 'high', 'content-encoding': 'aes128gcm' });
    const decrypted = ece.decrypt(request.body, {
      version: 'aes128gcm',
      privateKey: browser.ecdh,
      authSecret: browser.keys.auth,
    });
    expect(JSON.parse(decrypted.toString('utf8'))).toEqual(message);

    // RFC 8292: `vapid t=<JWT>, k=<our public key>`, the JWT for this push service, signed by our key.
    const authorization = /^vapid t=([^,\s]+),\s*k=([A-Za-z0-9_-]+)$/.exec(
      request.headers.authorization ?? '',
    );
    expect(authorization).not.toBeNull();
    const [, jwt, k] = authorization!;
    expect(k).toBe(vapid.publicKey);
    const [header, claims, signature] = jwt!.split('.');
    expect(JSON.parse(Buffer.from(claims!, 'base64url').toString())).toMatchObject({
      aud: pushService.url,
      sub: VAPID_SUBJECT,
    });
    const point = Buffer.from(vapid.publicKey, 'base64url');
    const key = createPublicKey({
      key: {
        kty: 'EC',
        crv: 'P-256',
        x: point.subarray(1, 33).toString('base64url'),
        y: point.subarray(33).toString('base64url'),
      },
      format: 'jwk',
    });
    const signed = Buffer.from(`${header}.${claims}`);
    expect(
      verify('sha256', signed, { key, dsaEncoding: 'ieee-p1363' }, Buffer.from(signature!, 'base64url')),
    ).toBe(true);
  });

  it("carries an organization's icon, name and colour in the payload (issue 17)", async () => {
    const browser = browserKeys();
    const message = {
      title: 'Your tickets for Sarajevo Jazz Night',
      body: '2 tickets, €50.00 paid.',
      url: 'https://tickets.example-org.test/orders/1',
      icon: `https://assets.bilten.test/assets/${'a'.repeat(64)}`,
      organization: { name: 'Kino Meeting Point', color: '#0B5394' },
    };
    await sender.send({ endpoint: `${pushService.url}/ok`, keys: browser.keys }, message, {
      ttlSeconds: 60,
      urgency: 'normal',
    });
    const decrypted = ece.decrypt(pushService.received.at(-1)!.body, {
      version: 'aes128gcm',
      privateKey: browser.ecdh,
      authSecret: browser.keys.auth,
    });
    expect(JSON.parse(decrypted.toString('utf8'))).toEqual(message);
  });

  it('reads the push service answer: 404/410 gone, 429/5xx/unreachable transient, other 4xx permanent', async () => {
    const { keys } = browserKeys();
    const message = { title: 't', body: 'b', url: null };
    const options = { ttlSeconds: 60, urgency: 'normal' as const };
    const failureAt = (endpoint: string) => rejection(sender.send({ endpoint, keys }, message, options));

    for (const path of ['/gone', '/missing'])
      expect(await failureAt(`${pushService.url}${path}`)).toMatchObject({
        permanent: true,
        addressProblem: 'GONE',
      });
    for (const path of ['/busy', '/slow-down'])
      expect(await failureAt(`${pushService.url}${path}`)).toMatchObject({
        permanent: false,
        addressProblem: undefined,
      });
    expect(await failureAt(`${pushService.url}/too-big`)).toMatchObject({
      permanent: true,
      addressProblem: undefined,
    });

    const closed = await startRecordingServer(() => ({ status: 201 }));
    await closed.close();
    expect(await failureAt(`${closed.url}/ok`)).toMatchObject({ permanent: false });
  });

  it('is disabled without VAPID keys', () => {
    expect(
      createPushSender({ VAPID_PUBLIC_KEY: undefined, VAPID_PRIVATE_KEY: undefined, VAPID_SUBJECT }).enabled,
    ).toBe(false);
    expect(sender.enabled).toBe(true);
  });
});

describe('SMS sender', () => {
  const SID = 'AC0123456789abcdef';
  const TOKEN = 'sms-test-token';
  let provider: Awaited<ReturnType<typeof startRecordingServer>>;
  let sequence = 0;

  beforeAll(async () => {
    provider = await startRecordingServer(({ method, url, headers, body }) => {
      const expectedAuth = `Basic ${Buffer.from(`${SID}:${TOKEN}`).toString('base64')}`;
      if (method !== 'POST' || url !== `/2010-04-01/Accounts/${SID}/Messages.json`) return { status: 404 };
      if (headers.authorization !== expectedAuth)
        return { status: 401, body: { code: 20003, message: 'Authenticate' } };
      const to = new URLSearchParams(body.toString()).get('To');
      if (to === '+15005550001')
        return { status: 400, body: { code: 21211, message: "The 'To' number is not valid." } };
      if (to === '+15005550009') return { status: 503, body: { message: 'Service unavailable' } };
      sequence += 1;
      return { status: 201, body: { sid: `SM${String(sequence).padStart(32, '0')}`, status: 'queued' } };
    });
  });
  afterAll(() => provider?.close());

  const httpSender = (token = TOKEN) =>
    createSmsSender(
      {
        SMS_API_URL: provider.url,
        SMS_ACCOUNT_SID: SID,
        SMS_AUTH_TOKEN: token,
        SMS_FROM: '+15005550006',
        PUBLIC_GATEWAY_URL: 'https://gateway.bilten.local/',
      },
      captureLogs().log,
    );

  it('posts the form with Basic auth and a status callback, and returns the provider sid', async () => {
    const sent = await httpSender().send('+38761234567', 'Your tickets for Kino Meeting Point are ready.');

    expect(sent).toEqual({
      transport: 'sms-http',
      providerMessageId: `SM${String(sequence).padStart(32, '0')}`,
    });
    const request = provider.received.at(-1)!;
    expect(request.headers['content-type']).toContain('application/x-www-form-urlencoded');
    expect(Object.fromEntries(new URLSearchParams(request.body.toString()))).toEqual({
      To: '+38761234567',
      From: '+15005550006',
      Body: 'Your tickets for Kino Meeting Point are ready.',
      StatusCallback: 'https://gateway.bilten.local/webhooks/sms',
    });
  });

  it('cuts bodies longer than 1,600 characters with an ellipsis', async () => {
    await httpSender().send('+38761234567', 'x'.repeat(2_000));
    const body = new URLSearchParams(provider.received.at(-1)!.body.toString()).get('Body')!;
    expect(body).toHaveLength(SMS_MAX_LENGTH);
    expect(body.endsWith('x…')).toBe(true);
  });

  it('tells an invalid number (permanent) from a provider outage (transient) and bad credentials (permanent)', async () => {
    expect(await rejection(httpSender().send('+15005550001', 'hi'))).toMatchObject({
      permanent: true,
      addressProblem: 'INVALID_NUMBER',
    });
    expect(await rejection(httpSender().send('+15005550009', 'hi'))).toMatchObject({ permanent: false });
    expect(await rejection(httpSender('wrong-token').send('+38761234567', 'hi'))).toMatchObject({
      permanent: true,
      addressProblem: undefined,
    });
  });

  it('writes to the log without SMS_API_URL, the number masked', async () => {
    const { log, lines } = captureLogs();
    const sender = createSmsSender(
      {
        SMS_API_URL: undefined,
        SMS_ACCOUNT_SID: undefined,
        SMS_AUTH_TOKEN: undefined,
        SMS_FROM: undefined,
        PUBLIC_GATEWAY_URL: 'http://localhost:4000',
      },
      log,
    );
    expect(await sender.send('+38761234567', 'Doors open at 19:00')).toEqual({
      transport: 'sms-log',
      providerMessageId: null,
    });
    const line = lines.find((entry) => entry.body === 'Doors open at 19:00');
    expect(line).toMatchObject({ to: '+387•••••567' });
    expect(JSON.stringify(lines)).not.toContain('+38761234567');
  });
});

// ---------------------------------------------------------------- GraphQL

let subgraph: TestSubgraph;
let smtp: TestSmtpServer;

beforeAll(async () => {
  smtp = await startTestSmtpServer();
  subgraph = await startTestSubgraph(messagingSubgraph, 'in-process', {
    env: {
      VAPID_PUBLIC_KEY: vapid.publicKey,
      VAPID_PRIVATE_KEY: vapid.privateKey,
      VAPID_SUBJECT,
      SMTP_URL: smtp.url,
      DELIVERY_POLL_MS: '100',
    },
  });
});
afterAll(async () => {
  await subgraph?.dispose();
  await smtp?.stop();
});

const as = (userId: string) => subgraph.bearer({ sub: userId });

async function gqlOk<T>(query: string, variables: Record<string, unknown>, headers: Record<string, string>) {
  const { data, errors } = await subgraph.gql<T>(query, variables, headers);
  expect(errors).toBeUndefined();
  return data!;
}

interface SubscriptionView {
  id: string;
  service: string;
  userAgent: string | null;
  createdAt: string;
  lastUsedAt: string | null;
}
const SUBSCRIPTION_FIELDS = 'id service userAgent createdAt lastUsedAt';
const REGISTER = `mutation($input: RegisterPushSubscriptionInput!) {
  registerPushSubscription(input: $input) { pushSubscription { ${SUBSCRIPTION_FIELDS} } errors { code message field } }
}`;
const REMOVE = `mutation($input: RemovePushSubscriptionInput!) {
  removePushSubscription(input: $input) { removed errors { code message field } }
}`;
const MY_SUBSCRIPTIONS = `{ myNotificationPreferences { pushSubscriptions { ${SUBSCRIPTION_FIELDS} } } }`;

async function register(userId: string, input: Record<string, unknown>) {
  const data = await gqlOk<{
    registerPushSubscription: { pushSubscription: SubscriptionView | null; errors: UserError[] };
  }>(REGISTER, { input }, await as(userId));
  return data.registerPushSubscription;
}
async function remove(userId: string, input: Record<string, unknown>) {
  const data = await gqlOk<{ removePushSubscription: { removed: boolean; errors: UserError[] } }>(
    REMOVE,
    { input },
    await as(userId),
  );
  return data.removePushSubscription;
}
async function subscriptionsOf(userId: string) {
  const data = await gqlOk<{ myNotificationPreferences: { pushSubscriptions: SubscriptionView[] } }>(
    MY_SUBSCRIPTIONS,
    {},
    await as(userId),
  );
  return data.myNotificationPreferences.pushSubscriptions;
}
const storedEndpoints = async () =>
  (await subgraph.sql<Array<{ endpoint: string }>>`select endpoint from messaging.push_subscriptions`).map(
    (row) => row.endpoint,
  );

const newEndpoint = () => `https://push.example.net/wpush/v2/${randomBytes(24).toString('base64url')}`;

describe('push subscriptions', () => {
  it('publishes the VAPID public key to anyone', async () => {
    const { data } = await subgraph.gql<{ webPushPublicKey: string | null }>('{ webPushPublicKey }');
    expect(data!.webPushPublicKey).toBe(vapid.publicKey);
  });

  it('registers a browser, shows only its service, and moves a re-registered endpoint to the new caller', async () => {
    const [alice, bob] = [uuidv7(), uuidv7()];
    const endpoint = newEndpoint();
    const first = await register(alice, { endpoint, keys: browserKeys().keys, userAgent: 'Firefox 140' });
    expect(first.errors).toEqual([]);
    expect(first.pushSubscription).toMatchObject({
      service: 'https://push.example.net',
      userAgent: 'Firefox 140',
      lastUsedAt: null,
    });
    expect(await subscriptionsOf(alice)).toEqual([first.pushSubscription]);

    // The same browser, now signed in as Bob, with fresh keys: one subscription, Bob's, with the new keys.
    const fresh = browserKeys().keys;
    const again = await register(bob, { endpoint, keys: fresh });
    expect(again.pushSubscription!.id).toBe(first.pushSubscription!.id);
    expect(await subscriptionsOf(alice)).toEqual([]);
    expect((await subscriptionsOf(bob)).map((s) => s.id)).toEqual([first.pushSubscription!.id]);
    const [row] = await subgraph.sql<Array<{ user_id: string; p256dh: string; auth: string }>>`
      select user_id, p256dh, auth from messaging.push_subscriptions where endpoint = ${endpoint}`;
    expect(row).toEqual({ user_id: bob, p256dh: fresh.p256dh, auth: fresh.auth });
  });

  it('keeps at most 20 per user, dropping the oldest', async () => {
    const userId = uuidv7();
    const endpoints = Array.from({ length: 21 }, newEndpoint);
    for (const endpoint of endpoints)
      expect((await register(userId, { endpoint, keys: browserKeys().keys })).errors).toEqual([]);
    const kept = await subgraph.sql<Array<{ endpoint: string }>>`
      select endpoint from messaging.push_subscriptions where user_id = ${userId}`;
    expect(kept.map((row) => row.endpoint).sort()).toEqual(endpoints.slice(1).sort());
  });

  it('removes by id or endpoint, only the caller’s own, and says false when there was none', async () => {
    const [owner, intruder] = [uuidv7(), uuidv7()];
    const [byId, byEndpoint] = [newEndpoint(), newEndpoint()];
    const { pushSubscription } = await register(owner, { endpoint: byId, keys: browserKeys().keys });
    await register(owner, { endpoint: byEndpoint, keys: browserKeys().keys });

    expect(await remove(intruder, { id: pushSubscription!.id })).toEqual({ removed: false, errors: [] });
    expect(await remove(intruder, { endpoint: byEndpoint })).toEqual({ removed: false, errors: [] });
    expect(await storedEndpoints()).toEqual(expect.arrayContaining([byId, byEndpoint]));

    expect(await remove(owner, { id: pushSubscription!.id })).toEqual({ removed: true, errors: [] });
    expect(await remove(owner, { endpoint: byEndpoint })).toEqual({ removed: true, errors: [] });
    expect(await remove(owner, { endpoint: byEndpoint })).toEqual({ removed: false, errors: [] });
    expect(await subscriptionsOf(owner)).toEqual([]);

    for (const input of [{}, { id: pushSubscription!.id, endpoint: byEndpoint }, { id: 'not-an-id' }]) {
      const answer = await remove(owner, input);
      expect(answer.removed).toBe(false);
      expect(answer.errors[0]).toMatchObject({ code: 'INVALID_INPUT' });
    }
  });

  it('refuses malformed endpoints and keys, storing nothing', async () => {
    const userId = uuidv7();
    const { keys } = browserKeys();
    const before = await storedEndpoints();
    const notOnCurve = Buffer.concat([Buffer.from([4]), Buffer.alloc(64, 1)]).toString('base64url');
    const cases: Array<[Record<string, unknown>, string[]]> = [
      [{ endpoint: 'ftp://push.example.net/x', keys }, ['input', 'endpoint']],
      [{ endpoint: 'http://push.example.net/x', keys }, ['input', 'endpoint']],
      [{ endpoint: 'not a url', keys }, ['input', 'endpoint']],
      [{ endpoint: `https://push.example.net/${'a'.repeat(2_100)}`, keys }, ['input', 'endpoint']],
      [{ endpoint: 'https://user:secret@push.example.net/x', keys }, ['input', 'endpoint']],
      [
        { endpoint: newEndpoint(), keys: { ...keys, p256dh: keys.p256dh.slice(0, 40) } },
        ['input', 'keys', 'p256dh'],
      ],
      [{ endpoint: newEndpoint(), keys: { ...keys, p256dh: notOnCurve } }, ['input', 'keys', 'p256dh']],
      [
        { endpoint: newEndpoint(), keys: { ...keys, p256dh: `${keys.p256dh.slice(1)}!` } },
        ['input', 'keys', 'p256dh'],
      ],
      [
        { endpoint: newEndpoint(), keys: { ...keys, auth: randomBytes(15).toString('base64url') } },
        ['input', 'keys', 'auth'],
      ],
    ];
    for (const [input, field] of cases) {
      const answer = await register(userId, input);
      expect(answer.pushSubscription).toBeNull();
      expect(answer.errors).toEqual([{ code: 'INVALID_INPUT', message: expect.any(String), field }]);
    }
    expect(await storedEndpoints()).toEqual(before);
  });

  it('in production takes only https URLs naming a host', () => {
    expect(pushEndpointProblem('https://fcm.googleapis.com/fcm/send/abc', true)).toBeUndefined();
    expect(
      pushEndpointProblem('https://updates.push.services.mozilla.com/wpush/v2/abc', true),
    ).toBeUndefined();
    for (const endpoint of [
      'http://127.0.0.1:8080/push',
      'https://localhost/push',
      'https://127.0.0.1/push',
      'https://10.0.0.7/push',
      'https://[::1]/push',
      'https://metadata/push',
    ])
      expect(pushEndpointProblem(endpoint, true)).toEqual(expect.any(String));
    expect(pushEndpointProblem('http://127.0.0.1:8080/push', false)).toBeUndefined();
  });

  it('needs a signed-in caller', async () => {
    const { errors } = await subgraph.gql(REGISTER, {
      input: { endpoint: newEndpoint(), keys: browserKeys().keys },
    });
    expect(errors![0]!.extensions!.code).toBe('UNAUTHENTICATED');
  });
});

describe('language and phone number preferences', () => {
  const FIELDS = 'locale phoneNumber';
  const UPDATE = `mutation($input: UpdateNotificationPreferencesInput!) {
    updateNotificationPreferences(input: $input) { preferences { ${FIELDS} } errors { code message field } }
  }`;
  type View = { locale: string; phoneNumber: string | null };
  const update = async (userId: string, input: Record<string, unknown>) =>
    (
      await gqlOk<{ updateNotificationPreferences: { preferences: View | null; errors: UserError[] } }>(
        UPDATE,
        { input },
        await as(userId),
      )
    ).updateNotificationPreferences;
  const read = async (userId: string) =>
    (
      await gqlOk<{ myNotificationPreferences: View }>(
        `{ myNotificationPreferences { ${FIELDS} } }`,
        {},
        await as(userId),
      )
    ).myNotificationPreferences;
  const sealedPhoneOf = async (userId: string) =>
    (
      await subgraph.sql<Array<{ phone_sealed: string | null }>>`
      select phone_sealed from messaging.notification_preferences where user_id = ${userId}`
    )[0]?.phone_sealed;

  it('sets the language and a number (stored encrypted, shown masked), and clears both with null', async () => {
    const userId = uuidv7();
    expect(await read(userId)).toEqual({ locale: 'en', phoneNumber: null });

    expect(await update(userId, { locale: 'bs', phoneNumber: '+38761234567' })).toEqual({
      preferences: { locale: 'bs', phoneNumber: '+387•••••567' },
      errors: [],
    });
    expect(await read(userId)).toEqual({ locale: 'bs', phoneNumber: '+387•••••567' });
    const sealed = await sealedPhoneOf(userId);
    expect(sealed).toBeTruthy();
    expect(sealed).not.toContain('61234567');

    // A change of something else keeps them.
    expect((await update(userId, { timezone: 'Europe/Sarajevo' })).preferences).toEqual({
      locale: 'bs',
      phoneNumber: '+387•••••567',
    });

    expect((await update(userId, { locale: null, phoneNumber: null })).preferences).toEqual({
      locale: 'en',
      phoneNumber: null,
    });
    expect(await sealedPhoneOf(userId)).toBeNull();
  });

  it('refuses an unknown language or a number not in E.164, changing nothing', async () => {
    const userId = uuidv7();
    await update(userId, { locale: 'bs', phoneNumber: '+38761234567' });
    const cases: Array<[Record<string, unknown>, string[]]> = [
      [{ locale: 'de' }, ['input', 'locale']],
      [{ locale: 'BS ' }, ['input', 'locale']],
      [{ phoneNumber: '061234567' }, ['input', 'phoneNumber']],
      [{ phoneNumber: '+0611234567' }, ['input', 'phoneNumber']],
      [{ phoneNumber: '+387 61 234 567' }, ['input', 'phoneNumber']],
      [{ phoneNumber: '+1234567' }, ['input', 'phoneNumber']],
      [{ locale: 'en', phoneNumber: `+${'1'.repeat(16)}` }, ['input', 'phoneNumber']],
    ];
    for (const [input, field] of cases) {
      const answer = await update(userId, input);
      expect(answer.preferences).toBeNull();
      expect(answer.errors).toEqual([{ code: 'INVALID_INPUT', message: expect.any(String), field }]);
    }
    expect(await read(userId)).toEqual({ locale: 'bs', phoneNumber: '+387•••••567' });
  });
});

describe('a critical push the browser no longer takes', () => {
  it('removes the subscription on 410 and sends the notification by email instead', async () => {
    const pushService = await startRecordingServer(() => ({ status: 410 }));
    const database = connectDatabase({ url: subgraph.database.url, applicationName: 'push-sms-test' });
    try {
      const userId = uuidv7();
      const email = `buyer-${userId.slice(-8)}@example.com`;
      const keys = messagingKeysFromEnv(database.db, { NODE_ENV: 'test' });
      // The address book entry identity's events would have made.
      await database.db.transaction(async (tx) =>
        upsertRecipient(tx, {
          userId,
          emailSealed: (await sealFor(
            tx,
            keys,
            { userId },
            email,
            columnAad(RECIPIENT_EMAIL_COLUMN, userId),
          ))!,
          emailSetAt: new Date(),
          displayNameSealed: null,
        }),
      );
      const { pushSubscription } = await register(userId, {
        endpoint: `${pushService.url}/wpush/gone`,
        keys: browserKeys().keys,
      });

      const data: DataOf<'orderConfirmed'> = {
        recipient: { name: 'Amra' },
        orderId: uuidv7(),
        event: { id: uuidv7(), title: 'Sarajevo Jazz Night' },
        total: { amount: 4_000, currency: 'BAM' },
        tickets: [],
      };
      await database.db.transaction((tx) =>
        enqueueDeliveries(tx, { ring, keys, addressHash: createAddressHash({ NODE_ENV: 'test' }) }, [
          {
            kind: 'orderConfirmed',
            channel: 'WEB_PUSH',
            locale: 'en',
            sourceEventId: uuidv7(),
            recipientId: userId,
            address: pushSubscription!.id,
            data,
          },
        ]),
      );

      const mail = await smtp.waitForMessage((received) => received.envelope.to.includes(email));
      expect(mail.parsed.text).toContain('Sarajevo Jazz Night');
      expect(pushService.received.map((request) => request.url)).toEqual(['/wpush/gone']);
      expect(await subscriptionsOf(userId)).toEqual([]);
      const rows = await waitFor(async () => {
        const found = await subgraph.sql<
          Array<{ id: string; channel: string; status: string; fallback_of: string | null }>
        >`
          select id, channel, status, fallback_of from messaging.deliveries where recipient_id = ${userId} order by id`;
        return found.length === 2 && found[1]!.status === 'SENT' ? found : undefined;
      });
      expect(rows).toEqual([
        { id: rows[0]!.id, channel: 'WEB_PUSH', status: 'FAILED', fallback_of: null },
        { id: rows[1]!.id, channel: 'EMAIL', status: 'SENT', fallback_of: rows[0]!.id },
      ]);
    } finally {
      await database.close();
      await pushService.close();
    }
  });
});
