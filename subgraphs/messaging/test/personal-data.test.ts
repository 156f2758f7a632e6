import { userRegistered } from '@bilten/contracts/identity';
import { personalDataErased, personalDataExported } from '@bilten/contracts/messaging';
import { orderPaid, ticketTransferred } from '@bilten/contracts/orders';
import { newEvent } from '@bilten/platform';
import {
  personalDataLeftIn,
  privacyRequests,
  startTestSubgraph,
  type TestSubgraph,
  testLinkTokens,
  waitFor,
} from '@bilten/testkit';
import { v7 as uuidv7 } from 'uuid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sealNotification } from '../src/db/notification-texts.ts';
import { notifications } from '../src/db/schema.ts';
import { messagingSubgraph } from '../src/server.ts';
import { testPersonKeys } from './support.ts';

// Messaging's step of a user's export and erasure (issue 18), driven as identity drives it: over the bus.

let subgraph: TestSubgraph;
let privacy: Awaited<ReturnType<typeof privacyRequests>>;

const ADA = {
  userId: uuidv7(),
  email: 'ada.privacy@example.com',
  name: 'Ada Privatna',
  phone: '+38761555111',
};
const ADA_AS_GUEST = 'Ada Gostujuća';
const BERINA = { userId: uuidv7(), email: 'berina.other@example.org', name: 'Berina Druga' };
const ORGANIZATION = uuidv7();
const EVENT = uuidv7();

beforeAll(async () => {
  subgraph = await startTestSubgraph(messagingSubgraph, 'jetstream');
  privacy = await privacyRequests(subgraph.testBus.bus, {
    exported: personalDataExported,
    erased: personalDataErased,
  });
  await adaAndBerina();
});

afterAll(async () => {
  await subgraph?.dispose();
});

const registered = (user: { userId: string; email: string; name: string }) =>
  newEvent(userRegistered, user.userId, 1, {
    userId: user.userId,
    email: user.email,
    displayName: user.name,
    sealedToken: testLinkTokens.seal(`v-${uuidv7()}`, user.userId),
    expiresAt: new Date(Date.now() + 86_400_000).toISOString(),
  });

const paid = (buyer: { userId: string | null; email: string; name: string }) => {
  const orderId = uuidv7();
  const ticketId = uuidv7();
  return newEvent(orderPaid, orderId, 1, {
    orderId,
    eventId: EVENT,
    organizationId: ORGANIZATION,
    buyerId: buyer.userId,
    buyerEmail: buyer.email,
    buyerName: buyer.name,
    eventTitle: 'Sarajevo Jazz Night',
    tickets: [{ ticketId, sealedToken: testLinkTokens.seal(`t-${uuidv7()}`, ticketId) }],
    total: { amount: 5000, currency: 'EUR' },
  });
};

const rows = async (table: string) =>
  (
    await subgraph.sql<[{ n: number }]>`select count(*)::int as n from ${subgraph.sql(`messaging.${table}`)}`
  )[0].n;

/**
 * Ada: registered (her verification mail), a phone number, a follow and a push subscription, a paid
 * order, a guest order under her address in other letters, a ticket given to her; Berina: registered,
 * a paid order.
 */
async function adaAndBerina() {
  const toTicketId = uuidv7();
  const events = [
    registered(ADA),
    registered(BERINA),
    paid(ADA),
    paid({ userId: null, email: 'Ada.Privacy@Example.COM', name: ADA_AS_GUEST }),
    paid({ ...BERINA }),
  ];
  for (const event of events) await subgraph.testBus.bus.publish(event);
  await waitFor(async () => (await rows('order_book')) === 3 && (await rows('recipients')) === 2);
  // Berina gives Ada a ticket of the event, once messaging knows it.
  await subgraph.testBus.bus.publish(
    newEvent(ticketTransferred, toTicketId, 1, {
      fromTicketId: uuidv7(),
      toTicketId,
      eventId: EVENT,
      fromEmail: BERINA.email,
      toEmail: ADA.email,
      toName: ADA.name,
      eventTitle: 'Sarajevo Jazz Night',
      sealedToken: testLinkTokens.seal(`t-${uuidv7()}`, toTicketId),
    }),
  );
  const phone = await subgraph.gql<{ updateNotificationPreferences: { errors: unknown[] } }>(
    `mutation($input: UpdateNotificationPreferencesInput!) { updateNotificationPreferences(input: $input) { errors { code } } }`,
    { input: { phoneNumber: ADA.phone } },
    await subgraph.bearer({ sub: ADA.userId }),
  );
  expect(phone.data?.updateNotificationPreferences.errors).toEqual([]);
  // Fixtures of rows other tests make through their own flows.
  await subgraph.sql`insert into messaging.follows (user_id, organization_id) values (${ADA.userId}, ${ORGANIZATION}), (${BERINA.userId}, ${ORGANIZATION})`;
  await subgraph.sql`
    insert into messaging.push_subscriptions (id, user_id, endpoint, p256dh, auth, user_agent)
    values (${uuidv7()}, ${ADA.userId}, ${`https://push.example.net/${uuidv7()}`}, 'p256dh', 'auth', 'Firefox')`;
  await waitFor(async () => (await rows('order_book')) === 4);
  await waitFor(async () => (await rows('deliveries')) >= 6);
  const person = testPersonKeys(subgraph.database.url);
  await person.db.transaction(async (tx) => {
    const notification = { id: uuidv7(), recipientId: ADA.userId, channel: 'IN_APP' as const };
    const texts = { subject: 'Your tickets', body: `Hello ${ADA.name}` };
    await tx
      .insert(notifications)
      .values((await sealNotification(tx, person.keys, { ...notification, ...texts }))!);
  });
  await person.close();
}

