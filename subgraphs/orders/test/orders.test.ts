import { paymentFailed, paymentSucceeded, refundSucceeded } from '@bilten/contracts/billing';
import { eventSalesChanged, orderCreated, orderPaid, refundRequested } from '@bilten/contracts/orders';
import { linkTokenSeal, newEvent } from '@bilten/platform';
import { recordEvents, startTestSubgraph, type TestSubgraph, waitFor } from '@bilten/testkit';
import { queryEntities } from '@bilten/testkit/checks';
import { v7 as uuidv7 } from 'uuid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTicketLinks } from '../src/adapters/ticket-links.ts';
import { ordersSubgraph } from '../src/server.ts';
import {
  callReserve,
  catalogOffers,
  type Money,
  type OfferPayload,
  offerPayload,
  reserve,
  stockOf,
  ticketTypeOffer,
  type UserError,
} from './support.ts';

let subgraph: TestSubgraph;
let catalog: ReturnType<typeof catalogOffers>;
const BUYER = uuidv7();
let buyer: Record<string, string>;
let otherBuyer: Record<string, string>;
let created: Awaited<ReturnType<typeof recordEvents<typeof orderCreated.payload>>>;
let sales: Awaited<ReturnType<typeof recordEvents<typeof eventSalesChanged.payload>>>;
let refunds: Awaited<ReturnType<typeof recordEvents<typeof refundRequested.payload>>>;
let paidOrders: Awaited<ReturnType<typeof recordEvents<typeof orderPaid.payload>>>;

beforeAll(async () => {
  subgraph = await startTestSubgraph(ordersSubgraph, 'jetstream');
  catalog = catalogOffers(subgraph);
  buyer = await subgraph.bearer({ sub: BUYER });
  otherBuyer = await subgraph.bearer({ sub: uuidv7() });
  created = await recordEvents(subgraph.testBus.bus, orderCreated);
  sales = await recordEvents(subgraph.testBus.bus, eventSalesChanged);
  refunds = await recordEvents(subgraph.testBus.bus, refundRequested);
  paidOrders = await recordEvents(subgraph.testBus.bus, orderPaid);
});

afterAll(async () => {
  await subgraph?.dispose();
});

// ---------------------------------------------------------------- helpers

interface Order {
  id: string;
  status: string;
  lines: Array<{ ticketType: { id: string }; quantity: number; unitPrice: Money; subtotal: Money }>;
  fees: Money;
  taxes: Money;
  total: Money;
  refunded: Money;
  buyer: { name: string; email: string; user: { id: string } | null };
  event: { id: string };
  expiresAt: string;
  createdAt: string;
}

const ORDER_FIELDS = `id status
  lines { ticketType { id } quantity unitPrice { amount currency } subtotal { amount currency } }
  fees { amount currency } taxes { amount currency } total { amount currency } refunded { amount currency }
  buyer { name email user { id } } event { id } expiresAt createdAt`;

const BUYER_INPUT = { name: 'Ana Kovač', email: 'Ana@Example.com' };

async function callCheckout(reservationId: string, headers = buyer, extra: Record<string, unknown> = {}) {
  const { data, errors } = await subgraph.gql<{ checkout: { order: Order | null; errors: UserError[] } }>(
    `mutation($input: CheckoutInput!) {
      checkout(input: $input) { order { ${ORDER_FIELDS} } errors { code message field } }
    }`,
    { input: { reservationId, buyer: BUYER_INPUT, ...extra } },
    headers,
  );
  expect(errors).toBeUndefined();
  return data!.checkout;
}

async function orderSeenBy(id: string, headers = buyer) {
  const { data, errors } = await subgraph.gql<{ order: Order | null }>(
    `query($id: ID!) { order(id: $id) { ${ORDER_FIELDS} } }`,
    { id },
    headers,
  );
  expect(errors).toBeUndefined();
  return data!.order;
}

/** A published event with two ticket types (25.00 and 90.00 EUR). */
const announceEvent = () =>
  catalog.announce(
    offerPayload({
      ticketTypes: [
        ticketTypeOffer({ name: 'Regular', priceAmount: 2500 }),
        ticketTypeOffer({ name: 'VIP', priceAmount: 9000 }),
      ],
    }),
  );

