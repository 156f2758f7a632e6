import { randomBytes } from 'node:crypto';
import { userRegistered } from '@bilten/contracts/identity';
import { orderPaid } from '@bilten/contracts/orders';
import {
  applyMigrations,
  columnAad,
  connectDatabase,
  type DatabaseHandle,
  ERASED_EMAIL,
  keyRingFromEnv,
  newEvent,
  type RunningService,
  startSubgraph,
} from '@bilten/platform';
import {
  captureLogs,
  createTestBus,
  createTestDatabase,
  createTestSigner,
  graphql,
  startTestSmtpServer,
  type TestBus,
  type TestDatabase,
  type TestSigner,
  type TestSmtpServer,
  testLinkTokens,
  waitFor,
} from '@bilten/testkit';
import { eq } from 'drizzle-orm';
import { v7 as uuidv7 } from 'uuid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAddressHash } from '../src/adapters/address-hash.ts';
import { sealNotification } from '../src/db/notification-texts.ts';
import { type MessagingKeys, messagingKeysFromEnv } from '../src/db/person-keys.ts';
import {
  DELIVERY_COLUMNS,
  deliveries,
  notifications,
  ORDER_BOOK_EMAIL_COLUMN,
  orderBook,
  PHONE_COLUMN,
  RECIPIENT_EMAIL_COLUMN,
} from '../src/db/schema.ts';
import { consentCopyConsumer } from '../src/domain/consents.ts';
import { enqueueDeliveries, type NewDelivery } from '../src/domain/deliveries.ts';
import { KINDS } from '../src/domain/delivery-rules.ts';
import { emailOfEntry } from '../src/domain/order-book.ts';
import { messagingPersonalDataSteps } from '../src/domain/personal-data.ts';
import { phoneOf } from '../src/domain/preferences.ts';
import { displayNameOf, emailOf } from '../src/domain/recipients.ts';
import { messagingSubgraph } from '../src/server.ts';

// Messaging's personal data under per-person keys (issue 18): sealed at rest, sealed again at
// start-up when written under the key ring, shredded on erasure, never sent once shredded.

const DATA_KEY = `k1:${randomBytes(32).toString('base64')}`;
const env = { NODE_ENV: 'test', DATA_ENCRYPTION_KEYS: DATA_KEY };
const ring = keyRingFromEnv(env);
const addressHash = createAddressHash({ NODE_ENV: 'test' });
const [ADDRESS_COLUMN, DATA_COLUMN] = DELIVERY_COLUMNS;

let smtp: TestSmtpServer;
let database: TestDatabase;
let handle: DatabaseHandle;
let testBus: TestBus;
let service: RunningService;
let keys: MessagingKeys;
let signer: TestSigner;

/** What was stored before per-person keys: addresses under the key ring, the name in plaintext. */
const LEGACY = {
  userId: uuidv7(),
  email: `legacy-${uuidv7()}@example.test`,
  name: 'Lejla Legacy',
  phone: '+38761000111',
  guest: `Guest-${uuidv7()}@Example.test`,
  orderBookId: uuidv7(),
  userDelivery: uuidv7(),
  guestDelivery: uuidv7(),
  notification: uuidv7(),
};

async function insertLegacyDelivery(id: string, recipientId: string | null, address: string) {
  const { category, critical } = KINDS.emailVerification;
  const data = {
    link: 'https://web.example/verify-email?token=legacy',
    expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
    issuedAt: new Date().toISOString(),
    newAccount: true,
    recipient: { name: 'Legacy' },
  };
  await handle.sql`
    insert into messaging.deliveries (id, kind, category, critical, channel, source_event_id, recipient_id,
      address_sealed, address_hash, data_sealed)
    values (${id}, 'emailVerification', ${category}, ${critical}, 'EMAIL', ${uuidv7()}, ${recipientId},
      ${ring.encrypt(address, columnAad(ADDRESS_COLUMN, id))}, ${addressHash(address, 'EMAIL')},
      ${ring.encrypt(JSON.stringify(data), columnAad(DATA_COLUMN, id))})`;
}

