/** The organizer's views of an event: Event.salesSummary, Event.orders and Event.checkInStats. */
import { paymentSucceeded, refundSucceeded } from '@bilten/contracts/billing';
import { newEvent } from '@bilten/platform';
import { type CallerHeaders, startTestSubgraph, type TestSubgraph, waitFor } from '@bilten/testkit';
import { v7 as uuidv7 } from 'uuid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ordersSubgraph } from '../src/server.ts';
import {
  catalogOffers,
  type Money,
  type OfferPayload,
  offerPayload,
  reserve,
  ticketTypeOffer,
} from './support.ts';

let subgraph: TestSubgraph;
let catalog: ReturnType<typeof catalogOffers>;

beforeAll(async () => {
  subgraph = await startTestSubgraph(ordersSubgraph, 'jetstream');
  catalog = catalogOffers(subgraph);
});

afterAll(async () => {
  await subgraph?.dispose();
});

// ---------------------------------------------------------------- helpers

const eur = (amount: number) => ({ amount, currency: 'EUR' });
const customer = () => subgraph.bearer({ sub: uuidv7() });
const staffOf = (offer: OfferPayload, role = 'STAFF') =>
  subgraph.bearer({ sub: uuidv7(), orgs: { [offer.organizationId]: role } });
const apiKeyOf = (offer: OfferPayload, scopes: string[]) =>
  subgraph.bearer({ sub: uuidv7(), kind: 'api_key', org: offer.organizationId, scopes, mode: 'LIVE' });

interface Order {
  id: string;
  status: string;
  total: Money;
  createdAt: string;
}

/** Reserves the items as a new buyer and checks them out with `email`. */
async function checkedOut(eventId: string, items: Array<[string, number]>, email: string) {
  const buyer = await customer();
  const { reservation } = await reserve(
    subgraph,
    { eventId, items: items.map(([ticketTypeId, quantity]) => ({ ticketTypeId, quantity })) },
    buyer,
  );
  const { data, errors } = await subgraph.gql<{ checkout: { order: Order | null } }>(
    `mutation($input: CheckoutInput!) { checkout(input: $input) { order { id status total { amount currency } createdAt } } }`,
    { input: { reservationId: reservation!.id, buyer: { name: 'Buyer', email } } },
    buyer,
  );
  expect(errors).toBeUndefined();
  return data!.checkout.order!;
}

const statusOf = async (orderId: string) =>
  (await subgraph.sql<[{ status: string }]>`select status from orders.orders where id = ${orderId}`)[0]
    .status;

/** Billing's payment, simulated; resolves once the order is paid and ticketed. */
async function pay(order: Order) {
  await subgraph.testBus.bus.publish(
    newEvent(paymentSucceeded, uuidv7(), 1, { paymentId: uuidv7(), orderId: order.id, amount: order.total }),
  );
  await waitFor(async () => (await statusOf(order.id)) === 'PAID');
}

/** Billing's refund, simulated; resolves once the order shows it. */
async function refund(order: Order, amount: number, status: string) {
  await subgraph.testBus.bus.publish(
    newEvent(refundSucceeded, uuidv7(), 1, { refundId: uuidv7(), orderId: order.id, amount: eur(amount) }),
  );
  await waitFor(async () => (await statusOf(order.id)) === status);
}

async function checkIn(orderId: string, ticketTypeId: string, headers: CallerHeaders) {
  const [ticket] = await subgraph.sql<[{ signed_payload: string }]>`
    select signed_payload from orders.tickets where order_id = ${orderId} and ticket_type_id = ${ticketTypeId}
    order by id limit 1`;
  const { data, errors } = await subgraph.gql<{ checkInTicket: { errors: unknown[] } }>(
    `mutation($input: CheckInTicketInput!) { checkInTicket(input: $input) { errors { code } } }`,
    { input: { code: ticket.signed_payload } },
    headers,
  );
  expect(errors).toBeUndefined();
  expect(data!.checkInTicket.errors).toEqual([]);
}

const SUMMARY = `salesSummary {
  ticketTypes { ticketType { id } sold held remaining gross { amount currency } }
  sold held remaining gross { amount currency } }`;
const CHECK_INS = 'checkInStats { ticketTypes { ticketType { id } checkedIn valid } checkedIn valid }';

