import type { Logger } from '@bilten/platform';
import type { OrderRow, OrderStatus } from '../db/schema.ts';

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