/** Reserves `regular` Regular and `vip` VIP tickets and checks them out as `headers`. */
async function checkedOutOrder(offer: OfferPayload, regular = 2, vip = 1, headers = buyer) {
  const items = [
    { ticketTypeId: offer.ticketTypes[0]!.ticketTypeId, quantity: regular },
    { ticketTypeId: offer.ticketTypes[1]!.ticketTypeId, quantity: vip },
  ].filter((item) => item.quantity > 0);
  const { reservation } = await reserve(subgraph, { eventId: offer.eventId, items }, headers);
  const { order, errors } = await callCheckout(reservation!.id, headers);
  expect(errors).toEqual([]);
  return { order: order!, reservationId: reservation!.id };
}

/** Billing's side, simulated until billing lands: each event as its own payment aggregate. */
const pay = (order: Order, amount = order.total, paymentId = uuidv7()) =>
  subgraph.testBus.bus.publish(
    newEvent(paymentSucceeded, uuidv7(), 1, { paymentId, orderId: order.id, amount }),
  );

const refund = (order: Order, amount: number, refundId = uuidv7()) =>
  subgraph.testBus.bus.publish(
    newEvent(refundSucceeded, uuidv7(), 1, {
      refundId,
      orderId: order.id,
      amount: { amount, currency: order.total.currency },
    }),
  );

const statusOf = async (id: string) => (await orderSeenBy(id))!.status;
const untilStatus = (id: string, status: string) => waitFor(async () => (await statusOf(id)) === status);
const refusalsOf = (orderId: string) =>
  subgraph.logs.filter((line) => line.orderId === orderId && line.msg === 'illegal order transition refused');

/** Makes the order's hold (and so the order) run out now. */
const expire = (reservationId: string) =>
  subgraph.sql.begin(async (sql) => {
    await sql`update orders.reservations set expires_at = now() - interval '1 second' where id = ${reservationId}`;
    await sql`update orders.orders set expires_at = now() - interval '1 second' where reservation_id = ${reservationId}`;
  });

const soldOf = async (offer: OfferPayload) => {
  const { types } = await stockOf(subgraph, offer.eventId);
  return offer.ticketTypes.map((type) => types.get(type.ticketTypeId)!.sold);
};

// ---------------------------------------------------------------- checkout

