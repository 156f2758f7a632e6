import type { Database, Transaction } from '@bilten/platform';
import { and, eq, inArray, sql } from 'drizzle-orm';
import {
  type EventCancellationRow,
  eventCancellationRefunds,
  eventCancellations,
  offers,
  orderRecords,
  reservations,
  tickets,
} from './schema.ts';

export interface CancellationCounts {
  holdsReleased: number;
  ordersCancelled: number;
  refundsRequested: number;
  ticketsVoided: number;
}

/** The event's saga row, made RUNNING if it has none yet; locked until the transaction ends. */
export async function startCancellation(
  tx: Transaction,
  eventId: string,
  organizationId: string,
): Promise<EventCancellationRow> {
  await tx.insert(eventCancellations).values({ eventId, organizationId }).onConflictDoNothing();
  return (await lockCancellation(tx, eventId))!;
}

export async function lockCancellation(
  tx: Transaction,
  eventId: string,
): Promise<EventCancellationRow | undefined> {
  const [row] = await tx
    .select()
    .from(eventCancellations)
    .where(eq(eventCancellations.eventId, eventId))
    .for('update');
  return row;
}

export const cancellationsOfEvents = (db: Database, eventIds: string[]) =>
  db.select().from(eventCancellations).where(inArray(eventCancellations.eventId, eventIds));

/** Adds one batch's work to the row; `done` closes it. Returns the row as it now stands. */
export async function recordBatch(
  tx: Transaction,
  eventId: string,
  counts: CancellationCounts,
  done: boolean,
): Promise<EventCancellationRow> {
  const [row] = await tx
    .update(eventCancellations)
    .set({
      holdsReleased: sql`${eventCancellations.holdsReleased} + ${counts.holdsReleased}`,
      ordersCancelled: sql`${eventCancellations.ordersCancelled} + ${counts.ordersCancelled}`,
      refundsRequested: sql`${eventCancellations.refundsRequested} + ${counts.refundsRequested}`,
      ticketsVoided: sql`${eventCancellations.ticketsVoided} + ${counts.ticketsVoided}`,
      batches: sql`${eventCancellations.batches} + 1`,
      ...(done ? { status: 'DONE' as const, completedAt: sql`now()` } : {}),
    })
    .where(eq(eventCancellations.eventId, eventId))
    .returning();
  return row!;
}

/** Stops selling at once, whatever orders' copy said (catalog's own CANCELLED snapshot may come later). */
export async function markOfferCancelled(tx: Transaction, eventId: string): Promise<void> {
  await tx.update(offers).set({ status: 'CANCELLED' }).where(eq(offers.eventId, eventId));
}

/** Whether the event was cancelled: by catalog's copy or by a saga that started. */
export async function eventIsCancelled(tx: Transaction, eventId: string): Promise<boolean> {
  const [row] = await tx.execute<{ cancelled: boolean }>(sql`
    select exists(select 1 from ${eventCancellations} where ${eventCancellations.eventId} = ${eventId})
      or exists(select 1 from ${offers} where ${offers.eventId} = ${eventId} and ${offers.status} = 'CANCELLED')
      as cancelled`);
  return row?.cancelled === true;
}

/** Gives back up to `limit` live (HELD, unexpired) holds of the event; how many. */
export async function releaseLiveHolds(tx: Transaction, eventId: string, limit: number): Promise<number> {
  const released = await tx
    .update(reservations)
    .set({ status: 'RELEASED' })
    .where(
      inArray(
        reservations.id,
        tx
          .select({ id: reservations.id })
          .from(reservations)
          .where(
            and(
              eq(reservations.eventId, eventId),
              eq(reservations.status, 'HELD'),
              sql`${reservations.expiresAt} > statement_timestamp()`,
            ),
          )
          .limit(limit),
      ),
    )
    .returning({ id: reservations.id });
  return released.length;
}

/** Up to `limit` orders of the event still waiting for payment (and not expired), locked. */
export const pendingOrdersOfEvent = (tx: Transaction, eventId: string, limit: number) =>
  tx
    .select()
    .from(orderRecords)
    .where(
      and(
        eq(orderRecords.eventId, eventId),
        eq(orderRecords.status, 'PENDING_PAYMENT'),
        sql`${orderRecords.expiresAt} > statement_timestamp()`,
      ),
    )
    .orderBy(orderRecords.id)
    .limit(limit)
    .for('update');

/** Up to `limit` paid orders of the event with money left to give back and no refund asked by the saga yet, locked. */
export const unrefundedPaidOrders = (tx: Transaction, eventId: string, limit: number) =>
  tx
    .select()
    .from(orderRecords)
    .where(
      and(
        eq(orderRecords.eventId, eventId),
        inArray(orderRecords.status, ['PAID', 'PARTIALLY_REFUNDED']),
        sql`${orderRecords.totalAmount} > ${orderRecords.refundedAmount}`,
        sql`not exists (select 1 from ${eventCancellationRefunds}
          where ${eventCancellationRefunds.orderId} = ${orderRecords.id})`,
      ),
    )
    .orderBy(orderRecords.id)
    .limit(limit)
    .for('update');

/** Records the refund asked for the order; false when one was asked already. */
export async function recordCancellationRefund(
  tx: Transaction,
  row: typeof eventCancellationRefunds.$inferInsert,
): Promise<boolean> {
  const inserted = await tx
    .insert(eventCancellationRefunds)
    .values(row)
    .onConflictDoNothing()
    .returning({ orderId: eventCancellationRefunds.orderId });
  return inserted.length > 0;
}

/** Voids up to `limit` still valid tickets of the event; how many. */
export async function voidTicketsOfEvent(tx: Transaction, eventId: string, limit: number): Promise<number> {
  const voided = await tx
    .update(tickets)
    .set({ status: 'VOID' })
    .where(
      inArray(
        tickets.id,
        tx
          .select({ id: tickets.id })
          .from(tickets)
          .where(and(eq(tickets.eventId, eventId), eq(tickets.status, 'VALID')))
          .limit(limit),
      ),
    )
    .returning({ id: tickets.id });
  return voided.length;
}