async function insertLegacyRows() {
  const { userId, orderBookId } = LEGACY;
  await handle.sql`
    insert into messaging.recipients (user_id, email_sealed, email_set_at, display_name_sealed)
    values (${userId}, ${ring.encrypt(LEGACY.email, columnAad(RECIPIENT_EMAIL_COLUMN, userId))}, now(), ${LEGACY.name})`;
  await handle.sql`
    insert into messaging.notification_preferences (user_id, phone_sealed)
    values (${userId}, ${ring.encrypt(LEGACY.phone, columnAad(PHONE_COLUMN, userId))})`;
  await handle.sql`
    insert into messaging.order_book (id, order_id, event_id, organization_id, user_id, email_sealed, name_sealed,
      event_title, total_amount, currency)
    values (${orderBookId}, ${orderBookId}, ${uuidv7()}, ${uuidv7()}, null,
      ${ring.encrypt(LEGACY.guest, columnAad(ORDER_BOOK_EMAIL_COLUMN, orderBookId))}, 'Gost', 'Jazz', 1000, 'BAM')`;
  await handle.sql`
    insert into messaging.notifications (id, recipient_id, channel, subject_sealed, body_sealed)
    values (${LEGACY.notification}, ${userId}, 'IN_APP', 'Lejla Legacy sent you a ticket', 'Open it, Lejla.')`;
  await insertLegacyDelivery(LEGACY.userDelivery, userId, LEGACY.email);
  await insertLegacyDelivery(LEGACY.guestDelivery, null, LEGACY.guest);
}

beforeAll(async () => {
  smtp = await startTestSmtpServer();
  database = await createTestDatabase();
  await applyMigrations(database.url, 'messaging', new URL('../drizzle/', import.meta.url));
  handle = connectDatabase({ url: database.url, applicationName: 'person-keys-test' });
  keys = messagingKeysFromEnv(handle.db, { NODE_ENV: 'test' });
  await insertLegacyRows();
  const { log } = captureLogs('messaging-person-keys-test');
  testBus = await createTestBus('in-process', log);
  signer = await createTestSigner();
  service = await startSubgraph(messagingSubgraph, {
    databaseUrl: database.url,
    bus: testBus.bus,
    log,
    auth: { jwks: signer.jwks },
    host: '127.0.0.1',
    port: 0,
    env: { ...env, SMTP_URL: smtp.url, DELIVERY_POLL_MS: '50' },
  });
});

afterAll(async () => {
  await service?.stop();
  await testBus?.dispose();
  await handle?.close();
  await database?.drop();
  await smtp?.stop();
});

const deliveryRow = async (id: string) =>
  (
    await handle.sql<Array<{ status: string; last_error: string | null; address_index: string | null }>>`
      select status, last_error, address_index from messaging.deliveries where id = ${id}`
  )[0];

/** Values of the personal columns that are not sealed per person (`p1.`), per column. */
const notSealed = () => handle.sql<Array<{ column: string; n: number }>>`
  select 'recipients.email_sealed' as column, count(*)::int as n from messaging.recipients where email_sealed not like 'p1.%'
  union all select 'recipients.display_name_sealed', count(*)::int from messaging.recipients where display_name_sealed not like 'p1.%'
  union all select 'notification_preferences.phone_sealed', count(*)::int from messaging.notification_preferences where phone_sealed not like 'p1.%'
  union all select 'order_book.email_sealed', count(*)::int from messaging.order_book where email_sealed not like 'p1.%' or email_index is null
  union all select 'order_book.name_sealed', count(*)::int from messaging.order_book where name_sealed not like 'p1.%'
  union all select 'deliveries.address_sealed', count(*)::int from messaging.deliveries where address_sealed not like 'p1.%'
  union all select 'notifications.subject_sealed', count(*)::int from messaging.notifications where subject_sealed not like 'p1.%'
  union all select 'notifications.body_sealed', count(*)::int from messaging.notifications where body_sealed not like 'p1.%'`;

const allSealed = async () => expect((await notSealed()).filter((row) => row.n > 0)).toEqual([]);

const enqueue = (item: Partial<NewDelivery> & { address: string }) =>
  handle.db.transaction((tx) =>
    enqueueDeliveries(tx, { ring, keys, addressHash }, [
      {
        kind: 'emailVerification',
        channel: 'EMAIL',
        locale: 'en',
        sourceEventId: uuidv7(),
        recipientId: null,
        data: {
          link: 'https://web.example/verify-email?token=x',
          expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
          issuedAt: new Date().toISOString(),
          newAccount: true,
          recipient: { name: 'Amra' },
        } as NewDelivery['data'],
        ...item,
      },
    ]),
  );