describe('checkout', () => {
  it('turns a live reservation into an order waiting for payment and announces it', async () => {
    const offer = await announceEvent();
    const { order, reservationId } = await checkedOutOrder(offer, 2, 1);
    const [regular, vip] = offer.ticketTypes.map((type) => type.ticketTypeId);
    const eur = (amount: number) => ({ amount, currency: 'EUR' });
    expect(order).toMatchObject({
      status: 'PENDING_PAYMENT',
      lines: [
        { ticketType: { id: regular }, quantity: 2, unitPrice: eur(2500), subtotal: eur(5000) },
        { ticketType: { id: vip }, quantity: 1, unitPrice: eur(9000), subtotal: eur(9000) },
      ].sort((a, b) => a.ticketType.id!.localeCompare(b.ticketType.id!)),
      fees: eur(0),
      taxes: eur(0),
      total: eur(14_000),
      refunded: eur(0),
      buyer: { name: 'Ana Kovač', email: 'ana@example.com', user: { id: BUYER } },
      event: { id: offer.eventId },
    });
    const [hold] = await subgraph.sql<[{ status: string; expires_at: Date }]>`
      select status, expires_at from orders.reservations where id = ${reservationId}`;
    expect(hold.status).toBe('CHECKED_OUT');
    expect(new Date(order.expiresAt)).toEqual(hold.expires_at);
    expect(await orderSeenBy(order.id)).toEqual(order);
    // The checked-out hold still counts against stock until the order is paid or expires.
    expect((await stockOf(subgraph, offer.eventId)).event).toMatchObject({ sold: 0, held: 3 });
    const event = await waitFor(async () => created.find((e) => e.payload.orderId === order.id));
    expect(event.payload).toEqual({
      orderId: order.id,
      eventId: offer.eventId,
      organizationId: offer.organizationId,
      buyerId: BUYER,
      // A signed-in buyer pays as themself; only a guest's token hash travels to billing.
      guestTokenHash: null,
      buyerEmail: 'ana@example.com',
      // What a receipt says was bought: billing has no other source for it.
      buyerName: 'Ana Kovač',
      eventTitle: offer.title,
      lines: expect.arrayContaining(
        offer.ticketTypes.map((type, index) => ({
          ticketTypeId: type.ticketTypeId,
          name: type.name,
          quantity: [2, 1][index],
          unitPrice: eur([2500, 9000][index]!),
        })),
      ),
      subtotal: eur(14_000),
      fees: eur(0),
      taxes: eur(0),
      taxBasisPoints: 0,
      total: eur(14_000),
      expiresAt: order.expiresAt,
      refundPolicy: offer.refundPolicy,
      eventStartsAt: offer.startsAt,
    });
  });

  it('keeps the tickets of a checked-out order off sale until it is paid or expires', async () => {
    const offer = await catalog.announce(
      offerPayload({ capacity: 2, ticketTypes: [ticketTypeOffer({ name: 'Last two', capacity: 2 })] }),
    );
    const ticketTypeId = offer.ticketTypes[0]!.ticketTypeId;
    const { reservation } = await reserve(
      subgraph,
      { eventId: offer.eventId, items: [{ ticketTypeId, quantity: 2 }] },
      buyer,
    );
    expect((await callCheckout(reservation!.id)).errors).toEqual([]);
    const late = await callReserve(
      subgraph,
      { eventId: offer.eventId, items: [{ ticketTypeId, quantity: 1 }] },
      otherBuyer,
    );
    expect(late.payload!.errors.map((error) => error.code)).toEqual(['SOLD_OUT']);
  });

  it('is idempotent: two concurrent checkouts of one reservation make one order', async () => {
    const offer = await announceEvent();
    const { reservation } = await reserve(
      subgraph,
      { eventId: offer.eventId, items: [{ ticketTypeId: offer.ticketTypes[0]!.ticketTypeId, quantity: 1 }] },
      buyer,
    );
    const [a, b] = await Promise.all([callCheckout(reservation!.id), callCheckout(reservation!.id)]);
    expect(a.errors).toEqual([]);
    expect(b).toEqual(a);
    expect((await callCheckout(reservation!.id)).order!.id).toBe(a.order!.id);
    const rows = await subgraph.sql`select id from orders.orders where reservation_id = ${reservation!.id}`;
    expect(rows).toHaveLength(1);
    await waitFor(async () => created.some((e) => e.payload.orderId === a.order!.id));
    expect(created.filter((e) => e.payload.orderId === a.order!.id)).toHaveLength(1);
  });

  it("answers another user's reservation as an unknown one, and orders nothing", async () => {
    const offer = await announceEvent();
    const { reservation } = await reserve(
      subgraph,
      { eventId: offer.eventId, items: [{ ticketTypeId: offer.ticketTypes[0]!.ticketTypeId, quantity: 1 }] },
      buyer,
    );
    for (const id of [reservation!.id, uuidv7()])
      expect(await callCheckout(id, otherBuyer)).toEqual({
        order: null,
        errors: [{ code: 'NOT_FOUND', message: expect.any(String), field: ['input', 'reservationId'] }],
      });
    expect(
      await subgraph.sql`select id from orders.orders where reservation_id = ${reservation!.id}`,
    ).toEqual([]);
  });

  it('answers RESERVATION_EXPIRED once the hold ran out, and orders nothing', async () => {
    const offer = await announceEvent();
    const { reservation } = await reserve(
      subgraph,
      { eventId: offer.eventId, items: [{ ticketTypeId: offer.ticketTypes[0]!.ticketTypeId, quantity: 1 }] },
      buyer,
    );
    await expire(reservation!.id);
    expect(await callCheckout(reservation!.id)).toEqual({
      order: null,
      errors: [
        { code: 'RESERVATION_EXPIRED', message: expect.any(String), field: ['input', 'reservationId'] },
      ],
    });
    expect(
      await subgraph.sql`select id from orders.orders where reservation_id = ${reservation!.id}`,
    ).toEqual([]);
  });
});

// ---------------------------------------------------------------- billing's events

