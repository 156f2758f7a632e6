import { paymentSucceeded } from '@bilten/contracts/billing';
import { eventCancelled } from '@bilten/contracts/catalog';
import { eventCancellationProgressed, refundRequested } from '@bilten/contracts/orders';
import { newEvent } from '@bilten/platform';
import { recordEvents, startTestSubgraph, type TestSubgraph, waitFor } from '@bilten/testkit';
import { v7 as uuidv7 } from 'uuid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ordersSubgraph } from '../src/server.ts';
import {
  callReserve,
  catalogOffers,
  type OfferPayload,
  offerPayload,
  reserve,
  stockOf,
  ticketTypeOffer,
} from './support.ts';

// Two of everything per batch, so every test runs the saga over several batches (transactions).
const BATCH_SIZE = 2;

let subgraph: TestSubgraph;
let catalog: ReturnType<typeof catalogOffers>;
let refunds: Awaited<ReturnType<typeof recordEvents<typeof refundRequested.payload>>>;
let progress: Awaited<ReturnType<typeof recordEvents<typeof eventCancellationProgressed.payload>>>;

beforeAll(async () => {
  subgraph = await startTestSubgraph(ordersSubgraph, 'jetstream', {
    env: { CANCELLATION_BATCH_SIZE: String(BATCH_SIZE) },
  });
  catalog = catalogOffers(subgraph);
  refunds = await recordEvents(subgraph.testBus.bus, refundRequested);
  progress = await recordEvents(subgraph.testBus.bus, eventCancellationProgressed);
});

afterAll(async () => {
  await subgraph?.dispose();
});

// ---------------------------------------------------------------- helpers

const buyerHeaders = () => subgraph.bearer({ sub: uuidv7() });

interface Sale {
  offer: OfferPayload;
  holds: string[];
  pending: Array<{ id: string; total: number }>;
  paid: Array<{ id: string; total: number }>;
}

async function checkout(reservationId: string, headers: Record<string, string>) {
  const { data, errors } = await subgraph.gql<{
    checkout: { order: { id: string; total: { amount: number; currency: string } } | null };
  }>(
    `mutation($input: CheckoutInput!) { checkout(input: $input) { order { id total { amount currency } } errors { code } } }`,
    { input: { reservationId, buyer: { name: 'Ana Kovač', email: 'ana@example.com' } } },
    headers,
  );
  expect(errors).toBeUndefined();
  return data!.checkout.order!;
}

const storedStatus = async (orderId: string) =>
  (await subgraph.sql<Array<{ status: string }>>`select status from orders.orders where id = ${orderId}`)[0]!
    .status;

const pay = async (order: { id: string; total: { amount: number; currency: string } }) => {
  await subgraph.testBus.bus.publish(
    newEvent(paymentSucceeded, uuidv7(), 1, { paymentId: uuidv7(), orderId: order.id, amount: order.total }),
  );
};

/** An event on sale with `holds` live holds, `pending` orders waiting for payment and `paid` paid orders (the first of them partly refunded). */
async function eventWithSales(holds: number, pending: number, paid: number): Promise<Sale> {
  const offer = await catalog.announce(
    offerPayload({ ticketTypes: [ticketTypeOffer({ priceAmount: 2500, maxPerOrder: 10 })] }),
  );
  const ticketTypeId = offer.ticketTypes[0]!.ticketTypeId;
  const sale: Sale = { offer, holds: [], pending: [], paid: [] };
  const reserveFor = async (quantity: number) => {
    const headers = await buyerHeaders();
    const { reservation } = await reserve(
      subgraph,
      { eventId: offer.eventId, items: [{ ticketTypeId, quantity }] },
      headers,
    );
    return { reservation: reservation!, headers };
  };
  for (let i = 0; i < holds; i++) sale.holds.push((await reserveFor(1)).reservation.id);
  for (let i = 0; i < pending; i++) {
    const { reservation, headers } = await reserveFor(2);
    const order = await checkout(reservation.id, headers);
    sale.pending.push({ id: order.id, total: order.total.amount });
  }
  for (let i = 0; i < paid; i++) {
    const { reservation, headers } = await reserveFor(i + 1);
    const order = await checkout(reservation.id, headers);
    await pay(order);
    await waitFor(async () => (await storedStatus(order.id)) === 'PAID');
    sale.paid.push({ id: order.id, total: order.total.amount });
  }
  return sale;
}

