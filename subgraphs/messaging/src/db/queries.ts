import type { Database, Transaction } from '@bilten/platform';
import {
  and,
  desc,
  eq,
  getTableColumns,
  inArray,
  isNotNull,
  isNull,
  lt,
  lte,
  type SQL,
  sql,
} from 'drizzle-orm';
import { notifications, type SealedNotificationRow } from './schema.ts';

export async function insertNotification(
  db: Database | Transaction,
  row: typeof notifications.$inferInsert,
): Promise<SealedNotificationRow> {
  const [notification] = await db.insert(notifications).values(row).returning();
  return notification!;
}

/** Stores a workflow's notifications; a recipient who has one for the same source event gets none again. */
export const insertNotificationsOnce = (tx: Transaction, rows: Array<typeof notifications.$inferInsert>) =>
  rows.length
    ? tx
        .insert(notifications)
        .values(rows)
        .onConflictDoNothing({ target: [notifications.sourceEventId, notifications.recipientId] })
        .returning({ id: notifications.id, recipientId: notifications.recipientId })
    : Promise.resolve([]);

/** Which of a recipient's notifications a list shows: unread only, archive or inbox. */
export interface NotificationFilter {
  unread?: boolean | null;
  archived?: boolean | null;
}

function filterCondition(filter: NotificationFilter): SQL | undefined {
  return and(
    filter.unread === true ? isNull(notifications.readAt) : undefined,
    filter.unread === false ? isNotNull(notifications.readAt) : undefined,
    filter.archived === true ? isNotNull(notifications.archivedAt) : undefined,
    filter.archived === false ? isNull(notifications.archivedAt) : undefined,
  );
}

/**
 * Sets `column` to now on the recipient's notifications where it is unset: those in `ids` (others'
 * ids match nothing), or all of them. Answers how many changed.
 */
export async function stampNotifications(
  db: Database | Transaction,
  column: 'readAt' | 'seenAt',
  recipientId: string,
  ids: string[] | 'all',
): Promise<number> {
  const target = notifications[column];
  const rows = await db
    .update(notifications)
    .set({ [column]: sql`now()` })
    .where(
      and(
        eq(notifications.recipientId, recipientId),
        isNull(target),
        ids === 'all' ? undefined : inArray(notifications.id, ids),
      ),
    )
    .returning({ id: notifications.id });
  return rows.length;
}

/**
 * Archives (and reads) one of the recipient's notifications; null when they have no such one.
 * `read`: it was unread until now.
 */
export async function archiveNotificationOf(
  tx: Transaction,
  recipientId: string,
  id: string,
): Promise<{ notification: SealedNotificationRow; read: boolean } | null> {
  // Locked first: of two concurrent archives, the second sees the first one's readAt.
  const [before] = await tx
    .select({ readAt: notifications.readAt })
    .from(notifications)
    .where(and(eq(notifications.id, id), eq(notifications.recipientId, recipientId)))
    .for('update');
  if (!before) return null;
  const [notification] = await tx
    .update(notifications)
    .set({
      archivedAt: sql`coalesce(${notifications.archivedAt}, now())`,
      readAt: sql`coalesce(${notifications.readAt}, now())`,
    })
    .where(eq(notifications.id, id))
    .returning();
  return { notification: notification!, read: before.readAt === null };
}

/** Unread, unarchived notifications per recipient (absent: none), from the partial index. */
export async function unreadCounts(db: Database, recipientIds: string[]): Promise<Map<string, number>> {
  const rows = await db
    .select({ recipientId: notifications.recipientId, count: sql<number>`count(*)::int` })
    .from(notifications)
    .where(
      and(
        inArray(notifications.recipientId, recipientIds),
        isNull(notifications.readAt),
        isNull(notifications.archivedAt),
      ),
    )
    .groupBy(notifications.recipientId);
  return new Map(rows.map((row) => [row.recipientId, row.count]));
}

export const notificationsByIds = (db: Database, ids: string[]) =>
  db.select().from(notifications).where(inArray(notifications.id, ids));

/** The newest `limit` notifications of each recipient (older than `beforeId`), in one statement. */
export async function newestNotificationsOf(
  db: Database,
  recipientIds: string[],
  limit: number,
  beforeId: string | undefined,
  filter: NotificationFilter,
): Promise<SealedNotificationRow[]> {
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
        filterCondition(filter),
      ),
    )
    .as('ranked');
  const rows = await db.select().from(ranked).where(lte(ranked.rank, limit)).orderBy(desc(ranked.id));
  return rows.map(({ rank: _rank, ...row }) => row);
}