describe('payments and refunds (billing events)', () => {
  it('marks a paid order PAID, counts its tickets sold instead of held, and publishes absolute sales', async () => {
    const offer = await announceEvent();
    const first = await checkedOutOrder(offer, 2, 1);
    const second = await checkedOutOrder(offer, 1, 0, otherBuyer);
    await pay(first.order);
    await untilStatus(first.order.id, 'PAID');
    expect(await soldOf(offer)).toEqual([2, 1]);
    expect((await stockOf(subgraph, offer.eventId)).event).toMatchObject({ sold: 3, held: 1 });
    await pay(second.order);
    await waitFor(async () => (await soldOf(offer))[0] === 3);
    const [regular, vip] = offer.ticketTypes.map((type) => type.ticketTypeId);
    const published = await waitFor(async () => {
      const ofEvent = sales.filter((e) => e.payload.eventId === offer.eventId);
      return ofEvent.length === 2 && ofEvent;
    });
    expect(published.map((e) => e.payload.ticketsSold).sort()).toEqual([3, 4]);
    expect(published.find((e) => e.payload.ticketsSold === 4)!.payload.ticketTypes).toEqual(
      expect.arrayContaining([
        { ticketTypeId: regular, sold: 3 },
        { ticketTypeId: vip, sold: 1 },
      ]),
    );
  });

  it('leaves an order payable after a failed payment', async () => {
    const offer = await announceEvent();
    const { order } = await checkedOutOrder(offer, 1, 0);
    await subgraph.testBus.bus.publish(
      newEvent(paymentFailed, uuidv7(), 1, {
        paymentId: uuidv7(),
        orderId: order.id,
        failureCode: 'card_declined',
        failureMessage: 'Your card was declined.',
      }),
    );
    await waitFor(async () => subgraph.logs.some((line) => line.orderId === order.id && line.failureCode));
    expect(await statusOf(order.id)).toBe('PENDING_PAYMENT');
    await pay(order);
    await untilStatus(order.id, 'PAID');
  });

  it('asks billing to refund a payment that came after the order expired, and sells nothing', async () => {
    const offer = await announceEvent();
    const { order, reservationId } = await checkedOutOrder(offer, 2, 0);
    await expire(reservationId);
    expect(await statusOf(order.id)).toBe('EXPIRED');
    await pay(order);
    const asked = await waitFor(async () => refunds.find((e) => e.payload.orderId === order.id));
    expect(asked.payload).toMatchObject({ amount: order.total, reason: 'PAID_AFTER_EXPIRY' });
    expect(await soldOf(offer)).toEqual([0, 0]);
    const [row] = await subgraph.sql`select status from orders.orders where id = ${order.id}`;
    expect(row).toEqual({ status: 'EXPIRED' });
    expect(sales.some((e) => e.payload.eventId === offer.eventId)).toBe(false);
  });

  it('records the refund it asks for once per payment, and takes its refund without moving the order', async () => {
    const offer = await announceEvent();
    const { order, reservationId } = await checkedOutOrder(offer, 1, 0);
    await expire(reservationId);
    const paymentId = uuidv7();
    await pay(order, order.total, paymentId);
    const asked = await waitFor(async () => refunds.find((e) => e.payload.orderId === order.id));
    const requestsOf = () =>
      subgraph.sql`select refund_id, payment_id, reason, amount, currency, refunded_at
        from orders.refund_requests where order_id = ${order.id}`;
    expect(await requestsOf()).toEqual([
      {
        refund_id: asked.payload.refundId,
        payment_id: paymentId,
        reason: 'PAID_AFTER_EXPIRY',
        amount: order.total.amount,
        currency: 'EUR',
        refunded_at: null,
      },
    ]);
    // The same payment announced again (another event): asked once only.
    await pay(order, order.total, paymentId);
    await waitFor(async () =>
      subgraph.logs.some(
        (line) => line.orderId === order.id && line.msg === 'refund of this payment asked already',
      ),
    );
    expect(refunds.filter((e) => e.payload.orderId === order.id)).toHaveLength(1);
    // Billing's refund of it: recorded, the order stays EXPIRED, no transition is attempted.
    await refund(order, order.total.amount, asked.payload.refundId);
    await waitFor(async () => (await requestsOf())[0]!.refunded_at !== null);
    expect(await statusOf(order.id)).toBe('EXPIRED');
    expect(refusalsOf(order.id)).toEqual([]);
    const [row] =
      await subgraph.sql`select status, refunded_amount from orders.orders where id = ${order.id}`;
    expect(row).toEqual({ status: 'EXPIRED', refunded_amount: 0 });
  });

  it('announces a paid order to messaging with a sealed link token per ticket', async () => {
    const offer = await announceEvent();
    const { order } = await checkedOutOrder(offer, 2, 1);
    await pay(order);
    const paid = await waitFor(async () => paidOrders.find((e) => e.payload.orderId === order.id));
    const tickets = await subgraph.sql<Array<{ id: string }>>`
      select id from orders.tickets where order_id = ${order.id} order by id`;
    expect(paid.payload).toMatchObject({
      eventId: offer.eventId,
      buyerEmail: 'ana@example.com',
      buyerName: BUYER_INPUT.name,
      eventTitle: offer.title,
      total: order.total,
    });
    expect(paid.payload.tickets.map((ticket) => ticket.ticketId)).toEqual(tickets.map((ticket) => ticket.id));
    const seal = linkTokenSeal({ NODE_ENV: 'test' });
    const links = createTicketLinks({ NODE_ENV: 'test' });
    for (const { ticketId, sealedToken } of paid.payload.tickets) {
      expect(links.opens(ticketId, seal.open(sealedToken, ticketId))).toBe(true);
      // Sealed for its own ticket only.
      expect(() => seal.open(sealedToken, uuidv7())).toThrow();
    }
  });

  it('refuses illegal transitions (a refund of an unpaid order), refunds a second payment, changes nothing else', async () => {
    const offer = await announceEvent();
    const unpaid = (await checkedOutOrder(offer, 1, 0)).order;
    await refund(unpaid, 2500);
    await waitFor(async () => refusalsOf(unpaid.id).length === 1);
    expect(refusalsOf(unpaid.id)[0]).toMatchObject({ from: 'PENDING_PAYMENT', to: 'REFUNDED' });
    expect(await orderSeenBy(unpaid.id)).toEqual(unpaid);

    const paid = (await checkedOutOrder(offer, 2, 0)).order;
    const paying = uuidv7();
    await pay(paid, paid.total, paying);
    await untilStatus(paid.id, 'PAID');
    // The paying payment announced again (a new event of it) changes nothing.
    await pay(paid, paid.total, paying);
    // Another payment of the paid order is money taken twice: billing is asked to give it back.
    const second = uuidv7();
    await pay(paid, paid.total, second);
    const asked = await waitFor(async () => refunds.filter((e) => e.payload.orderId === paid.id).length > 0);
    expect(asked).toBe(true);
    expect(refunds.filter((e) => e.payload.orderId === paid.id).map((e) => e.payload)).toEqual([
      { orderId: paid.id, refundId: expect.any(String), amount: paid.total, reason: 'DUPLICATE_PAYMENT' },
    ]);
    const [request] = await subgraph.sql<Array<{ payment_id: string }>>`
      select payment_id from orders.refund_requests where order_id = ${paid.id}`;
    expect(request!.payment_id).toBe(second);
    expect(await statusOf(paid.id)).toBe('PAID');
    expect(await soldOf(offer)).toEqual([2, 0]);
  });

  it('refunds partly (tickets kept), then fully (tickets back in stock)', async () => {
    const offer = await announceEvent();
    const { order } = await checkedOutOrder(offer, 2, 0);
    await pay(order);
    await untilStatus(order.id, 'PAID');
    await refund(order, 1000);
    await untilStatus(order.id, 'PARTIALLY_REFUNDED');
    expect((await orderSeenBy(order.id))!.refunded).toEqual({ amount: 1000, currency: 'EUR' });
    expect(await soldOf(offer)).toEqual([2, 0]);
    await refund(order, 4000);
    await untilStatus(order.id, 'REFUNDED');
    expect(await soldOf(offer)).toEqual([0, 0]);
    const last = await waitFor(async () => {
      const ofEvent = sales.filter((e) => e.payload.eventId === offer.eventId);
      return ofEvent.length === 2 && ofEvent.at(-1);
    });
    expect(last.payload.ticketsSold).toBe(0);
    // A refunded order is done: another refund changes nothing.
    await refund(order, 100);
    await waitFor(async () => refusalsOf(order.id).length === 1);
    expect((await orderSeenBy(order.id))!.refunded.amount).toBe(5000);
  });
});

