import type { Database, Transaction } from '@bilten/platform';
import { and, eq, getTableColumns, inArray, sql } from 'drizzle-orm';
import {
  offerTicketTypes,
  orderRecords,
  type ReservationItemRow,
  type ReservationRow,
  reservationItems,
  reservations,
} from './schema.ts';

// Expiry is compared with statement_timestamp(), not now() (the transaction's start): a hold is
// counted after the offer's lock is taken, so a transaction that waited for the lock judges
// expiry at a time no earlier than any transaction that held the lock before it.
const activeHold = sql`${reservations.status} = 'HELD' and ${reservations.expiresAt} > statement_timestamp()`;
/** What takes stock: a live hold, checked out or not (its order is waiting for the payment). */
const stockTaken = sql`${reservations.status} in ('HELD', 'CHECKED_OUT') and ${reservations.expiresAt} > statement_timestamp()`;

/**
 * Tickets held right now per ticket type of the event, and how many of them by `buyerId` (none
 * for a guest, whose holds no account links).
 */
export const activeHolds = (tx: Transaction, eventId: string, buyerId: string | null) =>
  tx
    .select({
      ticketTypeId: reservationItems.ticketTypeId,
      held: sql<number>`sum(${reservationItems.quantity})::int`,
      heldByBuyer: buyerId
        ? sql<number>`coalesce(sum(${reservationItems.quantity}) filter (where ${reservations.buyerId} = ${buyerId}), 0)::int`
        : sql<number>`0`,
    })
    .from(reservationItems)
    .innerJoin(reservations, eq(reservations.id, reservationItems.reservationId))
    .where(and(eq(reservations.eventId, eventId), stockTaken))
    .groupBy(reservationItems.ticketTypeId);

/**
 * Tickets of the event the buyer bought and kept (orders PAID or PARTIALLY_REFUNDED), per ticket
 * type: by account, or for a guest by the blind index of the email given at checkout (which
 * ignores case; `orders_buyer_email_index_idx`). By email, orders still waiting for payment count too: an
 * account's count them as its live holds, which a guest's holds cannot be tied to.
 */
export async function boughtByBuyer(
  tx: Transaction,
  eventId: string,
  buyer: { buyerId: string } | { emailIndex: string },
): Promise<Map<string, number>> {
  const rows = await tx
    .select({
      ticketTypeId: reservationItems.ticketTypeId,
      bought: sql<number>`sum(${reservationItems.quantity})::int`,
    })
    .from(orderRecords)
    .innerJoin(reservationItems, eq(reservationItems.reservationId, orderRecords.reservationId))
    .where(
      and(
        'buyerId' in buyer
          ? eq(orderRecords.buyerId, buyer.buyerId)
          : eq(orderRecords.buyerEmailIndex, buyer.emailIndex),
        eq(orderRecords.eventId, eventId),
        'buyerId' in buyer
          ? inArray(orderRecords.status, ['PAID', 'PARTIALLY_REFUNDED'])
          : sql`(${orderRecords.status} in ('PAID', 'PARTIALLY_REFUNDED') or (${orderRecords.status} = 'PENDING_PAYMENT'
              and ${orderRecords.expiresAt} > statement_timestamp()))`,
      ),
    )
    .groupBy(reservationItems.ticketTypeId);
  return new Map(rows.map((row) => [row.ticketTypeId, row.bought]));
}

/** Live guest holds of the event made from one client address (its `guest_client_key`). */
export async function liveGuestHolds(tx: Transaction, eventId: string, clientKey: string): Promise<number> {
  const [row] = await tx
    .select({ count: sql<number>`count(*)::int` })
    .from(reservations)
    .where(and(eq(reservations.eventId, eventId), eq(reservations.guestClientKey, clientKey), stockTaken));
  return row?.count ?? 0;
}

/** Housekeeping: holds past their expiry stopped counting already; this keeps the index of held ones small. */
export async function markExpiredHolds(tx: Transaction, eventId: string): Promise<void> {
  await tx
    .update(reservations)
    .set({ status: 'EXPIRED' })
    .where(
      and(
        eq(reservations.eventId, eventId),
        eq(reservations.status, 'HELD'),
        sql`${reservations.expiresAt} <= statement_timestamp()`,
      ),
    );
}