describe("messaging's step of a user's privacy requests", () => {
  it('exports her address book entry, number, orders, notifications and deliveries, opened, and nothing of anyone else', async () => {
    const part = (await privacy.exportOf(ADA.userId)) as {
      service: string;
      recipient: { email: string; displayName: string };
      preferences: { phoneNumber: string };
      orders: Array<{ name: string; email: string }>;
      deliveries: Array<{ address: string; channel: string }>;
      notifications: Array<{ subject: string; body: string }>;
      follows: unknown[];
      pushSubscriptions: unknown[];
    };
    expect(part.service).toBe('messaging');
    expect(part.recipient).toMatchObject({ email: ADA.email, displayName: ADA.name });
    expect(part.preferences.phoneNumber).toBe(ADA.phone);
    // Her order, her guest order and the ticket given to her, found by the address identity vouches for.
    expect(part.orders.map((row) => row.name).sort()).toEqual([ADA.name, ADA.name, ADA_AS_GUEST].sort());
    expect(part.deliveries.length).toBeGreaterThanOrEqual(3);
    for (const delivery of part.deliveries) expect(delivery.address.toLowerCase()).toBe(ADA.email);
    expect(part.notifications).toContainEqual(
      expect.objectContaining({ subject: 'Your tickets', body: `Hello ${ADA.name}` }),
    );
    expect(part.follows).toHaveLength(1);
    expect(part.pushSubscriptions).toHaveLength(1);
    const text = JSON.stringify(part);
    for (const notHers of [BERINA.email, BERINA.name, 'Sealed', 'p256dh'])
      expect(text).not.toContain(notHers);
  });

  it('erases her: everything deleted, nothing of her readable anywhere, others untouched, once', async () => {
    await waitFor(async () => {
      const [row] = await subgraph.sql<
        [{ n: number }]
      >`select count(*)::int as n from messaging.outbox where sent_at is null`;
      return row.n === 0;
    });
    const berinaBefore = await subgraph.sql`
      select (select count(*)::int from messaging.deliveries where recipient_id = ${BERINA.userId}) as deliveries,
        (select count(*)::int from messaging.order_book where user_id = ${BERINA.userId}) as orders`;
    const request = privacy.erasureRequest({ userId: ADA.userId, email: 'ADA.privacy@example.com' });
    const summary = await privacy.erase(request);
    expect(summary).toMatchObject({
      'recipients.deleted': 1,
      'notification_preferences.deleted': 1,
      'order_book.deleted': 3,
      'follows.deleted': 1,
      'push_subscriptions.deleted': 1,
    });
    expect(summary['deliveries.deleted']).toBeGreaterThanOrEqual(3);
    expect(summary['notifications.deleted']).toBeGreaterThanOrEqual(1);

    expect(
      await personalDataLeftIn(subgraph.sql, ['messaging'], [ADA.email, ADA.name, ADA_AS_GUEST, ADA.phone]),
    ).toEqual([]);
    // Nothing keyed by her is left, sealed or not.
    const [left] = await subgraph.sql`
      select (select count(*)::int from messaging.deliveries where recipient_id = ${ADA.userId}) as deliveries,
        (select count(*)::int from messaging.notifications where recipient_id = ${ADA.userId}) as notifications,
        (select count(*)::int from messaging.order_book) as order_book,
        (select count(*)::int from messaging.recipients) as recipients`;
    expect(left).toEqual({ deliveries: 0, notifications: 0, order_book: 1, recipients: 1 });
    expect(
      await subgraph.sql`
      select (select count(*)::int from messaging.deliveries where recipient_id = ${BERINA.userId}) as deliveries,
        (select count(*)::int from messaging.order_book where user_id = ${BERINA.userId}) as orders`,
    ).toEqual(berinaBefore);

    // A redelivery of the request answers nothing more; a second erasure finds nothing left.
    await subgraph.testBus.bus.publish(request);
    const again = await privacy.erase(privacy.erasureRequest({ userId: ADA.userId, email: ADA.email }));
    expect(privacy.answersTo(request.payload.requestId)).toHaveLength(1);
    for (const [key, count] of Object.entries(again))
      if (key !== 'outbox.purged' && key !== 'outbox.unsent_kept') expect([key, count]).toEqual([key, 0]);
  });
});
