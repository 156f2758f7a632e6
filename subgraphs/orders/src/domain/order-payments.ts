import { paymentFailed, paymentSucceeded, refundSucceeded } from '@bilten/contracts/billing';
import {
  type EventConsumer,
  type Logger,
  type Outbox,
  recordUsage,
  type Transaction,
} from '@bilten/platform';
import { v7 as uuidv7 } from 'uuid';
import { createTicketKeys, type TicketKeys } from '../adapters/ticket-keys.ts';
import { createTicketLinks, type TicketLinks } from '../adapters/ticket-links.ts';
import type { OrdersConfig } from '../config.ts';
import { eventIsCancelled } from '../db/cancellations.ts';
import { lockOffer } from '../db/offers.ts';
import { type OrdersPeople, openOrder } from '../db/person-data.ts';
import {
  addSold,
  eventTitle,
  insertRefundRequest,
  lockOrder,
  markRefundRequestRefunded,
  ordersByIds,
  soldOfEvent,
  ticketIdsOfOrder,
} from '../db/queries.ts';
import { itemsOfReservation, setReservationStatus } from '../db/reservations.ts';
import { type OrderRow, usage } from '../db/schema.ts';
import { voidTicketsOfOrder } from '../db/tickets.ts';
import { eventSalesChanged, orderPaid, refundRequested } from '../events.ts';
import { changeOrderStatus, mayTransition, recordExpiry } from './order-states.ts';
import { issueTickets } from './tickets.ts';

interface Money {
  amount: number;
  currency: string;
}

/**
 * The order, locked, under its event's offer lock: what is sold changes only there, as holds do,
 * so sales and holds of one event never interleave, expiry is judged as the holds judge it, and
 * each `eventSalesChanged` carries counts no older than the one before it.
 */
async function lockOrderOfEvent(tx: Transaction, orderId: string): Promise<OrderRow | undefined> {
  const [found] = await ordersByIds(tx, [orderId]);
  if (!found) return undefined;
  await lockOffer(tx, found.eventId);
  return lockOrder(tx, orderId);
}

/** Every ticket type's sold count of the event, whole: catalog keeps `tickets_sold` from it. */
async function publishSales(tx: Transaction, outbox: Outbox, eventId: string): Promise<void> {
  const ticketTypes = await soldOfEvent(tx, eventId);
  await outbox.publish(tx, eventSalesChanged, eventId, {
    eventId,
    ticketsSold: ticketTypes.reduce((sum, type) => sum + type.sold, 0),
    ticketTypes,
  });
}

const sameMoney = (order: OrderRow, money: Money) => money.currency === order.currency;

/** What a paid order needs: keys to sign its tickets, and their links sealed for messaging. */
export interface PaidOrderServices {
  ticketKeys: TicketKeys;
  ticketLinks: TicketLinks;
  /** Tickets' attendee names are sealed under the buyer; the event to messaging carries them in plaintext. */
  people: OrdersPeople;
}

export const paidOrderServices = (
  config: OrdersConfig,
  people: OrdersPeople,
  ticketKeys: TicketKeys = createTicketKeys(config),
): PaidOrderServices => ({
  people,
  ticketKeys,
  ticketLinks: createTicketLinks(config),
});

/**
 * An order becomes PAID, in the caller's transaction, under its event's offer lock: its held
 * tickets become sold (the hold stops counting as `sold` grows, so `sold + held` never moves), its
 * tickets are issued and signed (never paid without tickets), catalog hears the new sales, and
 * messaging gets `orderPaid` with each ticket's link token sealed for it. Billing's payment
 * (below) and checkout of a free order (orders.ts) both end here.
 */
export async function completePaidOrder(
  tx: Transaction,
  outbox: Outbox,
  services: PaidOrderServices,
  order: OrderRow,
  /** Billing's payment that paid it; null for a free order. */
  paymentId: string | null,
): Promise<void> {
  await changeOrderStatus(tx, outbox, order, 'PAID', { paidPaymentId: paymentId });
  await setReservationStatus(tx, order.reservationId, 'PURCHASED');
  const lines = await itemsOfReservation(tx, order.reservationId);
  await addSold(tx, lines, 1);
  const buyer = await openOrder(tx, services.people, order);
  await issueTickets(tx, services, order, buyer, lines);
  await publishSales(tx, outbox, order.eventId);
  const tickets = await ticketIdsOfOrder(tx, order.id);
  // Tickets sold, not net of refunds: a refund is a cost of selling too (issue 19).
  await recordUsage(tx, usage, {
    organizationId: order.organizationId,
    metric: 'tickets_sold',
    quantity: tickets.length,
  });
  await outbox.publish(tx, orderPaid, order.id, {
    orderId: order.id,
    eventId: order.eventId,
    organizationId: order.organizationId,
    buyerId: order.buyerId,
    buyerEmail: buyer.buyerEmail,
    buyerName: buyer.buyerName,
    eventTitle: await eventTitle(tx, order.eventId),
    tickets: tickets.map(({ id }) => ({
      ticketId: id,
      sealedToken: services.ticketLinks.sealed(id),
    })),
    total: { amount: order.totalAmount, currency: order.currency },
  });
}