const rowIdOf = async (address: string) =>
  (
    await handle.sql<Array<{ id: string }>>`
      select id from messaging.deliveries where address_hash = ${addressHash(address, 'EMAIL')} order by id desc limit 1`
  )[0]!.id;

describe('rows written before per-person keys', () => {
  it('are sealed under their person’s key at start-up, and a queued mail still reaches its address', async () => {
    await allSealed();
    const stored = { userId: LEGACY.userId };
    const [recipient] = await handle.sql<Array<{ email_sealed: string; display_name_sealed: string }>>`
      select email_sealed, display_name_sealed from messaging.recipients where user_id = ${LEGACY.userId}`;
    expect(await emailOf(handle.db, keys, { ...stored, emailSealed: recipient!.email_sealed })).toBe(
      LEGACY.email,
    );
    expect(
      await displayNameOf(handle.db, keys, { ...stored, displayNameSealed: recipient!.display_name_sealed }),
    ).toBe(LEGACY.name);
    const [preferences] = await handle.sql<Array<{ phone_sealed: string }>>`
      select phone_sealed from messaging.notification_preferences where user_id = ${LEGACY.userId}`;
    expect(await phoneOf(handle.db, keys, { ...stored, phoneSealed: preferences!.phone_sealed })).toBe(
      LEGACY.phone,
    );
    // The guest's rows carry the blind index of the address: their person id.
    const guestIndex = keys.users.index(LEGACY.guest, 'email');
    const [book] = await handle.sql<Array<{ email_index: string }>>`
      select email_index from messaging.order_book where id = ${LEGACY.orderBookId}`;
    expect(book!.email_index).toBe(guestIndex);
    expect((await deliveryRow(LEGACY.guestDelivery))!.address_index).toBe(guestIndex);
    expect((await deliveryRow(LEGACY.userDelivery))!.address_index).toBeNull();

    for (const address of [LEGACY.email, LEGACY.guest]) {
      const mail = await smtp.waitForMessage((m) =>
        m.envelope.to.some((to) => to.toLowerCase() === address.toLowerCase()),
      );
      expect(mail.parsed.text).toContain('verify-email?token=legacy');
    }
  });
});

/** A GraphQL request to the running messaging as `claims`' caller. */
async function gqlAs<T>(claims: { sub: string; roles?: string[] }, query: string, variables = {}) {
  const headers = { authorization: `Bearer ${await signer.sign(claims)}` };
  return (await graphql<T, Record<string, unknown>>(service.url, query, variables, headers)).body;
}

type Texts = { id: string; subject: string; body: string };

const inboxOf = async (userId: string) =>
  (
    await gqlAs<{ _entities: Array<{ notifications: { edges: Array<{ node: Texts }> } }> }>(
      { sub: userId },
      `query($r: [_Any!]!) { _entities(representations: $r) {
        ... on User { notifications { edges { node { id subject body } } } } } }`,
      { r: [{ __typename: 'User', id: userId }] },
    )
  ).data!._entities[0]!.notifications.edges.map((edge) => edge.node);

