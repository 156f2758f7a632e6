import { eventOfferChanged } from '@bilten/contracts/catalog';
import { newEvent } from '@bilten/platform';
import { startTestSubgraph, type TestSubgraph } from '@bilten/testkit';
import { expectFieldErrors, rowCount } from '@bilten/testkit/checks';
import { v7 as uuidv7 } from 'uuid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ordersSubgraph } from '../src/server.ts';
import {
  catalogOffers,
  type OfferPayload,
  offerPayload,
  RESERVATION_FIELDS,
  type Reservation,
  type ReserveInput,
  release,
  reserve,
  stockOf,
  ticketTypeOffer,
} from './support.ts';

let subgraph: TestSubgraph;
let catalog: ReturnType<typeof catalogOffers>;
let buyer: Record<string, string>;
let otherBuyer: Record<string, string>;

beforeAll(async () => {
  subgraph = await startTestSubgraph(ordersSubgraph, 'jetstream');
  catalog = catalogOffers(subgraph);
  buyer = await subgraph.bearer({ sub: uuidv7() });
  otherBuyer = await subgraph.bearer({ sub: uuidv7() });
});

afterAll(async () => {
  await subgraph?.dispose();
});

const reservationCount = () => rowCount(subgraph.sql, 'orders.reservations');
const oneOf = (offer: OfferPayload, quantity = 1, type = 0): ReserveInput => ({
  eventId: offer.eventId,
  items: [{ ticketTypeId: offer.ticketTypes[type]!.ticketTypeId, quantity }],
});

async function reservationSeenBy(id: string, headers: Record<string, string>) {
  const { data, errors } = await subgraph.gql<{ reservation: Reservation | null }>(
    `query($id: ID!) { reservation(id: $id) { ${RESERVATION_FIELDS} } }`,
    { id },
    headers,
  );
  expect(errors).toBeUndefined();
  return data!.reservation;
}

/** Expects the reservation to be refused with exactly one error of `code` on `field`, holding nothing. */
async function expectRefused(input: ReserveInput, code: string, field: string[], headers = buyer) {
  const before = await reservationCount();
  const payload = await reserve(subgraph, input, headers);
  expect(payload.reservation).toBeNull();
  expect(payload.errors).toEqual([{ code, message: expect.any(String), field }]);
  expect(await reservationCount()).toBe(before);
  return payload.errors[0]!.message;
}

// ---------------------------------------------------------------- the copy

