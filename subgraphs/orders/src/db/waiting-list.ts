import type { Database, Transaction } from '@bilten/platform';
import { and, asc, eq, inArray, sql } from 'drizzle-orm';
import { reservations, type WaitingListEntryRow, waitingListEntries } from './schema.ts';

/**
 * Who is still waiting for the event: whether someone waits for any ticket type, and the ticket
 * types someone waits for by name. Released stock of those goes to the line first (waiting-list.ts),
 * so a reservation may not take it meanwhile.
 */
export async function waitedFor(
  tx: Transaction,
  eventId: string,
): Promise<{ anyType: boolean; ticketTypeIds: Set<string> }> {
  const rows = await tx
    .selectDistinct({ ticketTypeId: waitingListEntries.ticketTypeId })
    .from(waitingListEntries)
    .where(and(eq(waitingListEntries.eventId, eventId), eq(waitingListEntries.status, 'WAITING')));
  return {
    anyType: rows.some((row) => row.ticketTypeId === null),
    ticketTypeIds: new Set(rows.flatMap((row) => (row.ticketTypeId ? [row.ticketTypeId] : []))),
  };
}

const open = inArray(waitingListEntries.status, ['WAITING', 'OFFERED']);

/** The user's place in the event's line, if they hold one (WAITING or OFFERED). */
export async function openEntryOfUser(
  tx: Transaction,
  eventId: string,
  userId: string,
): Promise<WaitingListEntryRow | undefined> {
  const [entry] = await tx
    .select()
    .from(waitingListEntries)
    .where(and(eq(waitingListEntries.eventId, eventId), eq(waitingListEntries.userId, userId), open));
  return entry;
}

/** A new place in line; undefined when the user took one meanwhile (the one-per-user index). */
export async function insertEntry(
  tx: Transaction,
  row: typeof waitingListEntries.$inferInsert,
): Promise<WaitingListEntryRow | undefined> {
  const [entry] = await tx.insert(waitingListEntries).values(row).onConflictDoNothing().returning();
  return entry;
}

export const entriesByIds = (db: Database, ids: string[]) =>
  db.select().from(waitingListEntries).where(inArray(waitingListEntries.id, ids));

export async function lockEntry(tx: Transaction, id: string): Promise<WaitingListEntryRow | undefined> {
  const [entry] = await tx
    .select()
    .from(waitingListEntries)
    .where(eq(waitingListEntries.id, id))
    .for('update');
  return entry;
}

export async function updateEntry(
  tx: Transaction,
  id: string,
  change: Partial<Pick<WaitingListEntryRow, 'status' | 'reservationId' | 'offeredAt'>>,
): Promise<WaitingListEntryRow> {
  const [entry] = await tx
    .update(waitingListEntries)
    .set(change)
    .where(eq(waitingListEntries.id, id))
    .returning();
  return entry!;
}

/** Events with someone in line or an offer out: what the sweep visits. */
export const eventsWithOpenEntries = (db: Database) =>
  db.selectDistinct({ eventId: waitingListEntries.eventId }).from(waitingListEntries).where(open);

/**
 * The event's line in order of joining (ids are UUIDv7), each with what became of its offer's
 * hold: CLAIMED once checked out (or bought), LAPSED once released or past its expiry (judged by
 * statement_timestamp() under the offer lock, as the holds judge it), LIVE while it still holds.
 */
export const openEntriesOfEvent = (tx: Transaction, eventId: string) =>
  tx
    .select({
      entry: waitingListEntries,
      offer: sql<'CLAIMED' | 'LAPSED' | 'LIVE' | null>`case
        when ${reservations.id} is null then null
        when ${reservations.status} in ('CHECKED_OUT', 'PURCHASED') then 'CLAIMED'
        when ${reservations.status} = 'HELD' and ${reservations.expiresAt} > statement_timestamp() then 'LIVE'
        else 'LAPSED' end`,
    })
    .from(waitingListEntries)
    .leftJoin(reservations, eq(reservations.id, waitingListEntries.reservationId))
    .where(and(eq(waitingListEntries.eventId, eventId), open))
    .orderBy(asc(waitingListEntries.id));

/** Gives an offer's hold back when its buyer leaves the line; a checked-out one stays. */
export async function releaseOfferHold(tx: Transaction, reservationId: string): Promise<void> {
  await tx
    .update(reservations)
    .set({ status: 'RELEASED' })
    .where(and(eq(reservations.id, reservationId), eq(reservations.status, 'HELD')));
}