describe('in-app notifications', () => {
  it('stored in plaintext before per-person keys are sealed at start-up and still listed', async () => {
    const [row] = await handle.sql<Array<{ subject_sealed: string; body_sealed: string }>>`
      select subject_sealed, body_sealed from messaging.notifications where id = ${LEGACY.notification}`;
    expect(row!.subject_sealed).toMatch(/^p1\./);
    expect(`${row!.subject_sealed} ${row!.body_sealed}`).not.toContain('Lejla');
    expect(await inboxOf(LEGACY.userId)).toEqual([
      { id: LEGACY.notification, subject: 'Lejla Legacy sent you a ticket', body: 'Open it, Lejla.' },
    ]);
  });

  it('sent by an admin are stored sealed under the recipient’s key and shown opened', async () => {
    const recipientId = uuidv7();
    const sent = await gqlAs<{ sendNotification: { notification: Texts } }>(
      { sub: uuidv7(), roles: ['ADMIN'] },
      `mutation($input: SendNotificationInput!) { sendNotification(input: $input) {
        notification { id subject body } } }`,
      { input: { recipientId, subject: 'From Amra', body: 'Amra Nova sent you a ticket.' } },
    );
    const { id } = sent.data!.sendNotification.notification;
    await allSealed();
    const [row] = await handle.sql<Array<{ texts: string }>>`
      select subject_sealed || body_sealed as texts from messaging.notifications where id = ${id}`;
    expect(row!.texts).not.toContain('Amra');
    expect(await inboxOf(recipientId)).toEqual([
      { id, subject: 'From Amra', body: 'Amra Nova sent you a ticket.' },
    ]);
  });

  it('of an erased user read as erased from any copy left, and a late one is not stored', async () => {
    const userId = uuidv7();
    const id = uuidv7();
    const sealed = await handle.db.transaction((tx) =>
      sealNotification(tx, keys, {
        id,
        recipientId: userId,
        channel: 'IN_APP',
        subject: 'From Amra',
        body: 'Amra Nova sent you a ticket.',
      }),
    );
    const [backup] = await handle.db.insert(notifications).values(sealed!).returning();
    const steps = messagingPersonalDataSteps({ keys, addressHash });
    await handle.db.transaction((tx) => steps.erase(tx, { userId, email: `${userId}@example.test` }));

    await handle.db.insert(notifications).values(backup!);
    const read = await gqlAs<{ notification: Texts }>(
      { sub: userId },
      'query($id: ID!) { notification(id: $id) { id subject body } }',
      { id },
    );
    expect(read).toEqual({ data: { notification: { id, subject: '(erased)', body: '(erased)' } } });

    const late = await gqlAs<{ sendNotification: { notification: null; errors: Array<{ code: string }> } }>(
      { sub: uuidv7(), roles: ['ADMIN'] },
      `mutation($input: SendNotificationInput!) { sendNotification(input: $input) {
        notification { id } errors { code } } }`,
      { input: { recipientId: userId, subject: 'Late', body: 'For Amra.' } },
    );
    expect(late.data!.sendNotification).toEqual({ notification: null, errors: [{ code: 'NOT_FOUND' }] });
    const [{ n }] = await handle.sql<[{ n: number }]>`
      select count(*)::int as n from messaging.notifications where recipient_id = ${userId}`;
    expect(n).toBe(1);
  });
});

