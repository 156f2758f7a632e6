import { paymentSucceeded } from '@bilten/contracts/billing';
import { eventAvailabilityChanged, personalDataErased, personalDataExported } from '@bilten/contracts/orders';
import { ERASED_EMAIL, ERASED_NAME, newEvent } from '@bilten/platform';
import {
  type CallerHeaders,
  personalDataLeftIn,
  privacyRequests,
  startTestSubgraph,
  type TestSubgraph,
  waitFor,
} from '@bilten/testkit';
import { v7 as uuidv7 } from 'uuid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openOrder } from '../src/db/person-data.ts';
import type { OrderRow } from '../src/db/schema.ts';
import { ordersSubgraph } from '../src/server.ts';
import {
  catalogOffers,
  type Money,
  type OfferPayload,
  offerPayload,
  peopleOf,
  reserve,
  ticketTypeOffer,
} from './support.ts';

// Orders' step of a user's export and erasure (issue 18), driven as identity drives it: over the bus.

let subgraph: TestSubgraph;
let catalog: ReturnType<typeof catalogOffers>;
let privacy: Awaited<ReturnType<typeof privacyRequests>>;

const ANA = { userId: uuidv7(), email: 'ana.privacy@example.com', name: 'Ana Privatna' };
const GUEST_NAME = 'Ana Gostujuća';
const CO_ATTENDEE = 'Mirza Pratilac';
const BERINA = { userId: uuidv7(), email: 'berina.other@example.org', name: 'Berina Druga' };
const FRIEND = 'prijatelj.friend@example.org';
let ana: CallerHeaders;
let world: Awaited<ReturnType<typeof anaAndBerina>>;
let berina: CallerHeaders;
let keys: ReturnType<typeof peopleOf>;

beforeAll(async () => {
  subgraph = await startTestSubgraph(ordersSubgraph, 'jetstream');
  keys = peopleOf(subgraph);
  catalog = catalogOffers(subgraph);
  privacy = await privacyRequests(subgraph.testBus.bus, {
    exported: personalDataExported,
    erased: personalDataErased,
  });
  ana = await subgraph.bearer({ sub: ANA.userId });
  berina = await subgraph.bearer({ sub: BERINA.userId });
});

afterAll(async () => {
  await keys?.close();
  await subgraph?.dispose();
});

type Buyer = { name: string; email: string };

/** A checkout of `quantity` tickets of the offer's first type; a guest's (no headers) with its token. */
async function buy(
  offer: OfferPayload,
  buyer: Buyer,
  headers: CallerHeaders | null,
  attendees: Array<{ name: string }> = [],
  quantity = 1,
) {
  const held = await reserve(
    subgraph,
    { eventId: offer.eventId, items: [{ ticketTypeId: offer.ticketTypes[0]!.ticketTypeId, quantity }] },
    headers ?? { 'x-forwarded-for': '198.51.100.7' },
  );
  const { data, errors } = await subgraph.gql<{ checkout: { order: { id: string; total: Money } | null } }>(
    `mutation($input: CheckoutInput!) { checkout(input: $input) { order { id total { amount currency } } } }`,
    { input: { reservationId: held.reservation!.id, guestToken: held.guestToken ?? null, buyer, attendees } },
    headers ?? {},
  );
  expect(errors).toBeUndefined();
  return data!.checkout.order!;
}

/** A paid order (billing's payment simulated), with its tickets once issued. */
async function paid(
  offer: OfferPayload,
  buyer: Buyer,
  headers: CallerHeaders,
  attendees: Array<{ name: string }>,
  quantity: number,
) {
  const order = await buy(offer, buyer, headers, attendees, quantity);
  await subgraph.testBus.bus.publish(
    newEvent(paymentSucceeded, uuidv7(), 1, { paymentId: uuidv7(), orderId: order.id, amount: order.total }),
  );
  const tickets = await waitFor(async () => {
    const rows = await subgraph.sql<
      Array<{ id: string }>
    >`select id from orders.tickets where order_id = ${order.id} order by id`;
    return rows.length === quantity && rows;
  });
  return { order, tickets };
}

async function transfer(ticketId: string, toEmail: string, toName: string, headers: CallerHeaders) {
  const { data } = await subgraph.gql<{ transferTicket: { errors: unknown[] } }>(
    `mutation($input: TransferTicketInput!) { transferTicket(input: $input) { errors { code } } }`,
    { input: { ticketId, toEmail, toName } },
    headers,
  );
  expect(data?.transferTicket.errors).toEqual([]);
}

