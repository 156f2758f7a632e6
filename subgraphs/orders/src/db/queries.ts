import type { Database, Transaction } from '@bilten/platform';
import { and, desc, eq, getTableColumns, inArray, lt, sql } from 'drizzle-orm';
import {
  type OrderRow,
  type OrderStatus,
  offers,
  offerTicketTypes,
  orderRecords,
  refundRequests,
  tickets,
} from './schema.ts';

// Like holds, an unpaid order expires by time alone: read with statement_timestamp(), so that
// under the offer's lock it agrees with the holds' own expiry (reservations.ts).
const orderColumns = {
  ...getTableColumns(orderRecords),
  status: sql<OrderStatus>`case when ${orderRecords.status} = 'PENDING_PAYMENT'
    and ${orderRecords.expiresAt} <= statement_timestamp() then 'EXPIRED' else ${orderRecords.status} end`,
};

export async function insertOrder(tx: Transaction, row: typeof orderRecords.$inferInsert): Promise<OrderRow> {
  const [order] = await tx.insert(orderRecords).values(row).returning();
  return order!;
}

export async function orderOfReservation(
  tx: Transaction,
  reservationId: string,
): Promise<OrderRow | undefined> {
  const [order] = await tx
    .select(orderColumns)
    .from(orderRecords)
    .where(eq(orderRecords.reservationId, reservationId));
  return order;
}

/** The order as it stands now, locked until the transaction ends. */
export async function lockOrder(tx: Transaction, id: string): Promise<OrderRow | undefined> {
  const [order] = await tx
    .select(orderColumns)
    .from(orderRecords)
    .where(eq(orderRecords.id, id))
    .for('update');
  return order;
}

export async function updateOrder(
  tx: Transaction,
  id: string,
  change: Partial<Pick<OrderRow, 'status' | 'refundedAmount' | 'paidPaymentId'>>,
): Promise<void> {
  await tx.update(orderRecords).set(change).where(eq(orderRecords.id, id));
}

/** Counts the lines as sold on their ticket types, or (`sign` -1) gives them back. */
export async function addSold(
  tx: Transaction,
  lines: Array<{ ticketTypeId: string; quantity: number }>,
  sign: 1 | -1,
) {
  for (const line of lines) {
    await tx
      .update(offerTicketTypes)
      .set({ sold: sql`${offerTicketTypes.sold} + ${sign * line.quantity}` })
      .where(eq(offerTicketTypes.id, line.ticketTypeId));
  }
}

/** What is sold of each ticket type of the event, whole. */
export const soldOfEvent = (tx: Transaction, eventId: string) =>
  tx
    .select({ ticketTypeId: offerTicketTypes.id, sold: offerTicketTypes.sold })
    .from(offerTicketTypes)
    .where(eq(offerTicketTypes.eventId, eventId))
    .orderBy(offerTicketTypes.id);

export const ordersByIds = (db: Database | Transaction, ids: string[]) =>
  db.select(orderColumns).from(orderRecords).where(inArray(orderRecords.id, ids));

/** One page of the buyer's orders, newest first (ids are UUIDv7), before `beforeId`. */
export const ordersOfBuyer = (db: Database, buyerId: string, limit: number, beforeId?: string) =>
  db
    .select(orderColumns)
    .from(orderRecords)
    .where(and(eq(orderRecords.buyerId, buyerId), beforeId ? lt(orderRecords.id, beforeId) : undefined))
    .orderBy(desc(orderRecords.id))
    .limit(limit);

/** The tickets issued for the order, by id. */
export const ticketIdsOfOrder = (tx: Transaction, orderId: string) =>
  tx.select({ id: tickets.id }).from(tickets).where(eq(tickets.orderId, orderId)).orderBy(tickets.id);

export async function eventTitle(tx: Transaction, eventId: string): Promise<string> {
  const [offer] = await tx.select({ title: offers.title }).from(offers).where(eq(offers.eventId, eventId));
  return offer?.title ?? '';
}

/**
 * Records a refund orders asks billing for a payment it cannot keep; one per payment, so a second
 * event of the same payment asks nothing more. True when it is new.
 */
export async function insertRefundRequest(
  tx: Transaction,
  row: typeof refundRequests.$inferInsert,
): Promise<boolean> {
  const inserted = await tx
    .insert(refundRequests)
    .values(row)
    .onConflictDoNothing({ target: refundRequests.paymentId })
    .returning({ refundId: refundRequests.refundId });
  return inserted.length > 0;
}

/** Billing refunded one of those; true when `refundId` was one (a redelivery finds it again). */
export async function markRefundRequestRefunded(tx: Transaction, refundId: string): Promise<boolean> {
  const [request] = await tx
    .select({ refundedAt: refundRequests.refundedAt })
    .from(refundRequests)
    .where(eq(refundRequests.refundId, refundId))
    .for('update');
  if (!request) return false;
  if (!request.refundedAt)
    await tx
      .update(refundRequests)
      .set({ refundedAt: new Date() })
      .where(eq(refundRequests.refundId, refundId));
  return true;
}

/**
 * Orders still stored as waiting for payment although their expiry passed (reads say EXPIRED
 * already), at most `limit`, locked; those another transaction holds are left for the next pass.
 */
export const lockLapsedOrders = (tx: Transaction, limit: number) =>
  tx
    .select({
      id: orderRecords.id,
      eventId: orderRecords.eventId,
      organizationId: orderRecords.organizationId,
      reservationId: orderRecords.reservationId,
    })
    .from(orderRecords)
    .where(
      and(
        eq(orderRecords.status, 'PENDING_PAYMENT'),
        sql`${orderRecords.expiresAt} <= statement_timestamp()`,
      ),
    )
    .orderBy(orderRecords.expiresAt)
    .limit(limit)
    .for('update', { skipLocked: true });

/** PENDING_PAYMENT → EXPIRED if it is still stored so; whether it was (so the move is announced once). */
export async function markOrderExpired(tx: Transaction, id: string): Promise<boolean> {
  const rows = await tx
    .update(orderRecords)
    .set({ status: 'EXPIRED' })
    .where(and(eq(orderRecords.id, id), eq(orderRecords.status, 'PENDING_PAYMENT')))
    .returning({ id: orderRecords.id });
  return rows.length > 0;
}
