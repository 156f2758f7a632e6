/**
 * What the gateway's subscriptions hear from orders: `orderStatusChanged` once per move of the
 * order's state machine (never for a refused or repeated one), `eventAvailabilityChanged` when holds
 * are taken or given back, and the public `Event.availability` they read; the expiry sweep
 * announces what time alone changes (a hold or an unpaid order running out).
 */
import { paymentSucceeded, refundSucceeded } from '@bilten/contracts/billing';
import { eventAvailabilityChanged, orderStatusChanged, refundRequested } from '@bilten/contracts/orders';
import { newEvent } from '@bilten/platform';
import { recordEvents, startTestSubgraph, type TestSubgraph, waitFor } from '@bilten/testkit';
import { v7 as uuidv7 } from 'uuid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ordersSubgraph } from '../src/server.ts';
import { callReserve, catalogOffers, offerPayload, release, reserve, ticketTypeOffer } from './support.ts';

let subgraph: TestSubgraph;
let catalog: ReturnType<typeof catalogOffers>;
let buyer: Record<string, string>;
let moves: Awaited<ReturnType<typeof recordEvents<typeof orderStatusChanged.payload>>>;
let availability: Awaited<ReturnType<typeof recordEvents<typeof eventAvailabilityChanged.payload>>>;
let refunds: Awaited<ReturnType<typeof recordEvents<typeof refundRequested.payload>>>;

beforeAll(async () => {
  // The expiry sweep runs often, so what lapses by time is announced within the test's patience.
  subgraph = await startTestSubgraph(ordersSubgraph, 'jetstream', { env: { EXPIRY_SWEEP_MS: '200' } });
  catalog = catalogOffers(subgraph);
  buyer = await subgraph.bearer({ sub: uuidv7() });
  moves = await recordEvents(subgraph.testBus.bus, orderStatusChanged);
  availability = await recordEvents(subgraph.testBus.bus, eventAvailabilityChanged);
  refunds = await recordEvents(subgraph.testBus.bus, refundRequested);
});
afterAll(async () => {
  await subgraph?.dispose();
});

interface Order {
  id: string;
  status: string;
  total: { amount: number; currency: string };
}

async function checkedOut(quantity = 2) {
  const offer = await catalog.announce(
    offerPayload({ ticketTypes: [ticketTypeOffer({ priceAmount: 2500 })] }),
  );
  const { reservation } = await reserve(
    subgraph,
    { eventId: offer.eventId, items: [{ ticketTypeId: offer.ticketTypes[0]!.ticketTypeId, quantity }] },
    buyer,
  );
  const { data } = await subgraph.gql<{ checkout: { order: Order } }>(
    `mutation($input: CheckoutInput!) { checkout(input: $input) { order { id status total { amount currency } } } }`,
    { input: { reservationId: reservation!.id, buyer: { name: 'Ana', email: 'ana@example.com' } } },
    buyer,
  );
  return { offer, order: data!.checkout.order, reservationId: reservation!.id };
}

const statusOf = async (id: string) => {
  const { data } = await subgraph.gql<{ order: { status: string } }>(
    `query($id: ID!) { order(id: $id) { status } }`,
    { id },
    buyer,
  );
  return data!.order.status;
};
const movesOf = (orderId: string) =>
  moves
    .filter((event) => event.payload.orderId === orderId)
    .map((event) => `${event.payload.from}→${event.payload.status}`);

describe('orderStatusChanged', () => {
  it('is published once per move: PAID, PARTIALLY_REFUNDED, REFUNDED; not for a repeated payment', async () => {
    const { order, offer } = await checkedOut();
    const payment = newEvent(paymentSucceeded, uuidv7(), 1, {
      paymentId: uuidv7(),
      orderId: order.id,
      amount: order.total,
    });
    await subgraph.testBus.bus.publish(payment);
    await waitFor(async () => (await statusOf(order.id)) === 'PAID');
    // The same payment announced again (a new envelope): nothing moves.
    await subgraph.testBus.bus.publish({ ...payment, id: uuidv7() });
    const refund = (amount: number) =>
      subgraph.testBus.bus.publish(
        newEvent(refundSucceeded, uuidv7(), 1, {
          refundId: uuidv7(),
          orderId: order.id,
          amount: { amount, currency: order.total.currency },
        }),
      );
    await refund(1000);
    await waitFor(async () => (await statusOf(order.id)) === 'PARTIALLY_REFUNDED');
    await refund(order.total.amount - 1000);
    await waitFor(async () => (await statusOf(order.id)) === 'REFUNDED');
    await waitFor(async () => movesOf(order.id).length === 3);
    expect(movesOf(order.id)).toEqual([
      'PENDING_PAYMENT→PAID',
      'PAID→PARTIALLY_REFUNDED',
      'PARTIALLY_REFUNDED→REFUNDED',
    ]);
    expect(moves.find((event) => event.payload.orderId === order.id)!.payload).toMatchObject({
      eventId: offer.eventId,
      organizationId: offer.organizationId,
    });
  });

  it('records EXPIRED when a payment comes after the hold ran out, and not for a refused refund', async () => {
    const { order, reservationId } = await checkedOut(1);
    // A refund of an unpaid order is an illegal move: refused, nothing published.
    await subgraph.testBus.bus.publish(
      newEvent(refundSucceeded, uuidv7(), 1, { refundId: uuidv7(), orderId: order.id, amount: order.total }),
    );
    await waitFor(async () =>
      subgraph.logs.some(
        (line) => line.orderId === order.id && line.msg === 'illegal order transition refused',
      ),
    );
    await subgraph.sql`update orders.reservations set expires_at = now() - interval '1 second' where id = ${reservationId}`;
    await subgraph.sql`update orders.orders set expires_at = now() - interval '1 second' where id = ${order.id}`;
    await subgraph.testBus.bus.publish(
      newEvent(paymentSucceeded, uuidv7(), 1, {
        paymentId: uuidv7(),
        orderId: order.id,
        amount: order.total,
      }),
    );
    await waitFor(async () => movesOf(order.id).length === 1);
    expect(movesOf(order.id)).toEqual(['PENDING_PAYMENT→EXPIRED']);
  });
});