/** A new hold, expiring `ttlSeconds` after now by the database's clock. */
export async function insertReservation(
  tx: Transaction,
  row: Pick<ReservationRow, 'id' | 'buyerId' | 'eventId' | 'currency'> &
    Partial<
      Pick<ReservationRow, 'guestTokenHash' | 'guestClientKey' | 'waitingListEntryId' | 'idempotencyKey'>
    >,
  items: Array<Omit<ReservationItemRow, 'reservationId'>>,
  ttlSeconds: number,
): Promise<ReservationRow | undefined> {
  // Nothing when the buyer's idempotency key is taken (by a request for another event, at once).
  const [reservation] = await tx
    .insert(reservations)
    .values({ ...row, expiresAt: sql`statement_timestamp() + make_interval(secs => ${ttlSeconds})` })
    .onConflictDoNothing()
    .returning();
  if (!reservation) return undefined;
  await tx.insert(reservationItems).values(items.map((item) => ({ ...item, reservationId: row.id })));
  return reservation;
}

/** The buyer's reservation made with this idempotency key, as it stands now, if any. */
export async function reservationOfKey(
  db: Database | Transaction,
  buyerId: string,
  key: string,
): Promise<ReservationRow | undefined> {
  const [found] = await db
    .select({ id: reservations.id })
    .from(reservations)
    .where(and(eq(reservations.buyerId, buyerId), eq(reservations.idempotencyKey, key)));
  if (!found) return undefined;
  const [row] = await reservationsByIds(db as Database, [found.id]);
  return row;
}

/**
 * Releases the hold if it still holds anything and is not checked out; true when it did. The
 * caller checked that it is the owner's.
 */
export async function releaseHold(tx: Transaction, id: string): Promise<boolean> {
  const released = await tx
    .update(reservations)
    .set({ status: 'RELEASED' })
    .where(and(eq(reservations.id, id), eq(reservations.status, 'HELD'), activeHold))
    .returning({ id: reservations.id });
  return released.length > 0;
}

/**
 * Reservations as they stand now: a hold past its expiry reads EXPIRED before anyone marks it (a
 * checked-out one stays CHECKED_OUT: its order says what became of it).
 */
export const reservationsByIds = (db: Database, ids: string[]) =>
  db
    .select({
      ...getTableColumns(reservations),
      status: sql<ReservationRow['status']>`case when ${activeHold} or ${reservations.status} <> 'HELD'
        then ${reservations.status} else 'EXPIRED' end`,
    })
    .from(reservations)
    .where(inArray(reservations.id, ids));

export const itemsOfReservations = (db: Database, reservationIds: string[]) =>
  db.select().from(reservationItems).where(inArray(reservationItems.reservationId, reservationIds));

/**
 * The reservation whose hold is still live, locked for checkout; the caller holds the offer's
 * lock, so expiry is judged as every hold of the event judges it.
 */
export async function liveHoldForCheckout(tx: Transaction, id: string): Promise<ReservationRow | undefined> {
  const [row] = await tx
    .select()
    .from(reservations)
    .where(and(eq(reservations.id, id), eq(reservations.status, 'HELD'), activeHold))
    .for('update');
  return row;
}

export async function setReservationStatus(
  tx: Transaction,
  id: string,
  status: ReservationRow['status'],
): Promise<void> {
  await tx.update(reservations).set({ status }).where(eq(reservations.id, id));
}

/** A reservation's lines, each with its ticket type's name (what a receipt says was bought). */
export const itemsOfReservation = (tx: Transaction, reservationId: string) =>
  tx
    .select({ ...getTableColumns(reservationItems), name: offerTicketTypes.name })
    .from(reservationItems)
    .innerJoin(offerTicketTypes, eq(offerTicketTypes.id, reservationItems.ticketTypeId))
    .where(eq(reservationItems.reservationId, reservationId));

/**
 * HELD holds past their expiry, at most `limit`, marked EXPIRED; the events they were of (one entry
 * per hold). Holds locked by a transaction under way are left for the next pass.
 */
export async function expireLapsedHolds(tx: Transaction, limit: number): Promise<string[]> {
  const lapsed = tx
    .select({ id: reservations.id })
    .from(reservations)
    .where(and(eq(reservations.status, 'HELD'), sql`${reservations.expiresAt} <= statement_timestamp()`))
    .orderBy(reservations.expiresAt)
    .limit(limit)
    .for('update', { skipLocked: true });
  const rows = await tx
    .update(reservations)
    .set({ status: 'EXPIRED' })
    .where(inArray(reservations.id, lapsed))
    .returning({ eventId: reservations.eventId });
  return rows.map((row) => row.eventId);
}
