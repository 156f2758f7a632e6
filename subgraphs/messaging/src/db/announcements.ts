import type { Database, Transaction } from '@bilten/platform';
import { and, count, eq, gt, sql } from 'drizzle-orm';
import { announcements } from './schema.ts';

export type AnnouncementRow = typeof announcements.$inferSelect;

export async function insertAnnouncement(tx: Transaction, row: typeof announcements.$inferInsert) {
  const [stored] = await tx.insert(announcements).values(row).returning();
  return stored!;
}

export async function announcementById(db: Database | Transaction, id: string) {
  const [row] = await db.select().from(announcements).where(eq(announcements.id, id));
  return row ?? null;
}

/** How many announcements the event got in the last hour (the database's clock): its rate limit. */
export async function announcementsInLastHour(tx: Transaction, eventId: string) {
  const [row] = await tx
    .select({ count: count() })
    .from(announcements)
    .where(
      and(eq(announcements.eventId, eventId), gt(announcements.createdAt, sql`now() - interval '1 hour'`)),
    );
  return row?.count ?? 0;
}
