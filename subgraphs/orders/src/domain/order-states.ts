import type { Logger, Outbox, Transaction } from '@bilten/platform';
import { markOrderExpired, updateOrder } from '../db/queries.ts';
import type { OrderRow, OrderStatus } from '../db/schema.ts';
import { orderStatusChanged } from '../events.ts';

/**
 * The order's life, in one place: from each status, the statuses it may move to. Anything else is
 * refused here, whoever asks (a second payment, a refund of an unpaid order, a late event).
 */
const TRANSITIONS: Record<OrderStatus, readonly OrderStatus[]> = {
  PENDING_PAYMENT: ['PAID', 'EXPIRED', 'CANCELLED'],
  PAID: ['PARTIALLY_REFUNDED', 'REFUNDED'],
  // A second partial refund leaves it partially refunded, or completes it.
  PARTIALLY_REFUNDED: ['PARTIALLY_REFUNDED', 'REFUNDED'],
  REFUNDED: [],
  EXPIRED: [],
  CANCELLED: [],
};

/**
 * Whether `order` may move to `to`. An illegal move is logged (with what asked for it) and
 * changes nothing: the caller leaves the order as it is.
 */
export function mayTransition(log: Logger, order: OrderRow, to: OrderStatus, cause: string): boolean {
  if (TRANSITIONS[order.status].includes(to)) return true;
  log.warn({ orderId: order.id, from: order.status, to, cause }, 'illegal order transition refused');
  return false;
}

/**
 * Writes the order's new status (and what goes with it), and announces the move in the same
 * transaction (`orderStatusChanged`, for the gateway's `orderUpdated`). Every status write goes
 * through here, after `mayTransition` or for what reads said already (an expiry recorded).
 */
export async function changeOrderStatus(
  tx: Transaction,
  outbox: Outbox,
  order: Pick<OrderRow, 'id' | 'eventId' | 'organizationId' | 'status'>,
  to: OrderStatus,
  change: { refundedAmount?: number; paidPaymentId?: string | null } = {},
): Promise<void> {
  await updateOrder(tx, order.id, { status: to, ...change });
  await outbox.publish(tx, orderStatusChanged, order.id, {
    orderId: order.id,
    eventId: order.eventId,
    organizationId: order.organizationId,
    from: order.status,
    status: to,
  });
}

/**
 * An unpaid order's expiry, recorded: reads said EXPIRED from the moment it passed; this writes it
 * and announces the move, once, whoever records it first (the expiry sweep, or a payment that came
 * too late).
 */
export async function recordExpiry(
  tx: Transaction,
  outbox: Outbox,
  order: Pick<OrderRow, 'id' | 'eventId' | 'organizationId'>,
): Promise<void> {
  if (!(await markOrderExpired(tx, order.id))) return;
  await outbox.publish(tx, orderStatusChanged, order.id, {
    orderId: order.id,
    eventId: order.eventId,
    organizationId: order.organizationId,
    from: 'PENDING_PAYMENT',
    status: 'EXPIRED',
  });
}
