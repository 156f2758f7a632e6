import { auditEntriesOf, auditWriter, type Database, type Transaction } from '@bilten/platform';
import { and, asc, desc, eq, inArray, lt, sql } from 'drizzle-orm';
import {
  auditLog,
  type EventRow,
  type EventVersionRow,
  eventColumns,
  events,
  eventVersions,
  type TicketTypeRow,
  ticketTypes,
} from './schema.ts';

export type Db = Database | Transaction;

export async function insertEvent(db: Db, row: typeof events.$inferInsert): Promise<EventRow> {
  const [event] = await db.insert(events).values(row).returning(eventColumns);
  return event!;
}

/** The event, locked for the rest of the transaction: its changes happen one after another. */
export async function lockEvent(tx: Transaction, id: string): Promise<EventRow | undefined> {
  const [event] = await tx.select(eventColumns).from(events).where(eq(events.id, id)).for('update');
  return event;
}

/** Prices customers can see, for price filters and sorting. */
const priceRange = (id: string) => ({
  minPrice: sql<
    number | null
  >`(select min(price_amount) from ${ticketTypes} where event_id = ${id} and not hidden)`,
  maxPrice: sql<
    number | null
  >`(select max(price_amount) from ${ticketTypes} where event_id = ${id} and not hidden)`,
});

/** Applies `changes` and bumps the version; every change to an event goes through here. */
export async function updateEventRow(
  tx: Transaction,
  id: string,
  changes: Partial<typeof events.$inferInsert>,
): Promise<EventRow> {
  const [event] = await tx
    .update(events)
    .set({ ...changes, ...priceRange(id), version: sql`${events.version} + 1`, updatedAt: sql`now()` })
    .where(eq(events.id, id))
    .returning(eventColumns);
  return event!;
}

/** After copying ticket types into a new event. */
export const refreshPriceRange = (tx: Transaction, id: string) =>
  tx.update(events).set(priceRange(id)).where(eq(events.id, id));

export const deleteEventRow = (tx: Transaction, id: string) => tx.delete(events).where(eq(events.id, id));

export async function insertTicketType(db: Db, row: typeof ticketTypes.$inferInsert): Promise<TicketTypeRow> {
  const [ticketType] = await db.insert(ticketTypes).values(row).returning();
  return ticketType!;
}

export async function updateTicketTypeRow(
  tx: Transaction,
  id: string,
  changes: Partial<typeof ticketTypes.$inferInsert>,
): Promise<TicketTypeRow> {
  const [ticketType] = await tx.update(ticketTypes).set(changes).where(eq(ticketTypes.id, id)).returning();
  return ticketType!;
}

/** Ticket types follow their event's currency (amounts unchanged); only allowed before any sale. */
export const repriceTicketTypes = (tx: Transaction, eventId: string, currency: string) =>
  tx.update(ticketTypes).set({ priceCurrency: currency }).where(eq(ticketTypes.eventId, eventId));

export const eventsByIds = (db: Db, ids: string[]) =>
  db.select(eventColumns).from(events).where(inArray(events.id, ids));

export const ticketTypesByIds = (db: Db, ids: string[]) =>
  db.select().from(ticketTypes).where(inArray(ticketTypes.id, ids));

export const ticketTypesByEventIds = (db: Db, eventIds: string[]) =>
  db
    .select()
    .from(ticketTypes)
    .where(inArray(ticketTypes.eventId, eventIds))
    .orderBy(asc(ticketTypes.sortOrder), asc(ticketTypes.id));

export const eventsOfSeries = (db: Db, seriesIds: string[]) =>
  db
    .select(eventColumns)
    .from(events)
    .where(inArray(events.seriesId, seriesIds))
    .orderBy(asc(events.startsAt), asc(events.id));

export const insertEventVersion = (tx: Transaction, row: typeof eventVersions.$inferInsert) =>
  tx.insert(eventVersions).values(row);

export async function eventVersion(
  db: Db,
  eventId: string,
  version: number,
): Promise<EventVersionRow | undefined> {
  const [row] = await db
    .select()
    .from(eventVersions)
    .where(and(eq(eventVersions.eventId, eventId), eq(eventVersions.version, version)));
  return row;
}

/** Newest first; the cursor is the version number. */
export const versionsOf = (db: Db, eventId: string, limit: number, beforeVersion?: number) =>
  db
    .select()
    .from(eventVersions)
    .where(
      and(
        eq(eventVersions.eventId, eventId),
        beforeVersion !== undefined ? lt(eventVersions.version, beforeVersion) : undefined,
      ),
    )
    .orderBy(desc(eventVersions.version))
    .limit(limit);

/** Writes one entry into catalog's audit log. */
export const insertAuditEntry = auditWriter(auditLog);

export const auditEntries = (db: Db, organizationId: string, limit: number, beforeId?: string) =>
  auditEntriesOf(db as Database, auditLog, organizationId, limit, beforeId);