describe("orders' copy of catalog's offers (bilten.catalog.event.offer_changed)", () => {
  it('keeps the whole snapshot once, however often it is delivered', async () => {
    const offer = offerPayload({
      capacity: 120,
      refundPolicy: { kind: 'FULL_UNTIL', daysBeforeStart: 7, percent: null },
      ticketTypes: [
        ticketTypeOffer({ name: 'Regular', priceAmount: 2500, capacity: 100, maxPerBuyer: 4 }),
        ticketTypeOffer({
          name: 'VIP',
          priceAmount: 9000,
          capacity: 20,
          salesStartAt: new Date(Date.now() - 3_600_000).toISOString(),
          salesEndAt: new Date(Date.now() + 86_400_000).toISOString(),
          minPerOrder: 2,
          maxPerOrder: 4,
          transferable: false,
          hidden: true,
        }),
      ],
    });
    const first = newEvent(eventOfferChanged, offer.eventId, 1, offer);
    await subgraph.testBus.bus.publish(first);
    await subgraph.testBus.bus.publish(first);
    await subgraph.testBus.bus.publish(newEvent(eventOfferChanged, offer.eventId, 1, offer));
    await expect.poll(() => catalog.applied(offer.eventId, 1)).toBe(true);

    const [row] = await subgraph.sql`select organization_id, status, currency, capacity, refund_policy
      from orders.offers where event_id = ${offer.eventId}`;
    expect(row).toEqual({
      organization_id: offer.organizationId,
      status: 'PUBLISHED',
      currency: 'EUR',
      capacity: 120,
      refund_policy: { kind: 'FULL_UNTIL', daysBeforeStart: 7, percent: null },
    });
    const types = await subgraph.sql`select id, name, price_amount, capacity, min_per_order, max_per_order,
        max_per_buyer, transferable, hidden, sold, withdrawn
      from orders.offer_ticket_types where event_id = ${offer.eventId} order by name`;
    expect(types).toEqual(
      offer.ticketTypes.map((type) => ({
        id: type.ticketTypeId,
        name: type.name,
        price_amount: type.priceAmount,
        capacity: type.capacity,
        min_per_order: type.minPerOrder,
        max_per_order: type.maxPerOrder,
        max_per_buyer: type.maxPerBuyer,
        transferable: type.transferable,
        hidden: type.hidden,
        sold: 0,
        withdrawn: false,
      })),
    );
    const [inbox] =
      await subgraph.sql`select count(*)::int as n from orders.inbox where consumer = 'orders-offer-copy'
      and event_id = ${first.id}`;
    expect(inbox).toEqual({ n: 1 });
  });

  it('applies snapshots in their order: a later one delivered first waits for its predecessor', async () => {
    const offer = offerPayload({ capacity: 10 });
    await subgraph.testBus.bus.publish(
      newEvent(eventOfferChanged, offer.eventId, 2, { ...offer, capacity: 30 }),
    );
    await subgraph.testBus.bus.publish(newEvent(eventOfferChanged, offer.eventId, 1, offer));
    await expect.poll(() => catalog.applied(offer.eventId, 2)).toBe(true);
    expect((await stockOf(subgraph, offer.eventId)).event.capacity).toBe(30);
  });

  it('applies a price or capacity change to the next reservation, never to earlier ones', async () => {
    const offer = await catalog.announce(offerPayload({ capacity: 10 }));
    const before = await reserve(subgraph, oneOf(offer, 2), buyer);
    expect(before.reservation!.total).toEqual({ amount: 5000, currency: 'EUR' });

    const type = { ...offer.ticketTypes[0]!, priceAmount: 3000, capacity: 3 };
    await catalog.announce({ ...offer, ticketTypes: [type] });
    const after = await reserve(subgraph, oneOf(offer, 1), buyer);
    expect(after.reservation!.items[0]).toMatchObject({
      quantity: 1,
      unitPrice: { amount: 3000, currency: 'EUR' },
      subtotal: { amount: 3000, currency: 'EUR' },
    });
    expect((await reservationSeenBy(before.reservation!.id, buyer))!.total.amount).toBe(5000);
    // 3 of 3 are held now: the lowered capacity leaves none.
    expect(await expectRefused(oneOf(offer), 'SOLD_OUT', ['input', 'items', '0', 'quantity'])).toMatch(
      /“Regular” is sold out \(0 left\)/,
    );
  });

  it('lowered below what is held, stops new holds and cancels none; raised, sells again', async () => {
    const offer = await catalog.announce(offerPayload({ capacity: 10 }));
    const held = await reserve(subgraph, oneOf(offer, 6), buyer);
    await catalog.announce({ ...offer, capacity: 4 });
    expect(await expectRefused(oneOf(offer), 'SOLD_OUT', ['input', 'items', '0', 'quantity'])).toMatch(
      /0 left/,
    );
    expect((await reservationSeenBy(held.reservation!.id, buyer))!.status).toBe('HELD');
    expect((await stockOf(subgraph, offer.eventId)).event).toEqual({ capacity: 4, sold: 0, held: 6 });

    await catalog.announce({ ...offer, capacity: 8 });
    expect(await expectRefused(oneOf(offer, 3), 'SOLD_OUT', ['input', 'items', '0', 'quantity'])).toMatch(
      /only 2 left of “Regular”/,
    );
    expect((await reserve(subgraph, oneOf(offer, 2), buyer)).errors).toEqual([]);
  });

  it('drops ticket types a snapshot leaves out, but keeps counting one that holds tickets', async () => {
    const [kept, emptyType, heldType] = [
      ticketTypeOffer({ name: 'Kept', capacity: 10 }),
      ticketTypeOffer({ name: 'Unsold' }),
      ticketTypeOffer({ name: 'Held' }),
    ];
    const offer = await catalog.announce(
      offerPayload({ capacity: 10, ticketTypes: [kept!, emptyType!, heldType!] }),
    );
    await reserve(subgraph, oneOf(offer, 7, 2), buyer);
    await catalog.announce({ ...offer, ticketTypes: [kept!] });

    const rows = await subgraph.sql`select name, withdrawn from orders.offer_ticket_types
      where event_id = ${offer.eventId} order by name`;
    expect(rows).toEqual([
      { name: 'Held', withdrawn: true },
      { name: 'Kept', withdrawn: false },
    ]);
    await expectRefused(oneOf(offer, 1, 2), 'INVALID_INPUT', ['input', 'items', '0', 'ticketTypeId']);
    // The 7 held of the withdrawn type still take their share of the event's 10.
    expect(await expectRefused(oneOf(offer, 4), 'SOLD_OUT', ['input', 'items', '0', 'quantity'])).toMatch(
      /only 3 left of “Kept”/,
    );
    // Back in a later snapshot, it is on sale again.
    await catalog.announce({ ...offer, capacity: 20, ticketTypes: [kept!, heldType!] });
    const heldAgain = {
      eventId: offer.eventId,
      items: [{ ticketTypeId: heldType!.ticketTypeId, quantity: 1 }],
    };
    expect((await reserve(subgraph, heldAgain, buyer)).errors).toEqual([]);
  });

  it('refuses at once an event never heard of, an unpublished, a cancelled and an ended one', async () => {
    await expectRefused(oneOf(offerPayload()), 'NOT_FOUND', ['input', 'eventId']);
    const offer = await catalog.announce(offerPayload());
    expect((await reserve(subgraph, oneOf(offer), buyer)).errors).toEqual([]);
    await catalog.announce({ ...offer, status: 'DRAFT' });
    await expectRefused(oneOf(offer), 'NOT_FOUND', ['input', 'eventId']);
    await catalog.announce({ ...offer, status: 'CANCELLED' });
    expect(await expectRefused(oneOf(offer), 'INVALID_INPUT', ['input', 'eventId'])).toMatch(/cancelled/);
    const ended = await catalog.announce(offerPayload({ status: 'ENDED' }));
    expect(await expectRefused(oneOf(ended), 'INVALID_INPUT', ['input', 'eventId'])).toMatch(/over/);
    const past = new Date(Date.now() - 3_600_000).toISOString();
    const over = await catalog.announce(offerPayload({ startsAt: past, endsAt: past }));
    expect(await expectRefused(oneOf(over), 'INVALID_INPUT', ['input', 'eventId'])).toMatch(/over/);
  });
});