const cancelledEvent = (offer: OfferPayload) =>
  newEvent(eventCancelled, offer.eventId, 1, {
    eventId: offer.eventId,
    organizationId: offer.organizationId,
    title: offer.title,
    reason: 'the venue flooded',
    ticketsSold: 0,
  });

const sagaOf = async (eventId: string) =>
  (
    await subgraph.sql<
      Array<{
        status: string;
        holds_released: number;
        orders_cancelled: number;
        refunds_requested: number;
        batches: number;
        completed_at: Date | null;
      }>
    >`select * from orders.event_cancellations where event_id = ${eventId}`
  )[0];

const untilDone = (eventId: string) => waitFor(async () => (await sagaOf(eventId))?.status === 'DONE');

const refundsOf = (sale: Sale) =>
  refunds.filter((event) =>
    [...sale.paid, ...sale.pending].some((order) => order.id === event.payload.orderId),
  );

const handled = async (eventId: string) =>
  (await subgraph.sql`select 1 from orders.inbox where event_id = ${eventId}`).length > 0;

async function cancellationSeenBy(eventId: string, headers: Record<string, string>) {
  const { data, errors } = await subgraph.gql<{
    _entities: Array<{ cancellation: Record<string, unknown> | null }>;
  }>(
    `query($representations: [_Any!]!) { _entities(representations: $representations) {
      ... on Event { cancellation { status ordersCancelled refundsRequested holdsReleased ticketsVoided startedAt completedAt } }
    } }`,
    { representations: [{ __typename: 'Event', id: eventId }] },
    headers,
  );
  expect(errors).toBeUndefined();
  return data!._entities[0]!.cancellation;
}

// ---------------------------------------------------------------- the saga

