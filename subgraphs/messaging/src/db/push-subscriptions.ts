import type { Database, Transaction } from '@bilten/platform';
import { and, desc, eq, inArray, notInArray, sql } from 'drizzle-orm';
import { type PushSubscriptionRow, pushSubscriptions } from './schema.ts';

/** At most this many browsers per user; registering one more drops the oldest. */
export const MAX_PUSH_SUBSCRIPTIONS_PER_USER = 20;

/**
 * Stores the browser's subscription for `userId`. An endpoint registered before (by anyone: a
 * browser that changed hands) gets the new keys and owner and counts as registered now. Then the
 * user's oldest beyond the limit go, under a per-user lock so two registrations at once cannot
 * both keep one too many.
 */
export async function upsertPushSubscription(
  tx: Transaction,
  row: Pick<PushSubscriptionRow, 'id' | 'userId' | 'endpoint' | 'p256dh' | 'auth' | 'userAgent'>,
): Promise<PushSubscriptionRow> {
  await tx.execute(
    sql`select pg_advisory_xact_lock(hashtextextended(${`push_subscriptions:${row.userId}`}, 0))`,
  );
  const [saved] = await tx
    .insert(pushSubscriptions)
    .values(row)
    .onConflictDoUpdate({
      target: pushSubscriptions.endpoint,
      set: {
        userId: sql`excluded.user_id`,
        p256dh: sql`excluded.p256dh`,
        auth: sql`excluded.auth`,
        userAgent: sql`excluded.user_agent`,
        createdAt: sql`now()`,
      },
    })
    .returning();
  const kept = tx
    .select({ id: pushSubscriptions.id })
    .from(pushSubscriptions)
    .where(eq(pushSubscriptions.userId, row.userId))
    .orderBy(desc(pushSubscriptions.createdAt), desc(pushSubscriptions.id))
    .limit(MAX_PUSH_SUBSCRIPTIONS_PER_USER);
  await tx
    .delete(pushSubscriptions)
    .where(and(eq(pushSubscriptions.userId, row.userId), notInArray(pushSubscriptions.id, kept)));
  return saved!;
}

/** Removes the user's subscription named by id or endpoint; false when the user has no such one. */
export async function deleteOwnPushSubscription(
  db: Database,
  userId: string,
  which: { id: string } | { endpoint: string },
): Promise<boolean> {
  const named =
    'id' in which ? eq(pushSubscriptions.id, which.id) : eq(pushSubscriptions.endpoint, which.endpoint);
  const removed = await db
    .delete(pushSubscriptions)
    .where(and(eq(pushSubscriptions.userId, userId), named))
    .returning({ id: pushSubscriptions.id });
  return removed.length > 0;
}

/** The user's browsers, newest first. */
export const pushSubscriptionsOf = (
  db: Database | Transaction,
  userId: string,
): Promise<PushSubscriptionRow[]> =>
  db
    .select()
    .from(pushSubscriptions)
    .where(eq(pushSubscriptions.userId, userId))
    .orderBy(desc(pushSubscriptions.createdAt), desc(pushSubscriptions.id));

/** Each user's subscriptions' ids, for a fan-out's batch of users. */
export async function pushSubscriptionIdsOf(
  tx: Transaction,
  userIds: string[],
): Promise<Map<string, string[]>> {
  const byUser = new Map<string, string[]>();
  if (!userIds.length) return byUser;
  const rows = await tx
    .select({ id: pushSubscriptions.id, userId: pushSubscriptions.userId })
    .from(pushSubscriptions)
    .where(inArray(pushSubscriptions.userId, userIds));
  for (const { id, userId } of rows) byUser.set(userId, [...(byUser.get(userId) ?? []), id]);
  return byUser;
}

export async function pushSubscriptionById(db: Database | Transaction, id: string) {
  const [row] = await db.select().from(pushSubscriptions).where(eq(pushSubscriptions.id, id));
  return row ?? null;
}

/** The push service no longer knows it (404/410): nothing more goes there. */
export async function deletePushSubscription(tx: Transaction, id: string): Promise<void> {
  await tx.delete(pushSubscriptions).where(eq(pushSubscriptions.id, id));
}

export async function markPushSubscriptionUsed(db: Database | Transaction, id: string): Promise<void> {
  await db.update(pushSubscriptions).set({ lastUsedAt: new Date() }).where(eq(pushSubscriptions.id, id));
}
