import type { Database, Transaction } from '@bilten/platform';
import { eq, lt, sql } from 'drizzle-orm';
import { eventSchedules } from './schema.ts';

/**
 * What catalog said about an event as of `updatedAt` (the event's occurredAt): inserted, or
 * replacing what is stored only when newer, so a redelivered or late older event changes nothing.
 * Cancellation and the reminder mark are kept.
 */
export async function upsertEventSchedule(
  tx: Transaction,
  row: Omit<typeof eventSchedules.$inferInsert, 'cancelledAt' | 'remindedFor'> & { updatedAt: Date },
) {
  await tx
    .insert(eventSchedules)
    .values(row)
    .onConflictDoUpdate({
      target: eventSchedules.eventId,
      set: {
        organizationId: sql`excluded.organization_id`,
        title: sql`excluded.title`,
        startsAt: sql`excluded.starts_at`,
        timezone: sql`excluded.timezone`,
        place: sql`excluded.place`,
        updatedAt: sql`excluded.updated_at`,
      },
      setWhere: lt(eventSchedules.updatedAt, sql`excluded.updated_at`),
    });
}

/**
 * Marks the event cancelled as of `at`. When the cancellation arrives before the publication (each
 * event type has its own consumer), a placeholder row records it, and the older publication, not
 * being newer, never makes it bookable again.
 */
export async function markEventCancelled(
  tx: Transaction,
  { eventId, organizationId, title }: { eventId: string; organizationId: string; title: string },
  at: Date,
) {
  await tx
    .insert(eventSchedules)
    .values({
      eventId,
      organizationId,
      title,
      startsAt: at,
      timezone: 'UTC',
      place: '',
      cancelledAt: at,
      updatedAt: at,
    })
    .onConflictDoUpdate({
      target: eventSchedules.eventId,
      set: {
        cancelledAt: sql`coalesce(${eventSchedules.cancelledAt}, excluded.cancelled_at)`,
        updatedAt: sql`greatest(${eventSchedules.updatedAt}, excluded.updated_at)`,
      },
    });
}

export async function eventScheduleById(db: Database | Transaction, eventId: string) {
  const [row] = await db.select().from(eventSchedules).where(eq(eventSchedules.eventId, eventId));
  return row ?? null;
}

/** The event's row, locked until the transaction ends: what serializes its announcements' rate limit. */
export async function lockEventSchedule(tx: Transaction, eventId: string) {
  const [row] = await tx
    .select()
    .from(eventSchedules)
    .where(eq(eventSchedules.eventId, eventId))
    .for('update');
  return row ?? null;
}

/**
 * Up to `limit` events starting within the next `withinHours` whose current start was not reminded
 * yet, marked reminded in the same statement. SKIP LOCKED: a concurrent sweep claims other rows,
 * and a row it committed meanwhile is re-checked and no longer matches.
 */
export async function claimDueReminders(
  tx: Transaction,
  limit: number,
  withinHours = 24,
): Promise<Array<{ eventId: string; organizationId: string; startsAt: Date }>> {
  const rows = (await tx.execute(sql`
    with due as (
      select event_id from ${eventSchedules}
      where cancelled_at is null
        and starts_at > now() and starts_at <= now() + make_interval(hours => ${withinHours})
        and reminded_for is distinct from starts_at
      order by starts_at
      limit ${limit}
      for update skip locked
    )
    update ${eventSchedules} as s set reminded_for = s.starts_at
    from due where s.event_id = due.event_id
    returning s.event_id, s.organization_id, s.starts_at`)) as unknown as Array<{
    event_id: string;
    organization_id: string;
    starts_at: Date | string;
  }>;
  return rows.map((row) => ({
    eventId: row.event_id,
    organizationId: row.organization_id,
    startsAt: new Date(row.starts_at),
  }));
}