/**
 * Ana's world: a paid order naming a co-attendee, one of its tickets given to a friend, a guest
 * order under her address (from before her account), a ticket Berina gives her, a waiting-list
 * place and a live hold; and Berina's own order of the same event.
 */
async function anaAndBerina() {
  const offer = await catalog.announce(offerPayload());
  const hers = await paid(
    offer,
    { name: ANA.name, email: ANA.email },
    ana,
    [{ name: ANA.name }, { name: CO_ATTENDEE }],
    3,
  );
  await transfer(hers.tickets[2]!.id, FRIEND, 'Prijatelj', ana);
  const guestOrder = await buy(offer, { name: GUEST_NAME, email: 'Ana.Privacy@Example.com' }, null);
  const theirs = await paid(offer, { name: BERINA.name, email: BERINA.email }, berina, [], 2);
  await transfer(theirs.tickets[1]!.id, ANA.email, ANA.name, berina);
  const soldOut = await catalog.announce(offerPayload({ ticketTypes: [ticketTypeOffer({ capacity: 1 })] }));
  const soldOutType = soldOut.ticketTypes[0]!.ticketTypeId;
  await reserve(
    subgraph,
    { eventId: soldOut.eventId, items: [{ ticketTypeId: soldOutType, quantity: 1 }] },
    berina,
  );
  const joined = await subgraph.gql<{ joinWaitingList: { entry: { id: string } | null } }>(
    `mutation($input: JoinWaitingListInput!) { joinWaitingList(input: $input) { entry { id } } }`,
    { input: { eventId: soldOut.eventId, quantity: 1, email: ANA.email } },
    ana,
  );
  expect(joined.data?.joinWaitingList.entry).not.toBeNull();
  const holdEvent = await catalog.announce(offerPayload());
  const { reservation: hold } = await reserve(
    subgraph,
    {
      eventId: holdEvent.eventId,
      items: [{ ticketTypeId: holdEvent.ticketTypes[0]!.ticketTypeId, quantity: 1 }],
    },
    ana,
  );
  return { paid: hers, guestOrder, theirs, hold: hold!, holdEvent };
}