// ---------------------------------------------------------------- queries

describe('order(id) and myOrders', () => {
  it("lists the caller's orders only, newest first, page by page", async () => {
    const offer = await announceEvent();
    const me = await subgraph.bearer({ sub: uuidv7() });
    const mine = [];
    for (let i = 0; i < 3; i++) mine.push((await checkedOutOrder(offer, 1, 0, me)).order.id);
    await checkedOutOrder(offer, 1, 0, otherBuyer);
    const page = async (after?: string) => {
      const { data, errors } = await subgraph.gql<{
        myOrders: {
          edges: Array<{ cursor: string; node: { id: string } }>;
          pageInfo: { hasNextPage: boolean; endCursor: string };
        };
      }>(
        'query($after: String) { myOrders(first: 2, after: $after) { edges { cursor node { id } } pageInfo { hasNextPage endCursor } } }',
        { after },
        me,
      );
      expect(errors).toBeUndefined();
      return data!.myOrders;
    };
    const one = await page();
    const two = await page(one.pageInfo.endCursor);
    expect([...one.edges, ...two.edges].map((edge) => edge.node.id)).toEqual([...mine].reverse());
    expect([one.pageInfo.hasNextPage, two.pageInfo.hasNextPage]).toEqual([true, false]);
  });

  it('shows an order to its buyer and platform ADMINs only; to anyone else it does not exist', async () => {
    const offer = await announceEvent();
    const { order } = await checkedOutOrder(offer, 1, 0);
    const seenBy = async (headers: Record<string, string>) => {
      const entity = await queryEntities<{ id: string }>(
        subgraph,
        [{ __typename: 'Order', id: order.id }],
        '... on Order { id }',
        headers,
      );
      const direct = (await orderSeenBy(order.id, headers))?.id ?? null;
      expect(entity.data!._entities[0]?.id ?? null).toBe(direct);
      return direct;
    };
    expect(await seenBy(buyer)).toBe(order.id);
    expect(await seenBy(otherBuyer)).toBeNull();
    expect(await seenBy({})).toBeNull();
    expect(await seenBy(await subgraph.bearer({ roles: ['ADMIN'] }))).toBe(order.id);
  });
});