/**
 * Billing's events drive the order's state machine (order-states.ts). Each runs once per event
 * (the inbox); what cannot apply is logged and changes nothing, so a redelivery cannot either.
 */
export function orderPaymentConsumers(
  log: Logger,
  outbox: Outbox,
  services: PaidOrderServices,
): EventConsumer[] {
  /**
   * PAID (completePaidOrder). A payment for an order that can no longer be paid (its hold lapsed
   * and its stock may be resold, or it was cancelled), or a second payment of a paid order, sells
   * nothing: orders asks billing to give the money back, once per payment (refund_requests),
   * however often the payment is announced.
   */
  const paid: EventConsumer<typeof paymentSucceeded.payload> = {
    name: 'order-payments',
    event: paymentSucceeded,
    async handle({ payload }, tx) {
      const order = await lockOrderOfEvent(tx, payload.orderId);
      if (!order) return void log.error({ ...payload }, 'payment for an unknown order');
      // The event was cancelled (cancellation.ts): an order still waiting is cancelled, not sold.
      if (order.status === 'PENDING_PAYMENT' && (await eventIsCancelled(tx, order.eventId))) {
        if (mayTransition(log, order, 'CANCELLED', `payment ${payload.paymentId} after cancellation`)) {
          await setReservationStatus(tx, order.reservationId, 'RELEASED');
          await changeOrderStatus(tx, outbox, order, 'CANCELLED');
          order.status = 'CANCELLED';
        }
      }
      // The paying payment announced again changes nothing; any other payment of a paid order is
      // money taken twice, and goes back.
      if (order.paidPaymentId === payload.paymentId) return;
      const unkept =
        order.status === 'EXPIRED'
          ? ('PAID_AFTER_EXPIRY' as const)
          : order.status === 'CANCELLED'
            ? ('EVENT_CANCELLED' as const)
            : order.status !== 'PENDING_PAYMENT'
              ? ('DUPLICATE_PAYMENT' as const)
              : null;
      if (unkept) {
        // An unpaid order expires by time alone (queries.ts); this records what reads said, unless
        // the expiry sweep did already.
        if (unkept === 'PAID_AFTER_EXPIRY') await recordExpiry(tx, outbox, order);
        const request = {
          refundId: uuidv7(),
          orderId: order.id,
          paymentId: payload.paymentId,
          reason: unkept,
          amount: payload.amount.amount,
          currency: payload.amount.currency,
        };
        if (!(await insertRefundRequest(tx, request)))
          return void log.info({ ...payload }, 'refund of this payment asked already');
        await outbox.publish(tx, refundRequested, order.id, {
          orderId: order.id,
          refundId: request.refundId,
          amount: payload.amount,
          reason: request.reason,
        });
        return;
      }
      if (!mayTransition(log, order, 'PAID', `payment ${payload.paymentId}`)) return;
      if (!sameMoney(order, payload.amount) || payload.amount.amount !== order.totalAmount)
        return void log.error(
          { orderId: order.id, paymentId: payload.paymentId, amount: payload.amount },
          "payment does not match the order's total; the order stays unpaid",
        );
      await completePaidOrder(tx, outbox, services, order, payload.paymentId);
    },
  };

  /** A declined or failed payment changes nothing: the order stays payable until it expires. */
  const failed: EventConsumer<typeof paymentFailed.payload> = {
    name: 'order-payment-failures',
    event: paymentFailed,
    async handle({ payload }) {
      log.info(
        { orderId: payload.orderId, paymentId: payload.paymentId, failureCode: payload.failureCode },
        'payment failed; the order stays payable until it expires',
      );
    },
  };

  /**
   * Money back: PARTIALLY_REFUNDED until the refunds add up to the total, then REFUNDED. Only a
   * full refund returns the tickets to stock (a partial one is a goodwill gesture: the buyer keeps
   * the tickets).
   */
  const refunded: EventConsumer<typeof refundSucceeded.payload> = {
    name: 'order-refunds',
    event: refundSucceeded,
    async handle({ payload }, tx) {
      // A refund orders asked for a payment it did not keep: nothing was sold, no state moves.
      if (await markRefundRequestRefunded(tx, payload.refundId)) return;
      const order = await lockOrderOfEvent(tx, payload.orderId);
      if (!order) return void log.error({ ...payload }, 'refund for an unknown order');
      const refundedAmount = order.refundedAmount + payload.amount.amount;
      const to = refundedAmount >= order.totalAmount ? 'REFUNDED' : 'PARTIALLY_REFUNDED';
      if (!mayTransition(log, order, to, `refund ${payload.refundId}`)) return;
      if (!sameMoney(order, payload.amount))
        return void log.error(
          { orderId: order.id, refundId: payload.refundId },
          'refund in another currency',
        );
      await changeOrderStatus(tx, outbox, order, to, { refundedAmount });
      if (to === 'REFUNDED') {
        // Back on sale, so no longer good for entry.
        await voidTicketsOfOrder(tx, order.id);
        await addSold(tx, await itemsOfReservation(tx, order.reservationId), -1);
        await publishSales(tx, outbox, order.eventId);
      }
    },
  };

  return [paid, failed, refunded] as EventConsumer[];
}
