import type { Database } from '@bilten/platform';
import { asc, desc, inArray, lt } from 'drizzle-orm';
import { type EventRow, events, type TicketTypeRow, ticketTypes } from './schema.ts';

export async function insertEvent(db: Database, row: typeof events.$inferInsert): Promise<EventRow> {
  const [event] = await db.insert(events).values(row).returning();
  return event!;
}

export async function insertTicketType(
  db: Database,
  row: typeof ticketTypes.$inferInsert,
): Promise<TicketTypeRow> {
  const [ticketType] = await db.insert(ticketTypes).values(row).returning();
  return ticketType!;
}

export const eventsByIds = (db: Database, ids: string[]) =>
  db.select().from(events).where(inArray(events.id, ids));

export const ticketTypesByIds = (db: Database, ids: string[]) =>
  db.select().from(ticketTypes).where(inArray(ticketTypes.id, ids));

export const ticketTypesByEventIds = (db: Database, eventIds: string[]) =>
  db
    .select()
    .from(ticketTypes)
    .where(inArray(ticketTypes.eventId, eventIds))
    .orderBy(asc(ticketTypes.createdAt), asc(ticketTypes.id));

/** Newest first, keyset on the time-ordered UUIDv7 id. */
export const newestEvents = (db: Database, limit: number, beforeId?: string) =>
  db
    .select()
    .from(events)
    .where(beforeId ? lt(events.id, beforeId) : undefined)
    .orderBy(desc(events.id))
    .limit(limit);
