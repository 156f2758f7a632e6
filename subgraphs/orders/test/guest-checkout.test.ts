import { createHash } from 'node:crypto';
import { paymentSucceeded } from '@bilten/contracts/billing';
import { orderCreated } from '@bilten/contracts/orders';
import { newEvent } from '@bilten/platform';
import { recordEvents, startTestSubgraph, type TestSubgraph, waitFor } from '@bilten/testkit';
import { v7 as uuidv7 } from 'uuid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ordersSubgraph } from '../src/server.ts';
import {
  callReserve,
  catalogOffers,
  type Money,
  type OfferPayload,
  offerPayload,
  RESERVATION_FIELDS,
  type Reservation,
  release,
  reserve,
  ticketTypeOffer,
  type UserError,
} from './support.ts';

let subgraph: TestSubgraph;
let catalog: ReturnType<typeof catalogOffers>;
let created: Awaited<ReturnType<typeof recordEvents<typeof orderCreated.payload>>>;

beforeAll(async () => {
  subgraph = await startTestSubgraph(ordersSubgraph, 'jetstream');
  catalog = catalogOffers(subgraph);
  created = await recordEvents(subgraph.testBus.bus, orderCreated);
});

afterAll(async () => {
  await subgraph?.dispose();
});

/** A caller not signed in, from an address of its own (the guest cap counts per address). */
let addresses = 0;
const guest = () => ({ 'x-forwarded-for': `198.51.100.${++addresses}` });

interface Order {
  id: string;
  status: string;
  total: Money;
  buyer: { name: string; email: string; user: { id: string } | null };
}
const ORDER_FIELDS = 'id status total { amount currency } buyer { name email user { id } }';

const announce = (overrides: Partial<OfferPayload['ticketTypes'][number]> = {}) =>
  catalog.announce(offerPayload({ ticketTypes: [ticketTypeOffer({ priceAmount: 2500, ...overrides })] }));

const items = (offer: OfferPayload, quantity = 1) => ({
  eventId: offer.eventId,
  items: [{ ticketTypeId: offer.ticketTypes[0]!.ticketTypeId, quantity }],
});

async function guestHold(offer: OfferPayload, quantity = 1, headers = guest()) {
  const payload = await reserve(subgraph, items(offer, quantity), headers);
  expect(payload.errors).toEqual([]);
  return { reservation: payload.reservation!, guestToken: payload.guestToken!, headers };
}

async function checkout(input: Record<string, unknown>, headers: Record<string, string>) {
  const { data, errors } = await subgraph.gql<{ checkout: { order: Order | null; errors: UserError[] } }>(
    `mutation($input: CheckoutInput!) { checkout(input: $input) { order { ${ORDER_FIELDS} } errors { code message field } } }`,
    { input: { buyer: { name: 'Gost', email: 'guest@example.com' }, ...input } },
    headers,
  );
  return { payload: data?.checkout ?? null, codes: errors?.map((error) => error.extensions?.code) };
}

async function reservationSeen(id: string, guestToken: string | null, headers: Record<string, string> = {}) {
  const { data, errors } = await subgraph.gql<{ reservation: Reservation | null }>(
    `query($id: ID!, $token: String) { reservation(id: $id, guestToken: $token) { ${RESERVATION_FIELDS} } }`,
    { id, token: guestToken },
    headers,
  );
  expect(errors).toBeUndefined();
  return data!.reservation;
}

async function orderSeen(id: string, guestToken: string | null, headers: Record<string, string> = {}) {
  const { data, errors } = await subgraph.gql<{ order: Order | null }>(
    `query($id: ID!, $token: String) { order(id: $id, guestToken: $token) { ${ORDER_FIELDS} } }`,
    { id, token: guestToken },
    headers,
  );
  expect(errors).toBeUndefined();
  return data!.order;
}

const pay = (order: Order) =>
  subgraph.testBus.bus.publish(
    newEvent(paymentSucceeded, uuidv7(), 1, { paymentId: uuidv7(), orderId: order.id, amount: order.total }),
  );

const notFound = (field: string[]) => ({
  errors: [{ code: 'NOT_FOUND', message: expect.any(String), field }],
});

/** The token with one character changed. */
const tampered = (token: string) => (token[0] === 'A' ? 'B' : 'A') + token.slice(1);