// ---------------------------------------------------------------- reserveTickets

describe('reserveTickets', () => {
  let offer: OfferPayload;
  beforeAll(async () => {
    offer = await catalog.announce(
      offerPayload({
        currency: 'BAM',
        capacity: 1000,
        ticketTypes: [
          ticketTypeOffer({ name: 'Regular', priceAmount: 2500, capacity: 500 }),
          ticketTypeOffer({ name: 'Balcony', priceAmount: 4000, capacity: 500 }),
        ],
      }),
    );
  });
  const both = (regular: number, balcony: number): ReserveInput => ({
    eventId: offer.eventId,
    items: [
      { ticketTypeId: offer.ticketTypes[0]!.ticketTypeId, quantity: regular },
      { ticketTypeId: offer.ticketTypes[1]!.ticketTypeId, quantity: balcony },
    ],
  });

  it('holds every item for the buyer, priced from the copy, until the TTL runs out', async () => {
    const started = Date.now();
    const { reservation, errors } = await reserve(subgraph, both(2, 1), buyer);
    expect(errors).toEqual([]);
    expect(reservation).toEqual({
      id: expect.any(String),
      status: 'HELD',
      expiresAt: expect.any(String),
      event: { id: offer.eventId },
      items: [
        {
          ticketType: { id: offer.ticketTypes[0]!.ticketTypeId },
          quantity: 2,
          unitPrice: { amount: 2500, currency: 'BAM' },
          subtotal: { amount: 5000, currency: 'BAM' },
        },
        {
          ticketType: { id: offer.ticketTypes[1]!.ticketTypeId },
          quantity: 1,
          unitPrice: { amount: 4000, currency: 'BAM' },
          subtotal: { amount: 4000, currency: 'BAM' },
        },
      ],
      total: { amount: 9000, currency: 'BAM' },
    });
    const ttl = Date.parse(reservation!.expiresAt) - started;
    expect(ttl).toBeGreaterThan(599_000);
    expect(ttl).toBeLessThan(601_000);
    expect(await reservationSeenBy(reservation!.id, buyer)).toEqual(reservation);
  });

  it('takes any signed-in user, verified or not, and anonymous callers as guests', async () => {
    const unverified = await subgraph.bearer({ email_verified: false });
    expect((await reserve(subgraph, both(1, 1), unverified)).errors).toEqual([]);
    const guest = await reserve(subgraph, both(1, 1), { 'x-forwarded-for': '192.0.2.77' });
    expect(guest.errors).toEqual([]);
    expect(guest.reservation!.status).toBe('HELD');
    expect(guest.guestToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it.each([
    ['quantity 0', 0],
    ['a negative quantity', -2],
    ['quantity 10,000', 10_000],
  ])('refuses %s with a field error', async (_, quantity) => {
    const before = await reservationCount();
    const { reservation, errors } = await reserve(subgraph, both(1, quantity), buyer);
    expect(reservation).toBeNull();
    expectFieldErrors(errors, ['items', '1', 'quantity']);
    expect(await reservationCount()).toBe(before);
  });

  it('refuses a ticket type twice in one request, no items, and ids that are not ids', async () => {
    const regular = offer.ticketTypes[0]!.ticketTypeId;
    const twice = {
      eventId: offer.eventId,
      items: [
        { ticketTypeId: regular, quantity: 1 },
        { ticketTypeId: regular.toUpperCase(), quantity: 1 },
      ],
    };
    expect((await reserve(subgraph, twice, buyer)).errors).toEqual([
      {
        code: 'INVALID_INPUT',
        message: expect.stringMatching(/twice/),
        field: ['input', 'items', '1', 'ticketTypeId'],
      },
    ]);
    expectFieldErrors((await reserve(subgraph, { eventId: offer.eventId, items: [] }, buyer)).errors, [
      'items',
    ]);
    expectFieldErrors((await reserve(subgraph, { ...both(1, 1), eventId: 'event-1' }, buyer)).errors, [
      'eventId',
    ]);
  });

  it('refuses a ticket type of another event', async () => {
    const other = await catalog.announce(offerPayload());
    await expectRefused(
      { eventId: offer.eventId, items: [{ ticketTypeId: other.ticketTypes[0]!.ticketTypeId, quantity: 1 }] },
      'INVALID_INPUT',
      ['input', 'items', '0', 'ticketTypeId'],
    );
  });

  it('sells hidden ticket types to members of the organization only', async () => {
    const hidden = await catalog.announce(offerPayload({ ticketTypes: [ticketTypeOffer({ hidden: true })] }));
    await expectRefused(oneOf(hidden), 'INVALID_INPUT', ['input', 'items', '0', 'ticketTypeId']);
    const member = await subgraph.bearer({ orgs: { [hidden.organizationId]: 'STAFF' } });
    expect((await reserve(subgraph, oneOf(hidden), member)).errors).toEqual([]);
  });

  it('sells only within the sales window', async () => {
    const hour = 3_600_000;
    const at = (offset: number) => new Date(Date.now() + offset).toISOString();
    const windows = await catalog.announce(
      offerPayload({
        ticketTypes: [
          ticketTypeOffer({ name: 'Early', salesStartAt: at(-2 * hour), salesEndAt: at(-hour) }),
          ticketTypeOffer({ name: 'Later', salesStartAt: at(hour), salesEndAt: null }),
          ticketTypeOffer({ name: 'Now', salesStartAt: at(-hour), salesEndAt: at(hour) }),
        ],
      }),
    );
    const field = ['input', 'items', '0', 'ticketTypeId'];
    expect(await expectRefused(oneOf(windows, 1, 0), 'INVALID_INPUT', field)).toMatch(/sales closed/);
    expect(await expectRefused(oneOf(windows, 1, 1), 'INVALID_INPUT', field)).toMatch(/sales open/);
    expect((await reserve(subgraph, oneOf(windows, 1, 2), buyer)).errors).toEqual([]);
  });

  it('keeps minPerOrder and maxPerOrder', async () => {
    const limited = await catalog.announce(
      offerPayload({ ticketTypes: [ticketTypeOffer({ minPerOrder: 2, maxPerOrder: 4 })] }),
    );
    const field = ['input', 'items', '0', 'quantity'];
    expect(await expectRefused(oneOf(limited, 1), 'INVALID_INPUT', field)).toMatch(/at least 2 per order/);
    expect(await expectRefused(oneOf(limited, 5), 'INVALID_INPUT', field)).toMatch(/at most 4 per order/);
    expect((await reserve(subgraph, oneOf(limited, 4), buyer)).errors).toEqual([]);
  });

  it('keeps maxPerBuyer across reservations, per buyer, and counts only what is still held', async () => {
    const capped = await catalog.announce(
      offerPayload({ ticketTypes: [ticketTypeOffer({ maxPerBuyer: 4 })] }),
    );
    const buyerOwn = await subgraph.bearer({ sub: uuidv7() });
    const first = await reserve(subgraph, oneOf(capped, 3), buyerOwn);
    expect(first.errors).toEqual([]);
    expect(
      await expectRefused(oneOf(capped, 2), 'INVALID_INPUT', ['input', 'items', '0', 'quantity'], buyerOwn),
    ).toMatch(/at most 4 per buyer for this event; you hold or bought 3 already/);
    expect((await reserve(subgraph, oneOf(capped, 1), buyerOwn)).errors).toEqual([]);
    expect((await reserve(subgraph, oneOf(capped, 4), otherBuyer)).errors).toEqual([]);
    await release(subgraph, first.reservation!.id, buyerOwn);
    expect((await reserve(subgraph, oneOf(capped, 3), buyerOwn)).errors).toEqual([]);
  });

  it('holds all items or none, and counts the event quota across ticket types', async () => {
    const shared = await catalog.announce(
      offerPayload({
        capacity: 5,
        ticketTypes: [
          ticketTypeOffer({ name: 'A', capacity: 4 }),
          ticketTypeOffer({ name: 'B', capacity: 4 }),
        ],
      }),
    );
    const input = (a: number, b: number): ReserveInput => ({
      eventId: shared.eventId,
      items: [
        { ticketTypeId: shared.ticketTypes[0]!.ticketTypeId, quantity: a },
        { ticketTypeId: shared.ticketTypes[1]!.ticketTypeId, quantity: b },
      ],
    });
    expect(await expectRefused(input(3, 3), 'SOLD_OUT', ['input', 'items', '1', 'quantity'])).toMatch(
      /only 2 left of “B”/,
    );
    expect((await stockOf(subgraph, shared.eventId)).event.held).toBe(0);
    expect((await reserve(subgraph, input(3, 2), buyer)).errors).toEqual([]);
    const onlyA = { eventId: shared.eventId, items: [input(1, 1).items[0]!] };
    expect(await expectRefused(onlyA, 'SOLD_OUT', ['input', 'items', '0', 'quantity'])).toMatch(/0 left/);
  });

  it('answers a retry with the same idempotency key with the first hold, even at once, and nothing more', async () => {
    const small = await catalog.announce(
      offerPayload({ capacity: 10, ticketTypes: [ticketTypeOffer({ name: 'A', capacity: 10 })] }),
    );
    const other = await catalog.announce(offerPayload());
    const retrier = await subgraph.bearer({ sub: uuidv7() });
    const ask = (quantity: number, event = small) => ({
      eventId: event.eventId,
      items: [{ ticketTypeId: event.ticketTypes[0]!.ticketTypeId, quantity }],
      idempotencyKey: 'checkout-tab-7f3a',
    });
    // Five retries at once, as a client whose answers were lost might send them: one hold.
    const answers = await Promise.all(Array.from({ length: 5 }, () => reserve(subgraph, ask(2), retrier)));
    const ids = new Set(answers.map((answer) => answer.reservation?.id));
    expect(ids.size).toBe(1);
    expect([...ids][0]).toEqual(expect.any(String));
    expect((await stockOf(subgraph, small.eventId)).event.held).toBe(2);
    // Later, once released, the key still names that reservation, as it stands now.
    await release(subgraph, [...ids][0]!, retrier);
    expect((await reserve(subgraph, ask(2), retrier)).reservation).toMatchObject({
      id: [...ids][0],
      status: 'RELEASED',
    });
    // The same key for other items or another event is refused and takes nothing.
    for (const input of [ask(3), ask(2, other)]) {
      const refusal = await reserve(subgraph, input, retrier);
      expect(refusal.reservation).toBeNull();
      expect(refusal.errors).toEqual([
        {
          code: 'INVALID_INPUT',
          message: 'this idempotency key was used for another request',
          field: ['input', 'idempotencyKey'],
        },
      ]);
    }
    expect((await stockOf(subgraph, other.eventId)).event.held).toBe(0);
    // Another buyer's key space is their own; a guest cannot use keys (its token is answered once).
    const someoneElse = await subgraph.bearer({ sub: uuidv7() });
    expect((await reserve(subgraph, ask(1), someoneElse)).errors).toEqual([]);
    const guest = await reserve(subgraph, ask(1), { 'x-forwarded-for': '192.0.2.78' });
    expect(guest.errors.map((error) => error.field)).toEqual([['input', 'idempotencyKey']]);
  });
});

// ---------------------------------------------------------------- release and reading

describe('the waiting list goes first', () => {
  /** A place in line, straight in the table; more than is left, so nothing is offered to it meanwhile. */
  const waitFor = (eventId: string, ticketTypeId: string | null) =>
    subgraph.sql`insert into orders.waiting_list_entries (id, event_id, ticket_type_id, user_id, email_sealed, quantity)
      values (${uuidv7()}, ${eventId}, ${ticketTypeId}, ${uuidv7()}, 'waiting@example.com', 50)`;

  it('refuses as SOLD_OUT a ticket type someone waits for, then every type once someone waits for any', async () => {
    const offer = await catalog.announce(
      offerPayload({
        ticketTypes: [
          ticketTypeOffer({ name: 'Regular', capacity: 3 }),
          ticketTypeOffer({ name: 'VIP', capacity: 3 }),
        ],
      }),
    );
    await waitFor(offer.eventId, offer.ticketTypes[0]!.ticketTypeId);
    const message = await expectRefused(oneOf(offer, 1, 0), 'SOLD_OUT', ['input', 'items', '0', 'quantity']);
    expect(message).toBe('“Regular” is sold out; the waiting list goes first');
    expect((await reserve(subgraph, oneOf(offer, 1, 1), buyer)).errors).toEqual([]);
    await waitFor(offer.eventId, null);
    expect(await expectRefused(oneOf(offer, 1, 1), 'SOLD_OUT', ['input', 'items', '0', 'quantity'])).toMatch(
      /waiting list goes first/,
    );
    // Another event is not held up.
    const other = await catalog.announce(offerPayload());
    expect((await reserve(subgraph, oneOf(other), buyer)).errors).toEqual([]);
  });
});

describe('releaseReservation and reservation(id)', () => {
  let offer: OfferPayload;
  beforeAll(async () => {
    offer = await catalog.announce(offerPayload({ capacity: 5 }));
  });

  it('gives the tickets back at once; again, nothing changes', async () => {
    const { reservation } = await reserve(subgraph, oneOf(offer, 5), buyer);
    await expectRefused(oneOf(offer), 'SOLD_OUT', ['input', 'items', '0', 'quantity'], otherBuyer);
    const released = await release(subgraph, reservation!.id, buyer);
    expect(released).toEqual({ reservation: { ...reservation, status: 'RELEASED' }, errors: [] });
    expect((await stockOf(subgraph, offer.eventId)).event.held).toBe(0);
    expect(await release(subgraph, reservation!.id, buyer)).toEqual(released);
    const again = await reserve(subgraph, oneOf(offer, 5), otherBuyer);
    expect(again.errors).toEqual([]);
    expect((await release(subgraph, again.reservation!.id, otherBuyer)).reservation!.status).toBe('RELEASED');
  });

  it("is the owner's alone: another user's id answers as an unknown one and changes nothing", async () => {
    const { reservation } = await reserve(subgraph, oneOf(offer, 2), buyer);
    const notFound = {
      reservation: null,
      errors: [{ code: 'NOT_FOUND', message: expect.any(String), field: ['input', 'id'] }],
    };
    expect(await release(subgraph, reservation!.id, otherBuyer)).toEqual(notFound);
    expect(await release(subgraph, uuidv7(), otherBuyer)).toEqual(notFound);
    expect((await reservationSeenBy(reservation!.id, buyer))!.status).toBe('HELD');
    expect(await reservationSeenBy(reservation!.id, otherBuyer)).toBeNull();
    expect(await reservationSeenBy(reservation!.id, await subgraph.bearer({ roles: ['ADMIN'] }))).toBeNull();
    expect(await reservationSeenBy(reservation!.id, {})).toBeNull();
    expect(await reservationSeenBy('reservation-1', buyer)).toBeNull();
    // Anonymous, it is a guest without the token: as unknown.
    expect(await release(subgraph, reservation!.id, {})).toEqual(notFound);
    expect((await reservationSeenBy(reservation!.id, buyer))!.status).toBe('HELD');
  });
});
