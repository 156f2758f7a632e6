import {
  decodeCursor,
  displayText,
  emailAddress,
  mutationRule,
  pageSize,
  requireUser,
  requireVerifiedUser,
  type Transaction,
  toConnection,
  type UserError,
  uuidInput,
  type Viewer,
} from '@bilten/platform';
import { v7 as uuidv7 } from 'uuid';
import { z } from 'zod';
import type { Context } from '../context.ts';
import { lockOffer, ticketTypesOfOffer } from '../db/offers.ts';
import { sealOrderData } from '../db/person-data.ts';
import { pricingOf } from '../db/pricing.ts';
import { insertOrder, orderOfReservation, ordersOfBuyer } from '../db/queries.ts';
import {
  boughtByBuyer,
  itemsOfReservation,
  liveHoldForCheckout,
  setReservationStatus,
} from '../db/reservations.ts';
import type { OrderRow, ReservationItemRow } from '../db/schema.ts';
import { orderCreated } from '../events.ts';
import { perBuyerLimitMessage } from './inventory.ts';
import { completePaidOrder } from './order-payments.ts';
import { charges } from './pricing.ts';
import { buyerOrGuest, guestTokenInput, ownsReservation } from './reservations.ts';
import { readsOrdersOf, reportOrderReads } from './sales-views.ts';

/** GraphQL's `Int`, the most a `Money.amount` can say. */
const MAX_AMOUNT = 2_147_483_647;

const checkoutInput = z.object({
  reservationId: uuidInput,
  guestToken: guestTokenInput,
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

/** A signed-in buyer must have verified their address; anyone else checks out as a guest. */
const verifiedUserOrGuest = (viewer: Viewer) =>
  viewer.kind === 'user' ? requireVerifiedUser(viewer) : buyerOrGuest(viewer);

/**
 * Turns the caller's live reservation into an order waiting for payment. Only its owner may: the
 * signed-in user who reserved it (with a verified address), or for a guest hold whoever shows its
 * guest token (the order has no account then); anyone else's reservation is NOT_FOUND, as an
 * unknown id. Idempotent: one order per reservation, and a second call answers that order.
 *
 * Under the event's offer lock, like every hold: so concurrent checkouts of one reservation run
 * one after another (the second finds the first's order), and the hold's expiry is judged by
 * `statement_timestamp()` as the holds judge it, so a hold whose stock a later reservation already
 * took can never become an order. Fees and taxes follow the organization's rules (pricing.ts). An
 * order that costs nothing is paid at once (completePaidOrder) and billing hears nothing of it.
 */
export const checkout = mutationRule(
  { input: checkoutInput, caller: verifiedUserOrGuest, invalid: refused },
  async (
    ctx: Pick<Context, 'db' | 'viewer' | 'loaders' | 'outbox' | 'paidOrders' | 'people'>,
    input,
  ): Promise<CheckoutResult> => {
    const reservation = await ctx.loaders.reservation.load(input.reservationId);
    if (!reservation || !ownsReservation(ctx.viewer, reservation, input.guestToken))
      return refused([noSuchReservation]);
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
      // A guest's holds are tied to no one: the per-buyer limit counts their email's orders now.
      if (!hold.buyerId) {
        const emailIndex = ctx.people.keys.index(input.buyer.email, 'email');
        const problem = await guestLimitProblem(tx, hold.eventId, emailIndex, items);
        if (problem) return refused([problem]);
      }
      const subtotal = items.reduce((sum, item) => sum + item.unitPriceAmount * item.quantity, 0);
      const pricing = await pricingOf(tx, offer!.organizationId);
      const { fees, taxes, total } = charges(pricing, {
        subtotal,
        tickets,
        currency: hold.currency,
      });
      if (total > MAX_AMOUNT)
        return refused([
          {
            code: 'INVALID_INPUT',
            message: 'the total is too large for one order',
            field: ['input', 'reservationId'],
          },
        ]);
      const orderId = uuidv7();
      const buyer = { buyerName: input.buyer.name, buyerEmail: input.buyer.email, attendees };
      const order = await insertOrder(tx, {
        id: orderId,
        reservationId: hold.id,
        buyerId: hold.buyerId,
        eventId: hold.eventId,
        organizationId: offer!.organizationId,
        currency: hold.currency,
        subtotalAmount: subtotal,
        feesAmount: fees,
        taxesAmount: taxes,
        totalAmount: total,
        // Sealed under the buyer (their account, or a guest's email index): db/person-data.ts.
        ...(await sealOrderData(tx, ctx.people, orderId, hold.buyerId, buyer)),
        expiresAt: hold.expiresAt,
      });
      await setReservationStatus(tx, hold.id, 'CHECKED_OUT');
      if (total === 0) {
        // Nothing to charge: paid now, as a payment would (billing gets no orderCreated).
        await completePaidOrder(tx, ctx.outbox, ctx.paidOrders, order, null);
        return { order: { ...order, status: 'PAID' }, errors: [] };
      }
      await ctx.outbox.publish(tx, orderCreated, order.id, {
        orderId: order.id,
        eventId: order.eventId,
        organizationId: order.organizationId,
        buyerId: order.buyerId,
        guestTokenHash: hold.guestTokenHash,
        buyerEmail: buyer.buyerEmail,
        buyerName: buyer.buyerName,
        eventTitle: offer!.title,
        lines: items.map((item) => ({
          ticketTypeId: item.ticketTypeId,
          name: item.name,
          quantity: item.quantity,
          unitPrice: { amount: item.unitPriceAmount, currency: order.currency },
        })),
        subtotal: { amount: subtotal, currency: order.currency },
        fees: { amount: fees, currency: order.currency },
        taxes: { amount: taxes, currency: order.currency },
        taxBasisPoints: pricing?.taxBasisPoints ?? 0,
        total: { amount: order.totalAmount, currency: order.currency },
        expiresAt: order.expiresAt.toISOString(),
        refundPolicy: offer!.refundPolicy,
        eventStartsAt: offer!.startsAt.toISOString(),
      });
      return { order, errors: [] };
    });
  },
);