describe('what time alone changes', () => {
  const lapse = async (reservationId: string, orderId?: string) => {
    await subgraph.sql`update orders.reservations set expires_at = now() - interval '1 second' where id = ${reservationId}`;
    if (orderId)
      await subgraph.sql`update orders.orders set expires_at = now() - interval '1 second' where id = ${orderId}`;
  };

  it('an unpaid order running out is announced EXPIRED once, by the sweep; a late payment then moves nothing more', async () => {
    const { order, reservationId, offer } = await checkedOut(1);
    const before = availability.filter((event) => event.payload.eventId === offer.eventId).length;
    await lapse(reservationId, order.id);
    await waitFor(async () => movesOf(order.id).length === 1);
    expect(movesOf(order.id)).toEqual(['PENDING_PAYMENT→EXPIRED']);
    // Its tickets are free again: watchers of the event hear it.
    await waitFor(
      async () => availability.filter((event) => event.payload.eventId === offer.eventId).length > before,
    );
    const [row] = await subgraph.sql<
      Array<{ status: string }>
    >`select status from orders.reservations where id = ${reservationId}`;
    expect(row!.status).toBe('EXPIRED');
    await subgraph.testBus.bus.publish(
      newEvent(paymentSucceeded, uuidv7(), 1, {
        paymentId: uuidv7(),
        orderId: order.id,
        amount: order.total,
      }),
    );
    // The payment was handled (its money goes back) without a second move.
    await waitFor(async () =>
      refunds.some(
        (event) => event.payload.orderId === order.id && event.payload.reason === 'PAID_AFTER_EXPIRY',
      ),
    );
    expect(await statusOf(order.id)).toBe('EXPIRED');
    expect(movesOf(order.id)).toEqual(['PENDING_PAYMENT→EXPIRED']);
  });

  it('a hold running out is announced to the watchers of its event', async () => {
    const offer = await catalog.announce(offerPayload({ ticketTypes: [ticketTypeOffer()] }));
    const { reservation } = await reserve(
      subgraph,
      { eventId: offer.eventId, items: [{ ticketTypeId: offer.ticketTypes[0]!.ticketTypeId, quantity: 1 }] },
      buyer,
    );
    const ofEvent = () => availability.filter((event) => event.payload.eventId === offer.eventId).length;
    await waitFor(async () => ofEvent() === 1);
    await lapse(reservation!.id);
    await waitFor(async () => ofEvent() === 2);
    const [row] = await subgraph.sql<
      Array<{ status: string }>
    >`select status from orders.reservations where id = ${reservation!.id}`;
    expect(row!.status).toBe('EXPIRED');
  });
});

describe('availability', () => {
  it('announces holds taken and given back, not refusals; Event.availability shows what is left to anyone', async () => {
    const offer = await catalog.announce(
      offerPayload({
        capacity: 10,
        ticketTypes: [ticketTypeOffer({ capacity: 6 }), ticketTypeOffer({ capacity: 6, hidden: true })],
      }),
    );
    const [open, hidden] = offer.ticketTypes.map((type) => type.ticketTypeId) as [string, string];
    const ofEvent = () => availability.filter((event) => event.payload.eventId === offer.eventId).length;
    const { reservation } = await reserve(
      subgraph,
      { eventId: offer.eventId, items: [{ ticketTypeId: open, quantity: 4 }] },
      buyer,
    );
    const refused = await callReserve(
      subgraph,
      { eventId: offer.eventId, items: [{ ticketTypeId: open, quantity: 3 }] },
      buyer,
    );
    expect(refused.payload?.errors.map((error) => error.code)).toEqual(['SOLD_OUT']);
    await waitFor(async () => ofEvent() === 1);

    const read = async (headers: Record<string, string>) => {
      const { data, errors } = await subgraph.gql<{
        _entities: Array<{
          availability: {
            remaining: number;
            ticketTypes: Array<{ ticketType: { id: string }; remaining: number }>;
          };
        }>;
      }>(
        `query($reps: [_Any!]!) { _entities(representations: $reps) { ... on Event { availability { remaining ticketTypes { ticketType { id } remaining } } } } }`,
        { reps: [{ __typename: 'Event', id: offer.eventId }] },
        headers,
      );
      expect(errors).toBeUndefined();
      return data!._entities[0]!.availability;
    };
    // Anyone: the open type only (2 left of it), 6 left of the event's 10.
    expect(await read({})).toEqual({
      remaining: 6,
      ticketTypes: [{ ticketType: { id: open }, remaining: 2 }],
    });
    // The organization's members see the hidden type too.
    const staff = await subgraph.bearer({
      sub: uuidv7(),
      orgs: { [offer.organizationId]: 'STAFF' },
    });
    expect((await read(staff)).ticketTypes).toEqual([
      { ticketType: { id: open }, remaining: 2 },
      { ticketType: { id: hidden }, remaining: 6 },
    ]);

    await release(subgraph, reservation!.id, buyer);
    await release(subgraph, reservation!.id, buyer);
    await waitFor(async () => ofEvent() === 2);
    expect((await read({})).remaining).toBe(10);
  });
});
