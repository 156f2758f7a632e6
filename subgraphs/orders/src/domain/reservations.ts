import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import {
  DomainError,
  mutationRule,
  type Transaction,
  type UserError,
  uuidInput,
  type Viewer,
} from '@bilten/platform';
import { v7 as uuidv7 } from 'uuid';
import { z } from 'zod';
import type { Context } from '../context.ts';
import { lockOffer, offerOf, ticketTypesOfOffer } from '../db/offers.ts';
import {
  activeHolds,
  boughtByBuyer,
  insertReservation,
  itemsOfReservation,
  liveGuestHolds,
  markExpiredHolds,
  releaseHold,
  reservationOfKey,
} from '../db/reservations.ts';
import type { ReservationItemRow, ReservationRow } from '../db/schema.ts';
import { waitedFor } from '../db/waiting-list.ts';
import { eventAvailabilityChanged } from '../events.ts';
import { allocate, eventNotOnSale, offerRefusal } from './inventory.ts';

const MAX_ITEMS = 30;
/** Catalog's largest maxPerOrder: no ticket type takes more in one order. */
const MAX_QUANTITY = 100;

const reserveTicketsInput = z.object({
  eventId: uuidInput,
  /** The client's name for this request: a retry with it answers the hold the first one made. */
  idempotencyKey: z
    .string()
    .trim()
    .min(8, 'at least 8 characters')
    .max(100, 'at most 100 characters')
    .nullish(),
  items: z
    .array(
      z.object({
        ticketTypeId: uuidInput,
        quantity: z
          .number()
          .int()
          .min(1, `must be 1–${MAX_QUANTITY}`)
          .max(MAX_QUANTITY, `must be 1–${MAX_QUANTITY}`),
      }),
    )
    .min(1, 'ask for at least one ticket type')
    .max(MAX_ITEMS, `at most ${MAX_ITEMS} ticket types`)
    .superRefine((items, check) => {
      const seen = new Set<string>();
      items.forEach(({ ticketTypeId }, index) => {
        if (seen.has(ticketTypeId))
          check.addIssue({
            code: 'custom',
            message: 'asked for twice: give each ticket type once, with its whole quantity',
            path: [index, 'ticketTypeId'],
          });
        seen.add(ticketTypeId);
      });
    }),
});

interface Money {
  amount: number;
  currency: string;
}

/** A reservation as the API shows it. */
export interface ReservationView {
  id: string;
  event: { id: string };
  status: ReservationRow['status'];
  expiresAt: Date;
  createdAt: Date;
  items: Array<{ ticketType: { id: string }; quantity: number; unitPrice: Money; subtotal: Money }>;
  total: Money;
}

export interface ReservationResult {
  reservation: ReservationView | null;
  /** A guest hold's token, answered once (only its hash is stored). */
  guestToken?: string | null;
  errors: UserError[];
}

const refused = (errors: UserError[]): ReservationResult => ({ reservation: null, errors });

const keyUsedElsewhere: UserError = {
  code: 'INVALID_INPUT',
  message: 'this idempotency key was used for another request',
  field: ['input', 'idempotencyKey'],
};

// ---------------------------------------------------------------- owners: accounts and guests

/** Who reserves: a signed-in user (by account), or a caller not signed in (a guest hold). */
export type ReservingBuyer =
  | { kind: 'user'; userId: string; organizations: Record<string, unknown> }
  | { kind: 'guest'; organizations: Record<string, never> };

/** Anyone but an API key (an organization's machine buys no tickets). */
export function buyerOrGuest(viewer: Viewer): ReservingBuyer {
  if (viewer.kind === 'apiKey')
    throw new DomainError('FORBIDDEN', 'API keys cannot do this; sign in as a user');
  return viewer.kind === 'user'
    ? { kind: 'user', userId: viewer.userId, organizations: viewer.organizations }
    : { kind: 'guest', organizations: {} };
}

const sha256Hex = (text: string) => createHash('sha256').update(text).digest('hex');

/**
 * Whether the caller owns the reservation: its account, or for a guest hold the token handed out
 * with it (compared by hash, in constant time). Anything else answers as an unknown id.
 */
export function ownsReservation(
  viewer: Viewer,
  reservation: Pick<ReservationRow, 'buyerId' | 'guestTokenHash'>,
  guestToken: string | null | undefined,
): boolean {
  if (reservation.buyerId) return viewer.kind === 'user' && viewer.userId === reservation.buyerId;
  if (!reservation.guestTokenHash || !guestToken) return false;
  const given = Buffer.from(sha256Hex(guestToken));
  const stored = Buffer.from(reservation.guestTokenHash);
  return given.length === stored.length && timingSafeEqual(given, stored);
}

/** A guest token as the API takes it: base64url of 32 bytes is 43 characters; anything long is no token. */
export const guestTokenInput = z.string().max(100, 'not a guest token').nullish();

