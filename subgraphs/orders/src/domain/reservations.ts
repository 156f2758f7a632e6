import { mutationRule, requireUser, type UserError, uuidInput, type Viewer } from '@bilten/platform';
import { v7 as uuidv7 } from 'uuid';
import { z } from 'zod';
import type { Context } from '../context.ts';
import { lockOffer, ticketTypesOfOffer } from '../db/offers.ts';
import { activeHolds, insertReservation, markExpiredHolds, releaseHold } from '../db/reservations.ts';
import type { ReservationItemRow, ReservationRow } from '../db/schema.ts';
import { allocate, eventNotOnSale, offerRefusal } from './inventory.ts';

const MAX_ITEMS = 30;
/** Catalog's largest maxPerOrder: no ticket type takes more in one order. */
const MAX_QUANTITY = 100;

const reserveTicketsInput = z.object({
  eventId: uuidInput,
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
  errors: UserError[];
}

const refused = (errors: UserError[]): ReservationResult => ({ reservation: null, errors });

/**
 * Holds the tickets for the signed-in buyer (verified or not: only checkout needs a verified
 * address), all items or none, from orders' copy of the offer alone.
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
  { input: reserveTicketsInput, caller: requireUser, invalid: refused },
  async (ctx: Pick<Context, 'db' | 'viewer' | 'reservationTtlSeconds'>, { eventId, items }, buyer) =>
    ctx.db.transaction(async (tx): Promise<ReservationResult> => {
      const now = new Date();
      const offer = await lockOffer(tx, eventId);
      if (!offer) return refused([eventNotOnSale]);
      const refusal = offerRefusal(offer, now);
      if (refusal) return refused([refusal]);
      await markExpiredHolds(tx, eventId);
      const types = await ticketTypesOfOffer(tx, eventId);
      const holds = await activeHolds(tx, eventId, buyer.userId);
      const { lines, errors } = allocate(
        offer,
        types,
        new Map(holds.map((hold) => [hold.ticketTypeId, hold])),
        items,
        buyer,
        now,
      );
      if (errors.length) return refused(errors);
      const id = uuidv7();
      const row = await insertReservation(
        tx,
        { id, buyerId: buyer.userId, eventId, currency: offer.currency },
        lines,
        ctx.reservationTtlSeconds,
      );
      return {
        reservation: viewOf(
          row,
          lines.map((line) => ({ ...line, reservationId: id })),
        ),
        errors: [],
      };
    }),
);

const releaseReservationInput = z.object({ id: uuidInput });

/** The owner gives the tickets back at once; again, or after expiry, it changes nothing. */
export const releaseReservation = mutationRule(
  { input: releaseReservationInput, caller: requireUser, invalid: refused },
  async (ctx: Pick<Context, 'db' | 'viewer' | 'loaders'>, { id }, buyer) => {
    await releaseHold(ctx.db, id, buyer.userId);
    const reservation = await visibleReservation(ctx, { id });
    if (!reservation)
      return refused([{ code: 'NOT_FOUND', message: 'no such reservation', field: ['input', 'id'] }]);
    return { reservation, errors: [] };
  },
);

/** `reservation(id:)`: the caller's own reservation; anyone else's does not exist for them. */
export async function visibleReservation(
  ctx: Pick<Context, 'loaders' | 'viewer'>,
  { id }: { id: string },
): Promise<ReservationView | null> {
  const row = await ctx.loaders.reservation.load(id);
  if (!row || !isBuyer(ctx.viewer, row)) return null;
  return viewOf(row, await ctx.loaders.reservationItems.load(row.id));
}

const isBuyer = (viewer: Viewer, reservation: ReservationRow) =>
  viewer.kind === 'user' && viewer.userId === reservation.buyerId;

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
