import {
  decodeCursor,
  displayText,
  emailAddress,
  mutationRule,
  pageSize,
  requireUser,
  requireVerifiedUser,
  toConnection,
  type UserError,
  uuidInput,
  type Viewer,
} from '@bilten/platform';
import { v7 as uuidv7 } from 'uuid';
import { z } from 'zod';
import type { Context } from '../context.ts';
import { lockOffer } from '../db/offers.ts';
import { insertOrder, orderOfReservation, ordersOfBuyer } from '../db/queries.ts';
import { itemsOfReservation, liveHoldForCheckout, setReservationStatus } from '../db/reservations.ts';
import type { OrderRow } from '../db/schema.ts';
import { orderCreated } from '../events.ts';

const checkoutInput = z.object({
  reservationId: uuidInput,
  buyer: z.object({ name: displayText(200), email: emailAddress }),
  /** One name per ticket, in order, for the tickets to carry; fewer is fine. */
  attendees: z
    .array(z.object({ name: displayText(200) }))
    .max(3000, 'at most one name per ticket')
    .nullish(),
});

export interface CheckoutResult {
  order: OrderRow | null;
  errors: UserError[];
}

const refused = (errors: UserError[]): CheckoutResult => ({ order: null, errors });

const noSuchReservation: UserError = {
  code: 'NOT_FOUND',
  message: 'no such reservation',
  field: ['input', 'reservationId'],
};

/**
 * Turns the caller's live reservation into an order waiting for payment. Only its owner may (a
 * verified user: guest checkout comes later); anyone else's reservation is NOT_FOUND, as an
 * unknown id. Idempotent: one order per reservation, and a second call answers that order.
 *
 * Under the event's offer lock, like every hold: so concurrent checkouts of one reservation run
 * one after another (the second finds the first's order), and the hold's expiry is judged by
 * `statement_timestamp()` as the holds judge it, so a hold whose stock a later reservation already
 * took can never become an order. Fees and taxes are zero until per-organization rules land.
 */
export const checkout = mutationRule(
  { input: checkoutInput, caller: requireVerifiedUser, invalid: refused },
  async (
    ctx: Pick<Context, 'db' | 'viewer' | 'loaders' | 'outbox'>,
    input,
    buyer,
  ): Promise<CheckoutResult> => {
    const reservation = await ctx.loaders.reservation.load(input.reservationId);
    if (!reservation || reservation.buyerId !== buyer.userId) return refused([noSuchReservation]);
    const tickets = (await ctx.loaders.reservationItems.load(reservation.id)).reduce(
      (sum, item) => sum + item.quantity,
      0,
    );
    const attendees = input.attendees ?? [];
    if (attendees.length > tickets)
      return refused([
        {
          code: 'INVALID_INPUT',
          message: `at most ${tickets} names, one per ticket`,
          field: ['input', 'attendees'],
        },
      ]);
    return ctx.db.transaction(async (tx): Promise<CheckoutResult> => {
      const offer = await lockOffer(tx, reservation.eventId);
      const existing = await orderOfReservation(tx, reservation.id);
      if (existing) return { order: existing, errors: [] };
      const hold = await liveHoldForCheckout(tx, reservation.id);
      if (!hold)
        return refused([
          reservation.status === 'RELEASED'
            ? {
                code: 'INVALID_INPUT',
                message: 'the reservation was released',
                field: ['input', 'reservationId'],
              }
            : {
                code: 'RESERVATION_EXPIRED',
                message: 'the reservation ran out before checkout; its tickets went back on sale',
                field: ['input', 'reservationId'],
              },
        ]);
      const items = await itemsOfReservation(tx, hold.id);
      const subtotal = items.reduce((sum, item) => sum + item.unitPriceAmount * item.quantity, 0);
      const fees = 0;
      const taxes = 0;
      const order = await insertOrder(tx, {
        id: uuidv7(),
        reservationId: hold.id,
        buyerId: buyer.userId,
        eventId: hold.eventId,
        organizationId: offer!.organizationId,
        currency: hold.currency,
        subtotalAmount: subtotal,
        feesAmount: fees,
        taxesAmount: taxes,
        totalAmount: subtotal + fees + taxes,
        buyerName: input.buyer.name,
        buyerEmail: input.buyer.email,
        attendees,
        expiresAt: hold.expiresAt,
      });
      await setReservationStatus(tx, hold.id, 'CHECKED_OUT');
      await ctx.outbox.publish(tx, orderCreated, order.id, {
        orderId: order.id,
        eventId: order.eventId,
        organizationId: order.organizationId,
        buyerId: order.buyerId,
        buyerEmail: order.buyerEmail,
        total: { amount: order.totalAmount, currency: order.currency },
        expiresAt: order.expiresAt.toISOString(),
      });
      return { order, errors: [] };
    });
  },
);

/** `order(id:)` and Order references: the order when the caller may see it, else null. */
export async function visibleOrder(
  ctx: Pick<Context, 'loaders' | 'viewer'>,
  { id }: { id: string },
): Promise<OrderRow | null> {
  return orderSeenBy(ctx.viewer, await ctx.loaders.order.load(id));
}

/** `myOrders`: the signed-in caller's orders, newest first. */
export async function myOrders(
  ctx: Pick<Context, 'db' | 'viewer'>,
  { first, after }: { first?: number | null; after?: string | null },
) {
  const user = requireUser(ctx.viewer);
  const size = pageSize(first);
  const beforeId = after ? decodeCursor(after) : undefined;
  return toConnection(await ordersOfBuyer(ctx.db, user.userId, size + 1, beforeId), size);
}

/**
 * An order is its buyer's business, its organization's members' (STAFF and up: they check its
 * tickets in) and platform administrators'; to anyone else it does not exist, so ids cannot be
 * probed. Organizers' lists of their events' orders come later.
 */
function orderSeenBy(viewer: Viewer, order: OrderRow | null): OrderRow | null {
  if (!order || viewer.kind !== 'user') return null;
  return viewer.userId === order.buyerId ||
    viewer.organizations[order.organizationId] !== undefined ||
    viewer.roles.includes('ADMIN')
    ? order
    : null;
}