/**
 * What `allocate` makes of the request against the event's stock as `tx` sees it: the offer, its
 * ticket types, live holds (all and the buyer's), the buyer's purchases and who waits, read with
 * one round trip (postgres.js pipelines the statements of one connection).
 */
async function judge(
  tx: Transaction,
  offer: NonNullable<Awaited<ReturnType<typeof offerOf>>>,
  items: Array<{ ticketTypeId: string; quantity: number }>,
  buyer: ReservingBuyer,
  now: Date,
) {
  const buyerId = buyer.kind === 'user' ? buyer.userId : null;
  const [types, holds, bought, waiting] = await Promise.all([
    ticketTypesOfOffer(tx, offer.eventId),
    activeHolds(tx, offer.eventId, buyerId),
    // A guest's purchases are counted by email at checkout (orders.ts), when it is known.
    buyerId ? boughtByBuyer(tx, offer.eventId, { buyerId }) : new Map<string, number>(),
    waitedFor(tx, offer.eventId),
  ]);
  const counts = new Map(
    types.map((type) => {
      const hold = holds.find((row) => row.ticketTypeId === type.id);
      return [
        type.id,
        {
          held: hold?.held ?? 0,
          heldByBuyer: hold?.heldByBuyer ?? 0,
          boughtByBuyer: bought.get(type.id) ?? 0,
        },
      ];
    }),
  );
  return allocate(offer, types, counts, items, buyer, now, waiting);
}

/**
 * Holds the tickets for the buyer, all items or none, from orders' copy of the offer alone: a
 * signed-in user (verified or not: only checkout needs a verified address) owns it by account;
 * anyone else gets a guest hold and its one-time token, at most GUEST_HOLDS_PER_ADDRESS live ones
 * per client address and event. Ticket types someone waits for are the waiting list's first.
 *
 * Why no interleaving can oversell: every transaction that adds to what is held first locks the
 * event's offer row (FOR UPDATE) and keeps the lock until it commits. So holds of one event are
 * taken one after another, and each counts sold + live holds, per ticket type and for the event,
 * in statements that start after the previous holder committed (READ COMMITTED shows them). It
 * takes only what that count leaves, so `sold + held ≤ capacity` stays true once it commits. What
 * runs without the lock only gives back (a release, an expiry): a count that missed it counts too
 * much, never too little. A new snapshot changes capacity under the same row lock (its upsert),
 * so a hold sees the capacity before or after it, never half of one.
 */
export const reserveTickets = mutationRule(
  { input: reserveTicketsInput, caller: buyerOrGuest, invalid: refused },
  async (
    ctx: Pick<
      Context,
      'db' | 'viewer' | 'loaders' | 'outbox' | 'reservationTtlSeconds' | 'clientIp' | 'guestHoldsPerAddress'
    >,
    { eventId, items, idempotencyKey },
    buyer,
  ) => {
    if (idempotencyKey && buyer.kind === 'guest')
      return refused([
        {
          code: 'INVALID_INPUT',
          message: 'sign in to use an idempotency key (a guest hold answers its token once)',
          field: ['input', 'idempotencyKey'],
        },
      ]);
    const repeat = (row: ReservationRow, rowItems: ReservationItemRow[]) =>
      sameRequest(row, rowItems, eventId, items)
        ? { reservation: viewOf(row, rowItems), guestToken: null, errors: [] }
        : refused([keyUsedElsewhere]);
    if (idempotencyKey && buyer.kind === 'user') {
      const earlier = await reservationOfKey(ctx.db, buyer.userId, idempotencyKey);
      if (earlier) return repeat(earlier, await ctx.loaders.reservationItems.load(earlier.id));
    }
    // First a look without the lock, in one snapshot (REPEATABLE READ): a refusal it finds (sold
    // out, above all, in a rush) was true at that instant, and holds only grow under the lock, so
    // it is answered without queueing. Only a request that could be served takes the lock.
    const early = await ctx.db.transaction(
      async (tx) => {
        const offer = await offerOf(tx, eventId);
        if (!offer) return [eventNotOnSale];
        const refusal = offerRefusal(offer, new Date());
        return refusal ? [refusal] : (await judge(tx, offer, items, buyer, new Date())).errors;
      },
      { isolationLevel: 'repeatable read', accessMode: 'read only' },
    );
    if (early.length) return refused(early);
    return ctx.db.transaction(async (tx): Promise<ReservationResult> => {
      const now = new Date();
      const offer = await lockOffer(tx, eventId);
      if (!offer) return refused([eventNotOnSale]);
      const refusal = offerRefusal(offer, now);
      if (refusal) return refused([refusal]);
      // Under the offer's lock, so concurrent guests of one address are counted one after another.
      // Hashed: the address itself is not kept with the hold.
      const clientKey = buyer.kind === 'guest' ? sha256Hex(`client:${ctx.clientIp}`) : null;
      if (clientKey) {
        if ((await liveGuestHolds(tx, eventId, clientKey)) >= ctx.guestHoldsPerAddress)
          throw new DomainError(
            'RATE_LIMITED',
            `at most ${ctx.guestHoldsPerAddress} reservations at a time for this event without signing in: sign in, or release one`,
          );
      }
      // Housekeeping beside the count, in the same round trip: expired holds count for nothing either way.
      const [, { lines, errors }] = await Promise.all([
        markExpiredHolds(tx, eventId),
        judge(tx, offer, items, buyer, now),
      ]);
      if (errors.length) return refused(errors);
      const buyerId = buyer.kind === 'user' ? buyer.userId : null;
      // A retry that raced the first request to the lock finds its hold now.
      const earlier = buyerId && idempotencyKey && (await reservationOfKey(tx, buyerId, idempotencyKey));
      if (earlier) return repeat(earlier, await itemsOfReservation(tx, earlier.id));
      const id = uuidv7();
      const guestToken = buyer.kind === 'guest' ? randomBytes(32).toString('base64url') : null;
      const row = await insertReservation(
        tx,
        {
          id,
          buyerId,
          guestTokenHash: guestToken ? sha256Hex(guestToken) : null,
          guestClientKey: clientKey,
          idempotencyKey: idempotencyKey ?? null,
          eventId,
          currency: offer.currency,
        },
        lines,
        ctx.reservationTtlSeconds,
      );
      if (!row) return refused([keyUsedElsewhere]);
      await ctx.outbox.publish(tx, eventAvailabilityChanged, eventId, { eventId });
      return {
        reservation: viewOf(
          row,
          lines.map((line) => ({ ...line, reservationId: id })),
        ),
        guestToken,
        errors: [],
      };
    });
  },
);