/** The events' fields as `headers` sees them, through federation's entity resolution. */
async function eventsSeenBy(eventIds: string[], headers: CallerHeaders, fields = `${SUMMARY} ${CHECK_INS}`) {
  const { data, errors } = await subgraph.gql<{ _entities: Array<Record<string, unknown>> }>(
    `query($representations: [_Any!]!) { _entities(representations: $representations) {
      ... on Event { ${fields} } } }`,
    { representations: eventIds.map((id) => ({ __typename: 'Event', id })) },
    headers,
  );
  expect(errors).toBeUndefined();
  return data!._entities;
}

interface Page {
  edges: Array<{ cursor: string; node: { id: string } }>;
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
}

async function ordersSeenBy(eventId: string, headers: CallerHeaders, args: Record<string, unknown>) {
  const { data, errors } = await subgraph.gql<{ _entities: Array<{ orders: Page | null }> }>(
    `query($representations: [_Any!]!, $filter: EventOrdersFilter, $first: Int, $after: String) {
      _entities(representations: $representations) { ... on Event {
        orders(filter: $filter, first: $first, after: $after) {
          edges { cursor node { id } } pageInfo { hasNextPage endCursor } } } } }`,
    { representations: [{ __typename: 'Event', id: eventId }], ...args },
    headers,
  );
  return { orders: data?._entities[0]?.orders ?? null, errors };
}

const ids = (page: Page | null) => page!.edges.map((edge) => edge.node.id);

// ---------------------------------------------------------------- the sale

/**
 * 20 seats shared by Regular (10 at 25.00) and VIP (15 at 90.00). Paid: A (2 Regular, 1 VIP), B
 * (1 Regular, 10.00 of it refunded), C (1 VIP, refunded in full); E (1 VIP) waits for payment; a
 * hold of 3 Regular is not checked out.
 */
async function sale() {
  const offer = await catalog.announce(
    offerPayload({
      capacity: 20,
      ticketTypes: [
        ticketTypeOffer({ name: 'Regular', priceAmount: 2500, capacity: 10 }),
        ticketTypeOffer({ name: 'VIP', priceAmount: 9000, capacity: 15 }),
      ],
    }),
  );
  const [regular, vip] = offer.ticketTypes.map((type) => type.ticketTypeId) as [string, string];
  const eventId = offer.eventId;
  const a = await checkedOut(
    eventId,
    [
      [regular, 2],
      [vip, 1],
    ],
    'Ana@Example.com',
  );
  const b = await checkedOut(eventId, [[regular, 1]], 'bob@example.com');
  const c = await checkedOut(eventId, [[vip, 1]], 'ana@example.com');
  const e = await checkedOut(eventId, [[vip, 1]], 'cara@example.com');
  return { offer, regular, vip, a, b, c, e };
}

