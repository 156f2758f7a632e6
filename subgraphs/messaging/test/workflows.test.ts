import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { paymentFailed, receiptIssued, refundSucceeded } from '@bilten/contracts/billing';
import { eventPublished } from '@bilten/contracts/catalog';
import { invitationCreated, organizationCreated, userRegistered } from '@bilten/contracts/identity';
import {
  orderCreated,
  orderPaid,
  orderStatusChanged,
  ticketTransferred,
  waitingListOffered,
} from '@bilten/contracts/orders';
import { connectDatabase, createOutbox, keyRingFromEnv, newEvent } from '@bilten/platform';
import {
  captureLogs,
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
import webpush from 'web-push';
import { createAddressHash } from '../src/adapters/address-hash.ts';
import { createRenderer } from '../src/adapters/renderer.ts';
import { messagingKeysFromEnv } from '../src/db/person-keys.ts';
import { eventStore } from '../src/db/schema.ts';
import { holdersOf } from '../src/domain/order-book.ts';
import { eventPublishedWorkflow, workflowConsumer } from '../src/domain/workflows.ts';
import { messagingSubgraph } from '../src/server.ts';
import { consumerCaughtUp, openedTexts } from './support.ts';

const DATA_KEY = 'k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=';
const vapid = webpush.generateVAPIDKeys();

let smtp: TestSmtpServer;
let files: Server;
let gateway: string;
let subgraph: TestSubgraph;
let nats: NatsConnection;
let jsm: JetStreamManager;

beforeAll(async () => {
  smtp = await startTestSmtpServer();
  // The gateway's ticket and receipt PDFs, which order mails attach when they are sent.
  files = createServer((request, response) => {
    if (/^\/(tickets|receipts)\/[^/]+\.pdf\?token=/.test(request.url ?? '')) {
      response.writeHead(200, { 'content-type': 'application/pdf' }).end('%PDF-1.4 test');
    } else response.writeHead(404).end();
  });
  await new Promise<void>((resolve) => files.listen(0, '127.0.0.1', resolve));
  gateway = `http://127.0.0.1:${(files.address() as AddressInfo).port}`;
  subgraph = await startTestSubgraph(messagingSubgraph, 'jetstream', {
    env: {
      SMTP_URL: smtp.url,
      PUBLIC_GATEWAY_URL: gateway,
      PUBLIC_WEB_URL: 'https://web.example',
      DATA_ENCRYPTION_KEYS: DATA_KEY,
      VAPID_PUBLIC_KEY: vapid.publicKey,
      VAPID_PRIVATE_KEY: vapid.privateKey,
      DELIVERY_POLL_MS: '50',
    },
    consumers: { maxDeliveries: 2 },
  });
  nats = await connect({ servers: TEST_NATS_URL });
  jsm = await jetstreamManager(nats);
});

afterAll(async () => {
  await nats?.close();
  await subgraph?.dispose();
  await smtp?.stop();
  await new Promise((resolve) => files?.close(resolve));
});

const caughtUp = (consumer: string) => consumerCaughtUp(jsm, subgraph, consumer);
const publish = (event: Parameters<TestSubgraph['testBus']['bus']['publish']>[0]) =>
  subgraph.testBus.bus.publish(event);
const newAddress = () => `${uuidv7()}@example.test`;
const mailTo = (address: string) => smtp.waitForMessage((mail) => mail.envelope.to.includes(address));
const mailsTo = (address: string) => smtp.messages.filter((mail) => mail.envelope.to.includes(address));

interface DeliveryRow {
  kind: string;
  channel: string;
  locale: string;
  recipient_id: string | null;
  status: string;
  attempts: number;
  address_hash: string;
  next_attempt_at: Date;
  created_at: Date;
}
const deliveriesOf = (sourceEventId: string) =>
  subgraph.sql<DeliveryRow[]>`
    select kind, channel, locale, recipient_id, status, attempts, address_hash, next_attempt_at, created_at
    from messaging.deliveries where source_event_id = ${sourceEventId} order by channel, recipient_id`;
const inAppOf = async (sourceEventId: string) =>
  openedTexts(
    subgraph.database.url,
    await subgraph.sql<
      Array<{
        id: string;
        recipient_id: string;
        kind: string;
        subject_sealed: string;
        body_sealed: string;
        url: string | null;
      }>
    >`
      select id, recipient_id, kind, subject_sealed, body_sealed, url from messaging.notifications
      where source_event_id = ${sourceEventId} order by recipient_id`,
  );

/** A user in the address book, registered the way identity announces it. */
async function registered(displayName = 'Lejla Kovač') {
  const userId = uuidv7();
  const email = newAddress();
  await publish(
    newEvent(userRegistered, userId, 1, {
      userId,
      email,
      displayName,
      sealedToken: testLinkTokens.seal(`v-${uuidv7()}`, userId),
      expiresAt: new Date(Date.now() + 86_400_000).toISOString(),
    }),
  );
  await caughtUp('recipient-book-registered');
  return { userId, email };
}

async function setPreferences(
  userId: string,
  preferences: {
    categories?: Record<string, { all: boolean; channels: Record<string, boolean> }>;
    locale?: string;
    timezone?: string;
    quietHoursStart?: string;
    quietHoursEnd?: string;
  },
) {
  await subgraph.sql`
    insert into messaging.notification_preferences
      (user_id, categories, locale, timezone, quiet_hours_start, quiet_hours_end)
    values (${userId}, ${subgraph.sql.json(preferences.categories ?? {})}, ${preferences.locale ?? null},
      ${preferences.timezone ?? null}, ${preferences.quietHoursStart ?? null}, ${preferences.quietHoursEnd ?? null})`;
}

async function subscribePush(userId: string) {
  const id = uuidv7();
  await subgraph.sql`
    insert into messaging.push_subscriptions (id, user_id, endpoint, p256dh, auth)
    values (${id}, ${userId}, ${`http://127.0.0.1:9/push/${id}`}, 'p256dh', 'auth')`;
  return id;
}

function paid(buyer: { userId: string | null; email: string }, extra: { eventId?: string } = {}) {
  const orderId = uuidv7();
  const tickets = [uuidv7(), uuidv7()].map((ticketId) => ({ ticketId, token: `t+${uuidv7()}/=` }));
  const event = newEvent(orderPaid, orderId, 1, {
    orderId,
    eventId: extra.eventId ?? uuidv7(),
    organizationId: uuidv7(),
    buyerId: buyer.userId,
    buyerEmail: buyer.email,
    buyerName: 'Ana Kovač',
    eventTitle: 'Sarajevo <Jazz> Night',
    tickets: tickets.map(({ ticketId, token }) => ({
      ticketId,
      sealedToken: testLinkTokens.seal(token, ticketId),
    })),
    total: { amount: 5000, currency: 'EUR' },
  });
  return { event, orderId, tickets };
}

describe('account workflows', () => {
  it('mails the verification link to the address of the event, once (a republished copy is dropped)', async () => {
    const userId = uuidv7();
    const email = newAddress();
    const token = `v+${uuidv7()}`;
    const event = newEvent(userRegistered, userId, 1, {
      userId,
      email,
      displayName: 'Mirza',
      sealedToken: testLinkTokens.seal(token, userId),
      expiresAt: new Date(Date.now() + 86_400_000).toISOString(),
    });
    await publish(event);
    await publish(event);

    const mail = await mailTo(email);
    expect(mail.parsed.subject).toBe('Confirm your email address');
    expect(mail.parsed.text).toContain(`https://web.example/verify-email?token=${encodeURIComponent(token)}`);
    await caughtUp('registration-mail');
    expect(await deliveriesOf(event.id)).toMatchObject([
      { kind: 'emailVerification', channel: 'EMAIL', recipient_id: userId, status: 'SENT' },
    ]);
    expect(mailsTo(email)).toHaveLength(1);
  });

  it('sends an invitation to an address without an account (a guest), in English', async () => {
    const invitationId = uuidv7();
    const email = newAddress();
    const event = newEvent(invitationCreated, invitationId, 1, {
      invitationId,
      organizationId: uuidv7(),
      organizationName: 'Kino Meeting Point',
      inviterName: 'Amra',
      email,
      role: 'STAFF',
      sealedToken: testLinkTokens.seal('inv-token', invitationId),
      expiresAt: new Date(Date.now() + 7 * 86_400_000).toISOString(),
    });
    await publish(event);
    const mail = await mailTo(email);
    expect(mail.parsed.text).toContain('https://web.example/accept-invitation?token=inv-token');
    expect(await deliveriesOf(event.id)).toMatchObject([
      { kind: 'invitation', recipient_id: null, locale: 'en' },
    ]);
  });
});

describe('order workflows', () => {
  it('confirms a paid order by email (tickets attached), in-app and by push, once', async () => {
    const buyer = await registered();
    const subscription = await subscribePush(buyer.userId);
    const { event, tickets } = paid(buyer);
    await publish(event);
    await publish(event);

    const mail = await waitFor(async () =>
      mailsTo(buyer.email).find((sent) => sent.parsed.subject === 'Your tickets for Sarajevo <Jazz> Night'),
    );
    for (const { ticketId, token } of tickets)
      expect(mail.parsed.text).toContain(
        `${gateway}/tickets/${ticketId}.pdf?token=${encodeURIComponent(token)}`,
      );
    expect(mail.parsed.attachments).toHaveLength(2);
    // The organizer's title is text, never markup.
    expect(mail.parsed.html).not.toContain('<Jazz>');
    await caughtUp('order-tickets-mail');
    const rows = await deliveriesOf(event.id);
    expect(rows.map((row) => row.channel)).toEqual(['EMAIL', 'WEB_PUSH']);
    expect(await inAppOf(event.id)).toMatchObject([
      {
        recipient_id: buyer.userId,
        kind: 'orderConfirmed',
        subject: 'Your tickets for Sarajevo <Jazz> Night',
      },
    ]);
    expect(mailsTo(buyer.email)).toHaveLength(2); // the registration's verification, and this
    expect(rows[1]!.address_hash).not.toContain(subscription);
  });

  it("reaches a guest buyer by email only, in the user's language when they have an account", async () => {
    const guest = newAddress();
    const guestOrder = paid({ userId: null, email: guest });
    await publish(guestOrder.event);
    expect((await mailTo(guest)).parsed.subject).toBe('Your tickets for Sarajevo <Jazz> Night');
    expect(await deliveriesOf(guestOrder.event.id)).toMatchObject([
      { channel: 'EMAIL', recipient_id: null, locale: 'en' },
    ]);

    const bosnian = await registered();
    await setPreferences(bosnian.userId, { locale: 'bs' });
    const order = paid(bosnian);
    await publish(order.event);
    await waitFor(async () => mailsTo(bosnian.email).length === 2);
    expect(mailsTo(bosnian.email)[1]!.parsed.subject).toBe('Vaše ulaznice za Sarajevo <Jazz> Night');
    expect((await inAppOf(order.event.id))[0]!.subject).toBe('Vaše ulaznice za Sarajevo <Jazz> Night');
  });

  it('tells the buyer the order book knows of a failed payment and a refund; a receipt names its account', async () => {
    const buyer = await registered();
    const orderId = uuidv7();
    const eventId = uuidv7();
    await publish(
      newEvent(orderCreated, orderId, 1, {
        orderId,
        eventId,
        organizationId: uuidv7(),
        buyerId: buyer.userId,
        guestTokenHash: null,
        buyerEmail: buyer.email,
        buyerName: 'Ana Kovač',
        eventTitle: 'Mostar Blues',
        lines: [
          {
            ticketTypeId: uuidv7(),
            name: 'Entry',
            quantity: 1,
            unitPrice: { amount: 2000, currency: 'EUR' },
          },
        ],
        subtotal: { amount: 2000, currency: 'EUR' },
        fees: { amount: 0, currency: 'EUR' },
        taxes: { amount: 0, currency: 'EUR' },
        taxBasisPoints: 0,
        total: { amount: 2000, currency: 'EUR' },
        expiresAt: new Date(Date.now() + 600_000).toISOString(),
        refundPolicy: { kind: 'NONE', daysBeforeStart: null, percent: null },
        eventStartsAt: '2027-06-01T19:00:00.000Z',
      }),
    );
    await caughtUp('order-book-created');

    const failed = newEvent(paymentFailed, uuidv7(), 1, {
      paymentId: uuidv7(),
      orderId,
      failureCode: 'card_declined',
      failureMessage: 'Your card was declined.',
    });
    await publish(failed);
    await waitFor(async () => mailsTo(buyer.email).length === 2);
    expect(mailsTo(buyer.email)[1]!.parsed.text).toContain('Your card was declined.');
    expect((await inAppOf(failed.id)).map((row) => row.kind)).toEqual(['paymentFailed']);

    const refund = newEvent(refundSucceeded, uuidv7(), 1, {
      refundId: uuidv7(),
      orderId,
      amount: { amount: 2000, currency: 'EUR' },
    });
    await publish(refund);
    await waitFor(async () => mailsTo(buyer.email).length === 3);
    expect(mailsTo(buyer.email)[2]!.parsed.text).toContain('Mostar Blues');
    expect((await deliveriesOf(refund.id)).map((row) => row.channel)).toEqual(['EMAIL']);

    const receiptId = uuidv7();
    const receipt = newEvent(receiptIssued, receiptId, 1, {
      receiptId,
      orderId,
      organizationId: uuidv7(),
      kind: 'RECEIPT',
      number: 'KINO-2027-000001',
      sellerName: 'Kino Meeting Point',
      buyerEmail: buyer.email,
      eventTitle: 'Mostar Blues',
      total: { amount: 2000, currency: 'EUR' },
      sealedLinkToken: testLinkTokens.seal('receipt-token', receiptId),
    });
    await publish(receipt);
    await waitFor(async () => mailsTo(buyer.email).length === 4);
    expect(mailsTo(buyer.email)[3]!.parsed.text).toContain(
      `${gateway}/receipts/${receiptId}.pdf?token=receipt-token`,
    );
    expect(await deliveriesOf(receipt.id)).toMatchObject([{ kind: 'receipt', recipient_id: buyer.userId }]);
  });

  it('tells nobody of a payment failure of an order the book does not know', async () => {
    const failed = newEvent(paymentFailed, uuidv7(), 1, {
      paymentId: uuidv7(),
      orderId: uuidv7(),
      failureCode: 'card_declined',
      failureMessage: 'declined',
    });
    await publish(failed);
    await caughtUp('payment-failed-notice');
    expect(await deliveriesOf(failed.id)).toEqual([]);
  });

  it('sends a waiting-list offer (critical) even with its category off, and push then without waiting for quiet hours', async () => {
    const user = await registered();
    await setPreferences(user.userId, {
      categories: { TRANSACTIONAL: { all: false, channels: {} } },
      timezone: 'UTC',
      quietHoursStart: '00:00',
      quietHoursEnd: '23:59',
    });
    await subscribePush(user.userId);
    const entryId = uuidv7();
    const event = newEvent(waitingListOffered, entryId, 1, {
      entryId,
      eventId: uuidv7(),
      userId: user.userId,
      email: user.email,
      reservationId: uuidv7(),
      quantity: 2,
      eventTitle: 'Sold Out Show',
      expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
    });
    await publish(event);
    await waitFor(async () => mailsTo(user.email).length === 2);
    await caughtUp('waiting-list-offer-mail');
    expect((await deliveriesOf(event.id)).map((row) => row.channel)).toEqual(['EMAIL', 'WEB_PUSH']);
    // Critical: never held by quiet hours, the push is tried at once (its endpoint is down: retried).
    await waitFor(async () => (await deliveriesOf(event.id))[1]!.attempts > 0);
    expect((await inAppOf(event.id)).map((row) => row.kind)).toEqual(['waitingListOffer']);
  });
});

describe('event published → followers', () => {
  async function organization() {
    const organizationId = uuidv7();
    await publish(
      newEvent(organizationCreated, organizationId, 1, {
        organizationId,
        name: 'Kino Meeting Point',
        slug: `kino-${organizationId.slice(-12)}`,
        testMode: false,
      }),
    );
    await caughtUp('organization-names-created');
    return organizationId;
  }
  const follow = (userId: string, organizationId: string) =>
    subgraph.sql`insert into messaging.follows (user_id, organization_id) values (${userId}, ${organizationId})`;
  const published = (organizationId: string, visibility: 'PUBLIC' | 'UNLISTED' = 'PUBLIC') => {
    const eventId = uuidv7();
    return newEvent(eventPublished, eventId, 1, {
      eventId,
      organizationId,
      title: 'Sarajevo Film Night',
      visibility,
      startsAt: '2027-05-14T18:30:00.000Z',
      endsAt: '2027-05-14T22:00:00.000Z',
      timezone: 'Europe/Sarajevo',
      venue: null,
      onlineUrl: null,
    });
  };

  it('notifies each follower as their preferences say: email off, quiet hours, Bosnian', async () => {
    const organizationId = await organization();
    const everything = await registered();
    const noEmail = await registered();
    const quiet = await registered();
    const bosnian = await registered();
    await setPreferences(noEmail.userId, {
      categories: { EVENT_UPDATES: { all: true, channels: { EMAIL: false } } },
    });
    // Always quiet in its zone but for one minute: the push waits for the end.
    await setPreferences(quiet.userId, {
      timezone: 'Europe/Sarajevo',
      quietHoursStart: '00:00',
      quietHoursEnd: '23:59',
    });
    await setPreferences(bosnian.userId, { locale: 'bs' });
    for (const user of [everything, noEmail, quiet, bosnian]) {
      await follow(user.userId, organizationId);
      await subscribePush(user.userId);
    }
    const event = published(organizationId);
    await publish(event);
    await publish(event);

    const mail = await waitFor(async () =>
      mailsTo(everything.email).find((m) => m.parsed.subject?.startsWith('New from')),
    );
    expect(mail.parsed.subject).toBe('New from Kino Meeting Point: Sarajevo Film Night');
    expect(mail.parsed.headerLines.map((header) => header.key)).toContain('list-unsubscribe');
    expect(mail.parsed.text).toContain(`https://web.example/events/${event.payload.eventId}`);
    const bosnianMail = await waitFor(async () =>
      mailsTo(bosnian.email).find((m) => m.parsed.subject?.startsWith('Novo od')),
    );
    expect(bosnianMail.parsed.subject).toBe('Novo od Kino Meeting Point: Sarajevo Film Night');
    await caughtUp('event-published-followers');

    const rows = await deliveriesOf(event.id);
    const channelsOf = (userId: string) =>
      rows.filter((row) => row.recipient_id === userId).map((row) => row.channel);
    expect(channelsOf(everything.userId)).toEqual(['EMAIL', 'WEB_PUSH']);
    expect(channelsOf(noEmail.userId)).toEqual(['WEB_PUSH']);
    expect(rows.find((row) => row.recipient_id === bosnian.userId)!.locale).toBe('bs');
    const heldPush = rows.find((row) => row.recipient_id === quiet.userId && row.channel === 'WEB_PUSH')!;
    expect(heldPush).toMatchObject({ status: 'QUEUED', attempts: 0 });
    // 23:59 in Sarajevo, today's or tomorrow's: after now, within a day.
    expect(heldPush.next_attempt_at.getTime()).toBeGreaterThan(Date.now());
    expect(heldPush.next_attempt_at.getTime()).toBeLessThanOrEqual(Date.now() + 86_400_000);
    expect(
      new Intl.DateTimeFormat('en-GB', { timeZone: 'Europe/Sarajevo', timeStyle: 'short' }).format(
        heldPush.next_attempt_at,
      ),
    ).toBe('23:59');
    // Email is not noisy: it goes now even in quiet hours.
    await waitFor(async () => mailsTo(quiet.email).some((m) => m.parsed.subject?.startsWith('New from')));

    const inApp = await inAppOf(event.id);
    expect(inApp).toHaveLength(4);
    expect(inApp.find((row) => row.recipient_id === bosnian.userId)!.subject).toBe(
      'Novo od Kino Meeting Point',
    );
    expect(inApp[0]!.url).toBe(`https://web.example/events/${event.payload.eventId}`);
    expect(mailsTo(everything.email).filter((m) => m.parsed.subject?.startsWith('New from'))).toHaveLength(1);
  });

  it('stores and enqueues nothing twice when the workflow runs again for the same event (a lost inbox row)', async () => {
    const organizationId = await organization();
    const users = [await registered(), await registered()];
    for (const user of users) {
      await follow(user.userId, organizationId);
      await subscribePush(user.userId);
    }
    const event = published(organizationId);
    await publish(event);
    await caughtUp('event-published-followers');
    const before = await deliveriesOf(event.id);
    expect(before.map((row) => row.channel)).toEqual(['EMAIL', 'EMAIL', 'WEB_PUSH', 'WEB_PUSH']);

    // The same workflow, run by hand past the inbox: the rows' uniqueness alone keeps it once.
    const ring = keyRingFromEnv({ NODE_ENV: 'test', DATA_ENCRYPTION_KEYS: DATA_KEY });
    const handle = connectDatabase({ url: subgraph.database.url, applicationName: 'workflow-rerun-test' });
    const consumer = workflowConsumer(eventPublishedWorkflow, {
      outbox: createOutbox(eventStore, 'messaging'),
      ring,
      keys: messagingKeysFromEnv(handle.db, { NODE_ENV: 'test' }),
      renderer: createRenderer(),
      push: { enabled: true },
      addressHash: createAddressHash({ NODE_ENV: 'test' }),
      log: captureLogs('workflow-rerun-test').log,
      links: testLinkTokens,
      accountLinks: 'https://web.example',
      gateway,
      site: 'https://web.example',
    });
    try {
      await handle.db.transaction((tx) => consumer.handle(event, tx));
    } finally {
      await handle.close();
    }
    expect((await deliveriesOf(event.id)).map((row) => row.address_hash)).toEqual(
      before.map((row) => row.address_hash),
    );
    expect(await inAppOf(event.id)).toHaveLength(2);
  });

  it('tells nobody of an unlisted event', async () => {
    const organizationId = await organization();
    const user = await registered();
    await follow(user.userId, organizationId);
    const event = published(organizationId, 'UNLISTED');
    await publish(event);
    await caughtUp('event-published-followers');
    expect(await deliveriesOf(event.id)).toEqual([]);
    expect(await inAppOf(event.id)).toEqual([]);
  });
});

describe('admin notices', () => {
  it('stores sendNotification in-app only, as kind adminNotice, sending nothing else', async () => {
    const recipient = await registered();
    const { data, errors } = await subgraph.gql<{ sendNotification: { notification: { id: string } } }>(
      `mutation($input: SendNotificationInput!) { sendNotification(input: $input) { notification { id } } }`,
      { input: { recipientId: recipient.userId, subject: 'Maintenance', body: 'Tonight at 22:00.' } },
      await subgraph.bearer({ roles: ['ADMIN'] }),
    );
    expect(errors).toBeUndefined();
    const [row] = await subgraph.sql<Array<{ kind: string; channel: string }>>`
      select kind, channel from messaging.notifications where id = ${data!.sendNotification.notification.id}`;
    expect(row).toEqual({ kind: 'adminNotice', channel: 'IN_APP' });
    const [queued] = await subgraph.sql<Array<{ count: number }>>`
      select count(*)::int as count from messaging.deliveries where recipient_id = ${recipient.userId}
        and kind = 'adminNotice'`;
    expect(queued!.count).toBe(0);
  });
});

describe('the order book', () => {
  it('knows the holders of an event: paid, received by transfer, not refunded; one per account or address', async () => {
    const eventId = uuidv7();
    const holder = await registered();
    const first = paid(holder, { eventId });
    const second = paid(holder, { eventId });
    const guest = newAddress();
    const guestOrder = paid({ userId: null, email: guest }, { eventId });
    const refunded = paid({ userId: null, email: newAddress() }, { eventId });
    for (const order of [first, second, guestOrder, refunded]) await publish(order.event);
    await caughtUp('order-book-paid');
    await publish(
      newEvent(orderStatusChanged, refunded.orderId, 2, {
        orderId: refunded.orderId,
        eventId,
        organizationId: uuidv7(),
        from: 'PAID',
        status: 'REFUNDED',
      }),
    );
    await caughtUp('order-book-status');
    const receiver = newAddress();
    const toTicketId = uuidv7();
    await publish(
      newEvent(ticketTransferred, toTicketId, 1, {
        fromTicketId: first.tickets[0]!.ticketId,
        toTicketId,
        eventId,
        fromEmail: holder.email,
        toEmail: receiver,
        toName: 'Mirza',
        eventTitle: 'Sarajevo <Jazz> Night',
        sealedToken: testLinkTokens.seal('transfer', toTicketId),
      }),
    );
    await caughtUp('order-book-transferred');

    const db = connectDatabase({ url: subgraph.database.url, applicationName: 'holders-test' });
    const keys = messagingKeysFromEnv(db.db, { NODE_ENV: 'test' });
    try {
      const holders = await db.db.transaction(async (tx) => {
        const all = [];
        for await (const batch of holdersOf(tx, keys, eventId)) all.push(...batch);
        return all;
      });
      expect(holders).toEqual([
        // An account is greeted by its address book's display name (notify.ts), not the order's.
        { userId: holder.userId, email: null, name: '', total: { amount: 10_000, currency: 'EUR' } },
        // Guests after accounts, in the order of their rows (ids are time-ordered).
        { userId: null, email: guest, name: 'Ana Kovač', total: { amount: 5000, currency: 'EUR' } },
        { userId: null, email: receiver, name: 'Mirza', total: { amount: 0, currency: 'EUR' } },
      ]);
    } finally {
      await db.close();
    }
    // The new holder's address is sealed to its row.
    const [row] = await subgraph.sql<Array<{ email_sealed: string }>>`
      select email_sealed from messaging.order_book where id = ${toTicketId}`;
    expect(row!.email_sealed).not.toContain(receiver);
  });
});