describe('the cancellation saga', () => {
  it('releases live holds, cancels pending orders and asks one full refund per paid order', async () => {
    const sale = await eventWithSales(3, 3, 3);
    // A partial refund already given back: the saga asks for the rest.
    await subgraph.sql`update orders.orders set status = 'PARTIALLY_REFUNDED', refunded_amount = 1000
      where id = ${sale.paid[2]!.id}`;
    const message = cancelledEvent(sale.offer);
    await subgraph.testBus.bus.publish(message);
    await untilDone(sale.offer.eventId);

    const saga = (await sagaOf(sale.offer.eventId))!;
    expect(saga).toMatchObject({ holds_released: 3, orders_cancelled: 3, refunds_requested: 3 });
    expect(saga.batches).toBeGreaterThan(3);
    // Tickets issued on PAID (1 + 2 + 3) are void.
    const tickets = await subgraph.sql<Array<{ status: string }>>`
      select status from orders.tickets where event_id = ${sale.offer.eventId}`;
    expect(tickets.map((ticket) => ticket.status)).toEqual(Array(6).fill('VOID'));
    expect(saga).toMatchObject({ tickets_voided: 6 });
    expect(saga.completed_at).toBeInstanceOf(Date);

    const holds = await subgraph.sql<Array<{ status: string }>>`
      select status from orders.reservations where id in ${subgraph.sql(sale.holds)}`;
    expect(holds.map((hold) => hold.status)).toEqual(['RELEASED', 'RELEASED', 'RELEASED']);
    for (const order of sale.pending) expect(await storedStatus(order.id)).toBe('CANCELLED');
    for (const order of sale.paid) expect(await storedStatus(order.id)).not.toBe('CANCELLED');
    const { event } = await stockOf(subgraph, sale.offer.eventId);
    expect(event.held).toBe(0);

    await waitFor(async () => refundsOf(sale).length >= 3);
    const asked = refundsOf(sale).map((event) => event.payload);
    expect(asked).toHaveLength(3);
    expect(new Set(asked.map((refund) => refund.refundId)).size).toBe(3);
    expect(asked.every((refund) => refund.reason === 'EVENT_CANCELLED')).toBe(true);
    const amountOf = (orderId: string) => asked.find((refund) => refund.orderId === orderId)?.amount;
    expect(amountOf(sale.paid[0]!.id)).toEqual({ amount: 2500, currency: 'EUR' });
    expect(amountOf(sale.paid[1]!.id)).toEqual({ amount: 5000, currency: 'EUR' });
    expect(amountOf(sale.paid[2]!.id)).toEqual({ amount: 7500 - 1000, currency: 'EUR' });

    // What messaging needs: the DONE report with the counts.
    await waitFor(async () =>
      progress.some(
        (event) => event.payload.eventId === sale.offer.eventId && event.payload.status === 'DONE',
      ),
    );
    expect(
      progress.find(
        (event) => event.payload.eventId === sale.offer.eventId && event.payload.status === 'DONE',
      )!.payload,
    ).toMatchObject({ organizationId: sale.offer.organizationId, ordersCancelled: 3, refundsRequested: 3 });

    // Selling stopped at once, before catalog's CANCELLED snapshot came.
    const late = await subgraph.gql<{ reserveTickets: { errors: Array<{ code: string }> } }>(
      `mutation($input: ReserveTicketsInput!) { reserveTickets(input: $input) { errors { code } } }`,
      {
        input: {
          eventId: sale.offer.eventId,
          items: [{ ticketTypeId: sale.offer.ticketTypes[0]!.ticketTypeId, quantity: 1 }],
        },
      },
      await buyerHeaders(),
    );
    expect(late.data!.reserveTickets.errors.map((error) => error.code)).toEqual(['INVALID_INPUT']);

    // Visible to the organization's staff, null to a customer and to staff of another organization.
    const staff = await subgraph.bearer({ sub: uuidv7(), orgs: { [sale.offer.organizationId]: 'STAFF' } });
    expect(await cancellationSeenBy(sale.offer.eventId, staff)).toMatchObject({
      status: 'DONE',
      ordersCancelled: 3,
      refundsRequested: 3,
      holdsReleased: 3,
      completedAt: expect.any(String),
      startedAt: expect.any(String),
    });
    expect(await cancellationSeenBy(sale.offer.eventId, await buyerHeaders())).toBeNull();
    const stranger = await subgraph.bearer({ sub: uuidv7(), orgs: { [uuidv7()]: 'OWNER' } });
    expect(await cancellationSeenBy(sale.offer.eventId, stranger)).toBeNull();
    expect(await cancellationSeenBy(sale.offer.eventId, {})).toBeNull();

    // Redelivered, and sent again (an organization's closure), it asks nothing twice.
    await subgraph.testBus.bus.publish(message);
    const again = cancelledEvent(sale.offer);
    await subgraph.testBus.bus.publish(again);
    await waitFor(async () => handled(again.id));
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(refundsOf(sale)).toHaveLength(3);
    expect(await sagaOf(sale.offer.eventId)).toMatchObject({ orders_cancelled: 3, refunds_requested: 3 });
  });

  it('a payment for an order of a cancelled event does not make it PAID: it is refunded', async () => {
    const sale = await eventWithSales(0, 1, 0);
    const offer = sale.offer;
    const ticketTypeId = offer.ticketTypes[0]!.ticketTypeId;
    // An order checked out, then the saga ran; its payment comes late.
    const headers = await buyerHeaders();
    const { reservation } = await reserve(
      subgraph,
      { eventId: offer.eventId, items: [{ ticketTypeId, quantity: 1 }] },
      headers,
    );
    const order = await checkout(reservation!.id, headers);
    await subgraph.testBus.bus.publish(cancelledEvent(offer));
    await untilDone(offer.eventId);
    expect(await storedStatus(order.id)).toBe('CANCELLED');
    await pay(order);
    await waitFor(async () => refunds.some((event) => event.payload.orderId === order.id));
    expect(await storedStatus(order.id)).toBe('CANCELLED');
    expect(refunds.find((event) => event.payload.orderId === order.id)!.payload).toMatchObject({
      amount: order.total,
      reason: 'EVENT_CANCELLED',
    });
    expect((await stockOf(subgraph, offer.eventId)).event.sold).toBe(0);
  });

  it('keeps a cancelled event off sale when a snapshot of its last edits arrives after the saga', async () => {
    const { offer } = await eventWithSales(0, 0, 0);
    await subgraph.testBus.bus.publish(cancelledEvent(offer));
    await untilDone(offer.eventId);
    // Catalog's edit just before the cancellation, still saying PUBLISHED, comes in late.
    await catalog.announce({ ...offer, title: 'Renamed before the cancellation' });
    const [copy] =
      await subgraph.sql`select status, title from orders.offers where event_id = ${offer.eventId}`;
    expect(copy).toEqual({ status: 'CANCELLED', title: 'Renamed before the cancellation' });
    const refused = await callReserve(
      subgraph,
      { eventId: offer.eventId, items: [{ ticketTypeId: offer.ticketTypes[0]!.ticketTypeId, quantity: 1 }] },
      await buyerHeaders(),
    );
    expect(refused.payload!.reservation).toBeNull();
    expect(refused.payload!.errors[0]!.message).toBe('the event is cancelled');
  });

  it('a payment racing the cancellation, before the saga reached its order, is refused too', async () => {
    const sale = await eventWithSales(0, 0, 0);
    const ticketTypeId = sale.offer.ticketTypes[0]!.ticketTypeId;
    const headers = await buyerHeaders();
    const { reservation } = await reserve(
      subgraph,
      { eventId: sale.offer.eventId, items: [{ ticketTypeId, quantity: 1 }] },
      headers,
    );
    const order = await checkout(reservation!.id, headers);
    // The saga started (its row and the offer say so) but has not reached the order yet.
    await subgraph.sql`insert into orders.event_cancellations (event_id, organization_id)
      values (${sale.offer.eventId}, ${sale.offer.organizationId})`;
    await pay(order);
    await waitFor(async () => refunds.some((event) => event.payload.orderId === order.id));
    expect(await storedStatus(order.id)).toBe('CANCELLED');
    expect((await stockOf(subgraph, sale.offer.eventId)).event.sold).toBe(0);
  });

  it('killed in the middle, the redelivery finishes the saga with nothing doubled', async () => {
    const sale = await eventWithSales(1, 3, 5);
    // A crash after the first batch committed: the second batch's transaction fails, once
    // (a sequence is not transactional, so the failure happens exactly once).
    const fault = `cancellation_fault_${sale.offer.eventId.replaceAll('-', '')}`;
    await subgraph.sql.unsafe(`
      create sequence orders.${fault};
      create function orders.${fault}() returns trigger language plpgsql as $$
      begin
        if new.batches = 2 and nextval('orders.${fault}') = 1 then
          raise exception 'simulated crash after the first batch';
        end if;
        return new;
      end $$;
      create trigger ${fault} before update on orders.event_cancellations
        for each row when (new.event_id = '${sale.offer.eventId}') execute function orders.${fault}();`);
    await subgraph.testBus.bus.publish(cancelledEvent(sale.offer));
    await untilDone(sale.offer.eventId);

    const [crashed] = await subgraph.sql.unsafe(`select is_called from orders.${fault}`);
    expect(crashed!.is_called).toBe(true);
    expect(await sagaOf(sale.offer.eventId)).toMatchObject({
      holds_released: 1,
      orders_cancelled: 3,
      refunds_requested: 5,
    });
    await waitFor(async () => refundsOf(sale).length >= 5);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const asked = refundsOf(sale);
    expect(asked).toHaveLength(5);
    expect(new Set(asked.map((event) => event.payload.orderId)).size).toBe(5);
    for (const order of sale.pending) expect(await storedStatus(order.id)).toBe('CANCELLED');
  });
});