// ---------------------------------------------------------------- free orders and the per-buyer limit

describe('free orders', () => {
  it('are PAID at checkout, with tickets, sales and orderPaid published, and nothing for billing', async () => {
    const offer = await catalog.announce(
      offerPayload({ ticketTypes: [ticketTypeOffer({ name: 'Free entry', priceAmount: 0 })] }),
    );
    const { reservation } = await reserve(
      subgraph,
      { eventId: offer.eventId, items: [{ ticketTypeId: offer.ticketTypes[0]!.ticketTypeId, quantity: 2 }] },
      buyer,
    );
    const { order, errors } = await callCheckout(reservation!.id);
    expect(errors).toEqual([]);
    expect(order).toMatchObject({ status: 'PAID', total: { amount: 0, currency: 'EUR' } });
    expect(await statusOf(order!.id)).toBe('PAID');
    expect(await soldOf(offer)).toEqual([2]);
    expect((await stockOf(subgraph, offer.eventId)).event).toMatchObject({ sold: 2, held: 0 });
    const tickets = await subgraph.sql`select id from orders.tickets where order_id = ${order!.id}`;
    expect(tickets).toHaveLength(2);
    const published = await waitFor(async () => sales.find((e) => e.payload.eventId === offer.eventId));
    expect(published.payload.ticketsSold).toBe(2);
    const paid = await waitFor(async () => paidOrders.find((e) => e.payload.orderId === order!.id));
    expect(paid.payload.tickets).toHaveLength(2);
    expect(created.some((e) => e.payload.orderId === order!.id)).toBe(false);
    // Idempotent: the same paid order again, nothing issued twice.
    expect((await callCheckout(reservation!.id)).order).toEqual(order);
    expect(await subgraph.sql`select id from orders.tickets where order_id = ${order!.id}`).toHaveLength(2);
  });
});

describe('maxPerBuyer', () => {
  it("counts the buyer's paid tickets of the event as well as their live holds", async () => {
    const offer = await catalog.announce(
      offerPayload({ ticketTypes: [ticketTypeOffer({ name: 'Capped', priceAmount: 1000, maxPerBuyer: 3 })] }),
    );
    const capped = (quantity: number) => ({
      eventId: offer.eventId,
      items: [{ ticketTypeId: offer.ticketTypes[0]!.ticketTypeId, quantity }],
    });
    const { reservation } = await reserve(subgraph, capped(2), buyer);
    const { order } = await callCheckout(reservation!.id);
    await pay(order!);
    await untilStatus(order!.id, 'PAID');
    const over = await reserve(subgraph, capped(2), buyer);
    expect(over).toMatchObject({
      reservation: null,
      errors: [{ code: 'INVALID_INPUT', message: expect.stringMatching(/you hold or bought 2 already/) }],
    });
    expect((await reserve(subgraph, capped(1), buyer)).errors).toEqual([]);
    expect((await reserve(subgraph, capped(1), buyer)).errors[0]?.message).toMatch(
      /hold or bought 3 already/,
    );
    // A full refund gives the tickets back to the limit too.
    await refund(order!, order!.total.amount);
    await untilStatus(order!.id, 'REFUNDED');
    expect((await reserve(subgraph, capped(2), buyer)).errors).toEqual([]);
  });
});