describe('Event.salesSummary and Event.checkInStats', () => {
  it('count holds, paid orders, a partial and a full refund, and check-ins', async () => {
    const { offer, regular, vip, a, b, c } = await sale();
    const staff = await staffOf(offer);

    // Checked out, not paid: every ticket is held, none sold, nothing grossed.
    const [before] = await eventsSeenBy([offer.eventId], staff);
    expect(before!.salesSummary).toEqual({
      ticketTypes: [
        { ticketType: { id: regular }, sold: 0, held: 3, remaining: 7, gross: eur(0) },
        { ticketType: { id: vip }, sold: 0, held: 3, remaining: 12, gross: eur(0) },
      ].sort((x, y) => x.ticketType.id.localeCompare(y.ticketType.id)),
      sold: 0,
      held: 6,
      remaining: 14,
      gross: eur(0),
    });

    await pay(a);
    await pay(b);
    await pay(c);
    await refund(b, 1000, 'PARTIALLY_REFUNDED');
    await refund(c, 9000, 'REFUNDED');
    await reserve(
      subgraph,
      { eventId: offer.eventId, items: [{ ticketTypeId: regular, quantity: 3 }] },
      await customer(),
    );
    await checkIn(a.id, regular, staff);

    // Regular: sold 3 (A 2, B 1), held 3, 10 - 6 = 4 left. VIP: sold 1 (A; C's came back), held 1
    // (E), 15 - 2 = 13 left of its own, 20 - 8 = 12 of the event's. Gross: Regular 5000 + 2500 -
    // 1000, VIP 9000 (C's refunded in full); the event 14000 + 1500.
    const [after] = await eventsSeenBy([offer.eventId], staff);
    expect(after!.salesSummary).toEqual({
      ticketTypes: [
        { ticketType: { id: regular }, sold: 3, held: 3, remaining: 4, gross: eur(6500) },
        { ticketType: { id: vip }, sold: 1, held: 1, remaining: 12, gross: eur(9000) },
      ].sort((x, y) => x.ticketType.id.localeCompare(y.ticketType.id)),
      sold: 4,
      held: 4,
      remaining: 12,
      gross: eur(15_500),
    });
    // A's Regular: one in, one to come; B's Regular to come; A's VIP to come; C's VIP void.
    expect(after!.checkInStats).toEqual({
      ticketTypes: [
        { ticketType: { id: regular }, checkedIn: 1, valid: 2 },
        { ticketType: { id: vip }, checkedIn: 0, valid: 1 },
      ].sort((x, y) => x.ticketType.id.localeCompare(y.ticketType.id)),
      checkedIn: 1,
      valid: 3,
    });
    // The organization's API key with orders:read sees the same.
    expect(await eventsSeenBy([offer.eventId], await apiKeyOf(offer, ['orders:read']))).toEqual([after]);
  });

  it('answers a list of events, each its own, and an event orders never heard of as null', async () => {
    const first = await catalog.announce(offerPayload());
    const second = await catalog.announce(offerPayload({ organizationId: first.organizationId }));
    await checkedOut(second.eventId, [[second.ticketTypes[0]!.ticketTypeId, 2]], 'x@example.com');
    const seen = await eventsSeenBy([first.eventId, second.eventId, uuidv7()], await staffOf(first, 'OWNER'));
    expect(seen.map((event) => (event.salesSummary as { held: number } | null)?.held ?? null)).toEqual([
      0,
      2,
      null,
    ]);
    expect(seen[2]!.checkInStats).toBeNull();
  });

  it('are null to a customer, another organization, an API key without orders:read and anyone anonymous', async () => {
    const { offer } = await sale();
    const strangers = [
      await customer(),
      await subgraph.bearer({ sub: uuidv7(), orgs: { [uuidv7()]: 'OWNER' } }),
      await apiKeyOf(offer, ['events:read']),
      await subgraph.bearer({
        sub: uuidv7(),
        kind: 'api_key',
        org: uuidv7(),
        scopes: ['orders:read'],
        mode: 'LIVE',
      }),
      {},
    ];
    for (const headers of strangers) {
      expect(await eventsSeenBy([offer.eventId], headers)).toEqual([
        { salesSummary: null, checkInStats: null },
      ]);
      expect((await ordersSeenBy(offer.eventId, headers, {})).orders).toBeNull();
    }
  });
});

describe('Event.orders', () => {
  it('lists the event’s orders newest first, by pages, filtered by status, email and time', async () => {
    const { offer, a, b, c, e } = await sale();
    await pay(a);
    await pay(c);
    await refund(c, 9000, 'REFUNDED');
    const staff = await staffOf(offer);

    const firstPage = await ordersSeenBy(offer.eventId, staff, { first: 2 });
    expect(firstPage.errors).toBeUndefined();
    expect(ids(firstPage.orders)).toEqual([e.id, c.id]);
    expect(firstPage.orders!.pageInfo.hasNextPage).toBe(true);
    const secondPage = await ordersSeenBy(offer.eventId, staff, {
      first: 2,
      after: firstPage.orders!.pageInfo.endCursor,
    });
    expect(ids(secondPage.orders)).toEqual([b.id, a.id]);
    expect(secondPage.orders!.pageInfo).toEqual({
      hasNextPage: false,
      endCursor: secondPage.orders!.edges[1]!.cursor,
    });

    const filtered = async (filter: Record<string, unknown>) =>
      ids((await ordersSeenBy(offer.eventId, staff, { filter })).orders);
    expect(await filtered({ email: ' ANA@example.COM ' })).toEqual([c.id, a.id]);
    expect(await filtered({ status: 'PAID' })).toEqual([a.id]);
    expect(await filtered({ status: 'REFUNDED', email: 'ana@example.com' })).toEqual([c.id]);
    expect(await filtered({ status: 'PENDING_PAYMENT' })).toEqual([e.id, b.id]);
    expect(await filtered({ createdAfter: b.createdAt })).toEqual([e.id, c.id]);
    expect(await filtered({ email: 'nobody@example.com' })).toEqual([]);

    // The organization's API key with orders:read; page sizes and cursors are checked.
    expect(
      ids((await ordersSeenBy(offer.eventId, await apiKeyOf(offer, ['orders:read']), {})).orders),
    ).toEqual([e.id, c.id, b.id, a.id]);
    const tooMany = await ordersSeenBy(offer.eventId, staff, { first: 101 });
    expect(tooMany.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    const forged = await ordersSeenBy(offer.eventId, staff, { after: 'not-a-cursor' });
    expect(forged.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });
});