describe("orders' step of a user's privacy requests", () => {
  beforeAll(async () => {
    world = await anaAndBerina();
  });

  it('exports her orders, tickets, waiting-list place and hold, and nothing of anyone else', async () => {
    const { paid: hers, theirs, hold } = world;
    const part = (await privacy.exportOf(ANA.userId)) as {
      service: string;
      orders: Array<{
        id: string;
        buyerEmail: string;
        attendees: Array<{ name: string }>;
        tickets: Array<{ id: string; attendeeName: string; status: string }>;
        createdAt: string;
      }>;
      waitingList: Array<{ email: string }>;
      reservations: Array<{ id: string; items: unknown[] }>;
    };
    expect(part.service).toBe('orders');
    expect(part.orders.map((order) => order.id)).toEqual([hers.order.id]);
    const [order] = part.orders;
    expect(order!.buyerEmail).toBe(ANA.email);
    expect(order!.attendees).toEqual([{ name: ANA.name }, { name: CO_ATTENDEE }]);
    expect(order!.createdAt).toMatch(/^\d{4}-\d{2}-\d{2}T.*Z$/);
    // Her three tickets, one of them given away; the recipient's new ticket is not hers to see.
    expect(order!.tickets.map((ticket) => ticket.status).sort()).toEqual(['TRANSFERRED', 'VALID', 'VALID']);
    expect(part.waitingList).toEqual([expect.objectContaining({ email: ANA.email, status: 'WAITING' })]);
    expect(part.reservations.map((row) => row.id)).toEqual([hold.id]);
    const text = JSON.stringify(part);
    for (const theirsToo of [BERINA.email, BERINA.name, FRIEND, theirs.order.id, 'signedPayload', 'code'])
      expect(text).not.toContain(theirsToo);
  });

  it('erases her: names and addresses gone from every table, orders kept anonymized, others untouched, once', async () => {
    // What was published about her is relayed first: sent outbox rows are erasure's to purge.
    await waitFor(async () => {
      const [row] = await subgraph.sql<
        [{ n: number }]
      >`select count(*)::int as n from orders.outbox where sent_at is null`;
      return row.n === 0;
    });
    const request = privacy.erasureRequest({ userId: ANA.userId, email: 'ANA.privacy@example.com' });
    const summary = await privacy.erase(request);
    expect(summary).toMatchObject({
      'orders.anonymized': expect.any(Number),
      'tickets.anonymized': expect.any(Number),
      'waiting_list_entries.deleted': 1,
      'reservations.deleted': 1,
    });
    expect(summary['outbox.purged']).toBeGreaterThan(0);

    const leftovers = await personalDataLeftIn(
      subgraph.sql,
      ['orders'],
      [ANA.email, ANA.name, GUEST_NAME, CO_ATTENDEE],
    );
    expect(leftovers).toEqual([]);

    // Financial records stay: amounts, status, the event; anonymized (markers, not ciphertext).
    const kept = await subgraph.sql`
      select id, status, total_amount > 0 as charged, buyer_name_sealed, buyer_email_sealed, buyer_email_index,
        attendees_sealed from orders.orders
      where id in ${subgraph.sql([world.paid.order.id, world.guestOrder.id])} order by created_at`;
    const erased = {
      charged: true,
      buyer_name_sealed: ERASED_NAME,
      buyer_email_sealed: ERASED_EMAIL,
      buyer_email_index: null,
      attendees_sealed: '[]',
    };
    expect(kept).toEqual([
      { id: world.paid.order.id, status: 'PAID', ...erased },
      { id: world.guestOrder.id, status: 'PENDING_PAYMENT', ...erased },
    ]);
    const tickets = await subgraph.sql`
      select status, attendee_name_sealed like 'p1.%' as sealed, attendee_name_sealed = ${ERASED_NAME} as marked,
        holder_email_index from orders.tickets where order_id = ${world.paid.order.id}`;
    // Hers anonymized (still valid: the event is to come); the one she gave away stays its recipient's.
    expect(tickets).toHaveLength(4);
    const friendIndex = keys.people.keys.index(FRIEND, 'email');
    expect(tickets).toEqual(
      expect.arrayContaining([
        { status: 'VALID', sealed: false, marked: true, holder_email_index: null },
        { status: 'TRANSFERRED', sealed: false, marked: true, holder_email_index: null },
        { status: 'VALID', sealed: true, marked: false, holder_email_index: friendIndex },
      ]),
    );
    // The ticket Berina gave her keeps its place, under the marker; Berina's order is untouched.
    const [gift] = await subgraph.sql`
      select attendee_name_sealed, holder_email_sealed, status from orders.tickets
      where order_id = ${world.theirs.order.id} and holder_email_index is not null`;
    expect(gift).toEqual({
      attendee_name_sealed: ERASED_NAME,
      holder_email_sealed: ERASED_EMAIL,
      status: 'VALID',
    });
    const [theirs] = await subgraph.sql<[OrderRow]>`
      select id, buyer_id as "buyerId", buyer_email_index as "buyerEmailIndex", buyer_name_sealed as "buyerNameSealed",
        buyer_email_sealed as "buyerEmailSealed", attendees_sealed as "attendeesSealed"
      from orders.orders where id = ${world.theirs.order.id}`;
    expect(await openOrder(keys.db, keys.people, theirs)).toMatchObject({
      buyerName: BERINA.name,
      buyerEmail: BERINA.email,
    });
    // Her live hold is gone and its stock back on sale, told as on a release.
    const [holdLeft] =
      await subgraph.sql`select count(*)::int as n from orders.reservations where id = ${world.hold.id}`;
    expect(holdLeft).toEqual({ n: 0 });
    const told = await subgraph.sql`
      select 1 from orders.outbox where type = ${eventAvailabilityChanged.type} and aggregate_id = ${world.holdEvent.eventId}`;
    expect(told).toHaveLength(2); // the hold's, and its end's

    // A redelivery of the request answers nothing more; a second erasure finds nothing left.
    await subgraph.testBus.bus.publish(request);
    const again = await privacy.erase(privacy.erasureRequest({ userId: ANA.userId, email: ANA.email }));
    expect(privacy.answersTo(request.payload.requestId)).toHaveLength(1);
    expect(again).toMatchObject({
      'orders.anonymized': 0,
      'tickets.anonymized': 0,
      'waiting_list_entries.deleted': 0,
      'reservations.deleted': 0,
    });
  });
});