describe('guest holds', () => {
  it('answers a one-time token, of which only the SHA-256 is stored, and no account', async () => {
    const offer = await announce();
    const { reservation, guestToken } = await guestHold(offer, 2);
    expect(guestToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const [row] =
      await subgraph.sql`select buyer_id, guest_token_hash from orders.reservations where id = ${reservation.id}`;
    expect(row).toEqual({
      buyer_id: null,
      guest_token_hash: createHash('sha256').update(guestToken).digest('hex'),
    });
    const signedIn = await reserve(subgraph, items(offer), await subgraph.bearer({ sub: uuidv7() }));
    expect(signedIn.guestToken).toBeNull();
  });

  it('opens with its own token only: none, a tampered one or another hold’s is as an unknown id', async () => {
    const offer = await announce();
    const mine = await guestHold(offer);
    const theirs = await guestHold(offer);
    expect(await reservationSeen(mine.reservation.id, mine.guestToken)).toEqual(mine.reservation);
    expect(await reservationSeen(mine.reservation.id, null)).toBeNull();
    expect(await reservationSeen(mine.reservation.id, tampered(mine.guestToken))).toBeNull();
    expect(await reservationSeen(mine.reservation.id, theirs.guestToken)).toBeNull();
    // A signed-in user, even an ADMIN, sees no guest's hold without its token.
    const admin = await subgraph.bearer({ roles: ['ADMIN'] });
    expect(await reservationSeen(mine.reservation.id, null, admin)).toBeNull();

    const releaseWith = async (guestToken: string | null) => {
      const { data } = await subgraph.gql<{
        releaseReservation: { reservation: Reservation | null; errors: UserError[] };
      }>(
        `mutation($input: ReleaseReservationInput!) { releaseReservation(input: $input) { reservation { status } errors { code message field } } }`,
        { input: { id: mine.reservation.id, guestToken } },
        {},
      );
      return data!.releaseReservation;
    };
    expect(await releaseWith(theirs.guestToken)).toEqual({ reservation: null, ...notFound(['input', 'id']) });
    expect(await releaseWith(null)).toEqual({ reservation: null, ...notFound(['input', 'id']) });
    expect((await reservationSeen(mine.reservation.id, mine.guestToken))!.status).toBe('HELD');

    for (const token of [null, tampered(mine.guestToken), theirs.guestToken]) {
      const { payload } = await checkout({ reservationId: mine.reservation.id, guestToken: token }, {});
      expect(payload).toEqual({ order: null, ...notFound(['input', 'reservationId']) });
    }
    expect(
      await subgraph.sql`select id from orders.orders where reservation_id = ${mine.reservation.id}`,
    ).toEqual([]);
    expect((await releaseWith(mine.guestToken)).reservation).toEqual({ status: 'RELEASED' });
  });

  it(`caps live guest holds per client address and event (GUEST_HOLDS_PER_ADDRESS, 4): RATE_LIMITED beyond`, async () => {
    const offer = await announce();
    const address = guest();
    const holds = [];
    for (let i = 0; i < 4; i++) holds.push(await guestHold(offer, 1, address));
    const fifth = await callReserve(subgraph, items(offer), address);
    expect(fifth.payload).toBeNull();
    expect(fifth.errors?.map((error) => error.extensions?.code)).toEqual(['RATE_LIMITED']);
    // Another address, a signed-in user from the same one, and another event are not counted.
    expect((await reserve(subgraph, items(offer), guest())).errors).toEqual([]);
    const signedIn = { ...address, ...(await subgraph.bearer({ sub: uuidv7() })) };
    expect((await reserve(subgraph, items(offer), signedIn)).errors).toEqual([]);
    expect((await reserve(subgraph, items(await announce()), address)).errors).toEqual([]);
    // A released hold frees its place.
    await subgraph.gql(
      'mutation($input: ReleaseReservationInput!) { releaseReservation(input: $input) { errors { code } } }',
      { input: { id: holds[0]!.reservation.id, guestToken: holds[0]!.guestToken } },
      address,
    );
    expect((await reserve(subgraph, items(offer), address)).errors).toEqual([]);
  });
});

describe('guest checkout', () => {
  it('orders for the email given, with no account, announces it, and opens the order with the token', async () => {
    const offer = await announce();
    const { reservation, guestToken } = await guestHold(offer, 2);
    const { payload } = await checkout({ reservationId: reservation.id, guestToken }, {});
    expect(payload!.errors).toEqual([]);
    const order = payload!.order!;
    expect(order).toMatchObject({
      status: 'PENDING_PAYMENT',
      total: { amount: 5000, currency: 'EUR' },
      buyer: { name: 'Gost', email: 'guest@example.com', user: null },
    });
    const [row] = await subgraph.sql`select buyer_id from orders.orders where id = ${order.id}`;
    expect(row).toEqual({ buyer_id: null });
    const announced = await waitFor(async () => created.find((event) => event.payload.orderId === order.id));
    // Billing lets whoever shows the token pay: it gets the token's hash, never the token.
    expect(announced.payload).toMatchObject({
      buyerId: null,
      buyerEmail: 'guest@example.com',
      guestTokenHash: createHash('sha256').update(guestToken!).digest('hex'),
    });
    // Idempotent, with the token.
    expect((await checkout({ reservationId: reservation.id, guestToken }, {})).payload!.order).toEqual(order);
    expect(await orderSeen(order.id, guestToken)).toEqual(order);
    expect(await orderSeen(order.id, null)).toBeNull();
    expect(await orderSeen(order.id, tampered(guestToken))).toBeNull();
    expect(await orderSeen(order.id, (await guestHold(offer)).guestToken)).toBeNull();
    // No account's history holds it.
    const someone = await subgraph.bearer({ sub: uuidv7() });
    const { data } = await subgraph.gql<{ myOrders: { edges: unknown[] } }>(
      '{ myOrders { edges { cursor } } }',
      {},
      someone,
    );
    expect(data!.myOrders.edges).toEqual([]);
  });

  it('still needs a verified email address for a signed-in owner', async () => {
    const offer = await announce();
    const sub = uuidv7();
    const unverified = await subgraph.bearer({ sub, email_verified: false });
    const { reservation } = await reserve(subgraph, items(offer), unverified);
    expect((await checkout({ reservationId: reservation!.id }, unverified)).codes).toEqual([
      'EMAIL_NOT_VERIFIED',
    ]);
    const verified = await subgraph.bearer({ sub });
    const { payload } = await checkout({ reservationId: reservation!.id }, verified);
    expect(payload!.order!.buyer.user).toEqual({ id: sub });
  });

  it("counts a guest's earlier purchases by email against maxPerBuyer, case-insensitively", async () => {
    const offer = await announce({ maxPerBuyer: 3 });
    const first = await guestHold(offer, 2);
    const { payload } = await checkout(
      {
        reservationId: first.reservation.id,
        guestToken: first.guestToken,
        buyer: { name: 'G', email: 'Limit@Example.com' },
      },
      {},
    );
    await pay(payload!.order!);
    await waitFor(async () => (await orderSeen(payload!.order!.id, first.guestToken))!.status === 'PAID');
    const second = await guestHold(offer, 2);
    const refused = await checkout(
      {
        reservationId: second.reservation.id,
        guestToken: second.guestToken,
        buyer: { name: 'G', email: 'limit@example.COM' },
      },
      {},
    );
    expect(refused.payload).toEqual({
      order: null,
      errors: [
        {
          code: 'INVALID_INPUT',
          message: expect.stringMatching(/at most 3 per buyer/),
          field: ['input', 'buyer', 'email'],
        },
      ],
    });
    // One more fits; another address is another buyer.
    const third = await guestHold(offer, 1);
    expect(
      (
        await checkout(
          {
            reservationId: third.reservation.id,
            guestToken: third.guestToken,
            buyer: { name: 'G', email: 'limit@example.com' },
          },
          {},
        )
      ).payload!.errors,
    ).toEqual([]);
    expect(
      (
        await checkout(
          {
            reservationId: second.reservation.id,
            guestToken: second.guestToken,
            buyer: { name: 'G', email: 'other@example.com' },
          },
          {},
        )
      ).payload!.errors,
    ).toEqual([]);
  });

  it('lets only one of two concurrent checkouts with one email past maxPerBuyer', async () => {
    const offer = await announce({ maxPerBuyer: 2 });
    const holds = [await guestHold(offer, 2), await guestHold(offer, 2)];
    const results = await Promise.all(
      holds.map(({ reservation, guestToken }) =>
        checkout(
          { reservationId: reservation.id, guestToken, buyer: { name: 'G', email: 'race@example.com' } },
          {},
        ),
      ),
    );
    const codes = results.map((result) => result.payload!.errors.map((error) => error.code).join()).sort();
    expect(codes).toEqual(['', 'INVALID_INPUT']);
  });

  it('makes one order of two concurrent checkouts of one guest hold', async () => {
    const offer = await announce();
    const { reservation, guestToken } = await guestHold(offer, 1);
    const [a, b] = await Promise.all([
      checkout({ reservationId: reservation.id, guestToken }, {}),
      checkout({ reservationId: reservation.id, guestToken }, {}),
    ]);
    expect(a.payload!.order!.id).toBe(b.payload!.order!.id);
    expect(
      await subgraph.sql`select id from orders.orders where reservation_id = ${reservation.id}`,
    ).toHaveLength(1);
  });
});

it('answers a signed-in user releasing a guest hold as for an unknown id', async () => {
  const offer = await announce();
  const { reservation } = await guestHold(offer);
  const someone = await subgraph.bearer({ sub: uuidv7() });
  expect(await release(subgraph, reservation.id, someone)).toEqual({
    reservation: null,
    ...notFound(['input', 'id']),
  });
});