const releaseReservationInput = z.object({ id: uuidInput, guestToken: guestTokenInput });

/** The owner gives the tickets back at once; again, or after expiry, it changes nothing. */
export const releaseReservation = mutationRule(
  { input: releaseReservationInput, caller: buyerOrGuest, invalid: refused },
  async (ctx: Pick<Context, 'db' | 'viewer' | 'loaders' | 'outbox'>, { id, guestToken }) => {
    const owned = await ctx.loaders.reservation.load(id);
    if (!owned || !ownsReservation(ctx.viewer, owned, guestToken))
      return refused([{ code: 'NOT_FOUND', message: 'no such reservation', field: ['input', 'id'] }]);
    const released = await ctx.db.transaction(async (tx) => {
      if (!(await releaseHold(tx, id))) return false;
      await ctx.outbox.publish(tx, eventAvailabilityChanged, owned.eventId, { eventId: owned.eventId });
      return true;
    });
    if (released) ctx.loaders.reservation.clear(id);
    return { reservation: await visibleReservation(ctx, { id, guestToken }), errors: [] };
  },
);

/** `reservation(id:, guestToken:)`: the caller's own reservation; anyone else's does not exist for them. */
export async function visibleReservation(
  ctx: Pick<Context, 'loaders' | 'viewer'>,
  { id, guestToken }: { id: string; guestToken?: string | null },
): Promise<ReservationView | null> {
  const row = await ctx.loaders.reservation.load(id);
  if (!row || !ownsReservation(ctx.viewer, row, guestToken)) return null;
  return viewOf(row, await ctx.loaders.reservationItems.load(row.id));
}

/** Whether an earlier reservation answers this request: the same event and the same items. */
function sameRequest(
  row: ReservationRow,
  rowItems: ReservationItemRow[],
  eventId: string,
  items: Array<{ ticketTypeId: string; quantity: number }>,
): boolean {
  const key = (list: Array<{ ticketTypeId: string; quantity: number }>) =>
    list
      .map((item) => `${item.ticketTypeId}:${item.quantity}`)
      .sort()
      .join(',');
  return row.eventId === eventId && key(rowItems) === key(items);
}

function viewOf(row: ReservationRow, items: ReservationItemRow[]): ReservationView {
  const money = (amount: number) => ({ amount, currency: row.currency });
  // In the ticket types' order of creation (their ids are UUIDv7), however they were asked for.
  const sorted = [...items].sort((a, b) => a.ticketTypeId.localeCompare(b.ticketTypeId));
  return {
    id: row.id,
    event: { id: row.eventId },
    status: row.status,
    expiresAt: row.expiresAt,
    createdAt: row.createdAt,
    items: sorted.map((item) => ({
      ticketType: { id: item.ticketTypeId },
      quantity: item.quantity,
      unitPrice: money(item.unitPriceAmount),
      subtotal: money(item.unitPriceAmount * item.quantity),
    })),
    total: money(sorted.reduce((sum, item) => sum + item.unitPriceAmount * item.quantity, 0)),
  };
}