describe('a running messaging', () => {
  it('stores addresses, numbers and names only sealed per person', async () => {
    const userId = uuidv7();
    const orderId = uuidv7();
    const ticketId = uuidv7();
    await testBus.bus.publish(
      newEvent(userRegistered, userId, 1, {
        userId,
        email: `new-${userId}@example.test`,
        displayName: 'Amra Nova',
        sealedToken: testLinkTokens.seal(`v-${uuidv7()}`, userId),
        expiresAt: new Date(Date.now() + 86_400_000).toISOString(),
      }),
    );
    await testBus.bus.publish(
      newEvent(orderPaid, orderId, 1, {
        orderId,
        eventId: uuidv7(),
        organizationId: uuidv7(),
        buyerId: null,
        buyerEmail: `guest-${orderId}@example.test`,
        buyerName: 'Gost Novi',
        eventTitle: 'Jazz',
        tickets: [{ ticketId, sealedToken: testLinkTokens.seal(`t-${uuidv7()}`, ticketId) }],
        total: { amount: 1000, currency: 'BAM' },
      }),
    );
    await waitFor(async () => {
      const [row] = await handle.sql<[{ recipients: number; book: number }]>`
        select (select count(*)::int from messaging.recipients where user_id = ${userId}) as recipients,
          (select count(*)::int from messaging.order_book where id = ${orderId}) as book`;
      return row.recipients === 1 && row.book === 1;
    });
    await allSealed();
    const [row] = await handle.sql<Array<{ display_name_sealed: string }>>`
      select display_name_sealed from messaging.recipients where user_id = ${userId}`;
    expect(row!.display_name_sealed).not.toContain('Amra');
  });

  it('never hands an .invalid address to the mailer', async () => {
    await enqueue({ address: ERASED_EMAIL });
    const id = await rowIdOf(ERASED_EMAIL);
    const row = await waitFor(async () => {
      const found = await deliveryRow(id);
      return found?.status !== 'QUEUED' ? found : undefined;
    });
    expect(row).toMatchObject({ status: 'SUPPRESSED', last_error: 'reserved address (.invalid)' });
    expect(smtp.messages.filter((m) => m.envelope.to.includes(ERASED_EMAIL))).toEqual([]);
  });

  it('erasure destroys the person’s key: a delivery of theirs restored from before is never sent, a late one never stored', async () => {
    const userId = uuidv7();
    const email = `erased-${userId}@example.test`;
    // Held an hour (quiet hours): still queued when the person is erased.
    await enqueue({ address: email, recipientId: userId, notBefore: new Date(Date.now() + 3_600_000) });
    const id = await rowIdOf(email);
    const [before] = await handle.db.select().from(deliveries).where(eq(deliveries.id, id));

    const steps = messagingPersonalDataSteps({ keys, addressHash });
    const summary = await handle.db.transaction((tx) => steps.erase(tx, { userId, email }));
    expect(summary['person_keys.destroyed']).toBeGreaterThanOrEqual(1);
    const destroyed = await handle.sql<Array<{ person_id: string }>>`
      select person_id from messaging.person_keys where destroyed_at is not null and wrapped_key is null
        and person_id in (${userId}, ${keys.users.index(email, 'email')})`;
    expect(destroyed).toHaveLength(2);

    // The row as a backup (or a replica that had not seen the erasure) still holds it, due now.
    await handle.db.insert(deliveries).values({ ...before!, nextAttemptAt: new Date() });
    const row = await waitFor(async () => {
      const found = await deliveryRow(id);
      return found?.status !== 'QUEUED' ? found : undefined;
    });
    expect(row).toMatchObject({ status: 'SUPPRESSED', last_error: 'recipient erased' });
    expect(smtp.messages.filter((m) => m.envelope.to.includes(email))).toEqual([]);

    // A notice arriving late for the erased user is not queued at all.
    expect(await enqueue({ address: email, recipientId: userId })).toBe(0);
  });

  it('a guest erased by address who buys again gets a fresh key: the new order is stored and readable', async () => {
    const email = `returning-${uuidv7()}@example.test`;
    const steps = messagingPersonalDataSteps({ keys, addressHash });
    await handle.db.transaction((tx) => steps.erase(tx, { userId: uuidv7(), email }));
    const orderId = uuidv7();
    const ticketId = uuidv7();
    await testBus.bus.publish(
      newEvent(orderPaid, orderId, 1, {
        orderId,
        eventId: uuidv7(),
        organizationId: uuidv7(),
        buyerId: null,
        buyerEmail: email,
        buyerName: 'Gost Opet',
        eventTitle: 'Jazz',
        tickets: [{ ticketId, sealedToken: testLinkTokens.seal(`t-${uuidv7()}`, ticketId) }],
        total: { amount: 1000, currency: 'BAM' },
      }),
    );
    const row = await waitFor(
      async () => (await handle.db.select().from(orderBook).where(eq(orderBook.id, orderId)))[0],
    );
    expect(await emailOfEntry(handle.db, keys, row)).toBe(email);
  });

  it('a consent change arriving after the user was erased stores nothing', async () => {
    const [erased, other] = [uuidv7(), uuidv7()];
    const steps = messagingPersonalDataSteps({ keys, addressHash });
    await handle.db.transaction((tx) => steps.erase(tx, { userId: erased, email: `${erased}@example.test` }));
    const consumer = consentCopyConsumer(keys);
    for (const userId of [erased, other])
      await handle.db.transaction((tx) =>
        consumer.handle(
          {
            payload: {
              userId,
              purpose: 'MARKETING_EMAIL',
              organizationId: null,
              granted: true,
              textVersion: 'marketing/v1',
              changedAt: new Date().toISOString(),
            },
          } as never,
          tx,
        ),
      );
    const rows = await handle.sql<Array<{ user_id: string }>>`
      select user_id from messaging.consents where user_id in (${erased}, ${other})`;
    expect(rows.map((row) => row.user_id)).toEqual([other]);
  });
});