/**
 * Over the per-buyer limit of a ticket type with this guest's email: what it bought and kept, or
 * has waiting for payment, of the event, plus this reservation.
 */
async function guestLimitProblem(
  tx: Transaction,
  eventId: string,
  emailIndex: string,
  items: ReservationItemRow[],
): Promise<UserError | null> {
  const types = new Map((await ticketTypesOfOffer(tx, eventId)).map((type) => [type.id, type]));
  const limited = items.filter((item) => types.get(item.ticketTypeId)?.maxPerBuyer != null);
  if (!limited.length) return null;
  const bought = await boughtByBuyer(tx, eventId, { emailIndex });
  for (const item of limited) {
    const type = types.get(item.ticketTypeId)!;
    const taken = bought.get(item.ticketTypeId) ?? 0;
    if (taken + item.quantity > type.maxPerBuyer!)
      return {
        code: 'INVALID_INPUT',
        message: `“${type.name}”: ${perBuyerLimitMessage(type.maxPerBuyer!, taken)} with this email address`,
        field: ['input', 'buyer', 'email'],
      };
  }
  return null;
}

/**
 * `order(id:, guestToken:)` and Order references: the order when the caller may see it, else
 * null. A guest's order opens with its reservation's guest token.
 */
export async function visibleOrder(
  ctx: Pick<Context, 'loaders' | 'viewer' | 'db' | 'outbox' | 'requestId'>,
  { id, guestToken }: { id: string; guestToken?: string | null },
): Promise<OrderRow | null> {
  const order = await ctx.loaders.order.load(id);
  if (!order) return null;
  if (orderSeenBy(ctx.viewer, order)) {
    await reportOrderReads(ctx, [order], 'order');
    return order;
  }
  if (order.buyerId || !guestToken) return null;
  const reservation = await ctx.loaders.reservation.load(order.reservationId);
  return reservation && ownsReservation(ctx.viewer, reservation, guestToken) ? order : null;
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
 * An order is its buyer's business, its organization's (members, STAFF and up: they check its
 * tickets in; API keys with orders:read: box offices and integrations) and platform
 * administrators'; to anyone else it does not exist, so ids cannot be probed.
 */
function orderSeenBy(viewer: Viewer, order: OrderRow | null): OrderRow | null {
  if (!order || viewer.kind === 'anonymous') return null;
  if (readsOrdersOf(viewer, order.organizationId)) return order;
  return viewer.kind === 'user' &&
    ((order.buyerId !== null && viewer.userId === order.buyerId) || viewer.roles.includes('ADMIN'))
    ? order
    : null;
}
