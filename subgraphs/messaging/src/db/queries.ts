import type { Database, Transaction } from '@bilten/platform';
import { and, desc, eq, getTableColumns, gt, inArray, lt, lte, sql } from 'drizzle-orm';
import { type NotificationRow, notifications, sentEmails } from './schema.ts';

export async function insertNotification(
  db: Database,
  row: typeof notifications.$inferInsert,
): Promise<NotificationRow> {
  const [notification] = await db.insert(notifications).values(row).returning();
  return notification!;
}

export const notificationsByIds = (db: Database, ids: string[]) =>
  db.select().from(notifications).where(inArray(notifications.id, ids));

/** The newest `limit` notifications of each recipient (older than `beforeId`), in one statement. */
export async function newestNotificationsOf(
  db: Database,
  recipientIds: string[],
  limit: number,
  beforeId?: string,
): Promise<NotificationRow[]> {
  const ranked = db
    .select({
      ...getTableColumns(notifications),
      rank: sql<number>`row_number() over (partition by ${notifications.recipientId} order by ${notifications.id} desc)`.as(
        'rank',
      ),
    })
    .from(notifications)
    .where(
      and(
        inArray(notifications.recipientId, recipientIds),
        beforeId ? lt(notifications.id, beforeId) : undefined,
      ),
    )
    .as('ranked');
  const rows = await db.select().from(ranked).where(lte(ranked.rank, limit)).orderBy(desc(ranked.id));
  return rows.map(({ rank: _rank, ...row }) => row);
}

/** False when a mail for this event is recorded already. */
/**
 * Mails sent to `recipient` in the last hour, counted under a lock on the address until the
 * commit, so two consumers mailing one address at once cannot both slip under the limit.
 */
export async function mailsSentToWithinAnHour(tx: Transaction, recipient: string): Promise<number> {
  await tx.execute(sql`select pg_advisory_xact_lock(hashtextextended(${`mail:${recipient}`}, 0))`);
  const [row] = await tx
    .select({ count: sql<number>`count(*)::int` })
    .from(sentEmails)
    .where(and(eq(sentEmails.recipient, recipient), gt(sentEmails.sentAt, sql`now() - interval '1 hour'`)));
  return row!.count;
}

export async function recordSentEmail(
  tx: Transaction,
  row: typeof sentEmails.$inferInsert,
): Promise<boolean> {
  const recorded = await tx
    .insert(sentEmails)
    .values(row)
    .onConflictDoNothing()
    .returning({ eventId: sentEmails.eventId });
  return recorded.length > 0;
}
