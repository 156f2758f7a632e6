import { auditEntriesOf, auditWriter, type Database, type Transaction } from '@bilten/platform';
import { and, asc, desc, eq, gt, inArray, lt, lte, ne, sql } from 'drizzle-orm';
import {
  auditLog,
  closedOrganizations,
  type EventRow,
  type EventVersionRow,
  eventColumns,
  events,
  eventVersions,
  outboxSequences,
  type TicketTypeRow,
  testModeOrganizations,
  ticketTypes,
} from './schema.ts';

export type Db = Database | Transaction;

/**
 * A new event, in test mode when its organization is: under the organization's test-mode lock
 * (shared), so identity's late `organizationCreated` either comes first or marks it after.
 */
export async function insertEvent(tx: Transaction, row: typeof events.$inferInsert): Promise<EventRow> {
  await tx.execute(sql`select pg_advisory_xact_lock_shared(${testModeLockKey(row.organizationId)})`);
  const [event] = await tx
    .insert(events)
    .values({
      ...row,
      testMode: sql`exists (select from ${testModeOrganizations} where organization_id = ${row.organizationId})`,
    })
    .returning(eventColumns);
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

/** Orders' count of an event's sold tickets: not an edit, so no version and no `updated_at`. */
export async function setEventTicketsSold(tx: Transaction, eventId: string, ticketsSold: number) {
  const updated = await tx
    .update(events)
    .set({ ticketsSold })
    .where(eq(events.id, eventId))
    .returning({ id: events.id });
  return updated.length > 0;
}

/** Orders' counts per ticket type of one event, in one statement; the ids of the updated ones. */
export async function setTicketTypesSold(
  tx: Transaction,
  eventId: string,
  counts: Array<{ ticketTypeId: string; sold: number }>,
): Promise<string[]> {
  if (!counts.length) return [];
  const updated = await tx.execute<{ id: string }>(sql`
    update ${ticketTypes} set tickets_sold = counts.sold
    from jsonb_to_recordset(${JSON.stringify(counts)}::jsonb) as counts("ticketTypeId" uuid, sold int)
    where ${ticketTypes.id} = counts."ticketTypeId" and ${ticketTypes.eventId} = ${eventId}
    returning ${ticketTypes.id}`);
  return [...updated].map((row) => row.id);
}

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

/** Which occurrences a page of a series holds: `limit` of them by start, after a keyset cursor. */
export interface SeriesPage {
  limit: number;
  after?: { startsAt: string; id: string };
  /** Drafts too (for the organization's members), or published ones only. */
  withDrafts: boolean;
}

const inSeriesPage = (seriesIds: string[], { after, withDrafts }: Omit<SeriesPage, 'limit'>) =>
  and(
    inArray(events.seriesId, seriesIds),
    withDrafts ? undefined : ne(events.status, 'DRAFT'),
    after
      ? sql`(${events.startsAt}, ${events.id}) > (${after.startsAt}::timestamptz, ${after.id}::uuid)`
      : undefined,
  );

/** The same page of several series in one statement, by series, then start. */
export function seriesPages(db: Db, seriesIds: string[], page: SeriesPage): Promise<EventRow[]> {
  const ranked = db
    .select({
      id: events.id,
      position:
        sql<number>`row_number() over (partition by ${events.seriesId} order by ${events.startsAt}, ${events.id})`.as(
          'position',
        ),
    })
    .from(events)
    .where(inSeriesPage(seriesIds, page))
    .as('ranked');
  return db
    .select(eventColumns)
    .from(events)
    .innerJoin(ranked, eq(ranked.id, events.id))
    .where(lte(ranked.position, page.limit))
    .orderBy(asc(events.seriesId), asc(events.startsAt), asc(events.id));
}

/** How many occurrences each series has (drafts too, or not). */
export const seriesSizes = (db: Db, seriesIds: string[], withDrafts: boolean) =>
  db
    .select({ seriesId: sql<string>`${events.seriesId}`, size: sql<number>`count(*)::int` })
    .from(events)
    .where(inSeriesPage(seriesIds, { withDrafts }))
    .groupBy(events.seriesId);

/**
 * The series' occurrences, under its lock until the commit: occurrences added through different
 * events of one series (each locked on its own) are counted one change after the other.
 */
export async function lockSeries(tx: Transaction, seriesId: string): Promise<number> {
  await tx.execute(sql`select pg_advisory_xact_lock(hashtextextended(${`catalog.series:${seriesId}`}, 0))`);
  const [row] = await tx
    .select({ size: sql<number>`count(*)::int` })
    .from(events)
    .where(eq(events.seriesId, seriesId));
  return row!.size;
}

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

/** Whether the outbox has ever given an event to this aggregate (its counter is never removed). */
export async function aggregateHasEvents(tx: Transaction, aggregateType: string, aggregateId: string) {
  const [row] = await tx
    .select({ lastSequence: outboxSequences.lastSequence })
    .from(outboxSequences)
    .where(
      and(eq(outboxSequences.aggregateType, aggregateType), eq(outboxSequences.aggregateId, aggregateId)),
    );
  return row !== undefined;
}

/** Writes one entry into catalog's audit log. */
export const insertAuditEntry = auditWriter(auditLog);

export const auditEntries = (db: Db, organizationId: string, limit: number, beforeId?: string) =>
  auditEntriesOf(db as Database, auditLog, organizationId, limit, beforeId);

// ---------------------------------------------------------------- organization closure

/** One advisory lock per organization: closing takes it alone, creating an event shares it. */
const organizationLockKey = (organizationId: string) => sql`hashtextextended(${organizationId}, 0)`;

/**
 * Whether events may be created in the organization, holding its lock shared until the commit:
 * a closure waits for the events being created, and while one runs (or after) the answer is no.
 * It never waits itself, so it cannot deadlock with a closure over the rows either holds.
 */
export async function organizationTakesEvents(tx: Transaction, organizationId: string): Promise<boolean> {
  const [lock] = await tx.execute<{ taken: boolean }>(
    sql`select pg_try_advisory_xact_lock_shared(${organizationLockKey(organizationId)}) as taken`,
  );
  if (!lock?.taken) return false;
  const [row] = await tx
    .select({ organizationId: closedOrganizations.organizationId })
    .from(closedOrganizations)
    .where(eq(closedOrganizations.organizationId, organizationId));
  return !row;
}

/** The organization's events that have not ended and are not cancelled, locked, under its lock alone. */
export async function lockUpcomingEventsOf(tx: Transaction, organizationId: string): Promise<EventRow[]> {
  await tx.execute(sql`select pg_advisory_xact_lock(${organizationLockKey(organizationId)})`);
  return tx
    .select(eventColumns)
    .from(events)
    .where(
      and(
        eq(events.organizationId, organizationId),
        inArray(events.status, ['DRAFT', 'PUBLISHED']),
        gt(events.endsAt, sql`now()`),
      ),
    )
    .orderBy(asc(events.startsAt), asc(events.id))
    .for('update');
}

export const insertClosedOrganization = (tx: Transaction, organizationId: string, closureId: string) =>
  tx.insert(closedOrganizations).values({ organizationId, closureId }).onConflictDoNothing();

// ---------------------------------------------------------------- test mode

const testModeLockKey = (organizationId: string) =>
  sql`hashtextextended(${`catalog.test-mode:${organizationId}`}, 0)`;

/**
 * Records a test-mode organization and puts its events (any written before identity's event
 * arrived) in test mode. Twice: first without the test-mode lock, so an edit holding one of the
 * events' rows (a duplicate about to create another) finishes first instead of deadlocking with
 * this; then under the lock alone, for events created meanwhile, whose creators held it shared
 * (insertEvent): each committed before, or waits and is created in test mode. Idempotent.
 */
export async function recordTestModeOrganization(
  tx: Transaction,
  organizationId: string,
  sandboxOf: string | null,
): Promise<void> {
  await tx.insert(testModeOrganizations).values({ organizationId, sandboxOf }).onConflictDoNothing();
  const markEvents = () =>
    tx
      .update(events)
      .set({ testMode: true })
      .where(and(eq(events.organizationId, organizationId), eq(events.testMode, false)));
  await markEvents();
  await tx.execute(sql`select pg_advisory_xact_lock(${testModeLockKey(organizationId)})`);
  await markEvents();
}
