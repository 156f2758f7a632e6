import type { Database, Transaction } from '@bilten/platform';
import { and, asc, eq, gt, inArray, sql } from 'drizzle-orm';
import { follows } from './schema.ts';

/** True when the follow is new. */
export async function insertFollow(
  tx: Transaction,
  userId: string,
  organizationId: string,
): Promise<boolean> {
  const rows = await tx
    .insert(follows)
    .values({ userId, organizationId })
    .onConflictDoNothing()
    .returning({ userId: follows.userId });
  return rows.length > 0;
}

/** Deletes every follow of an organization (it closed). */
export async function deleteFollowsOf(tx: Transaction, organizationId: string): Promise<void> {
  await tx.delete(follows).where(eq(follows.organizationId, organizationId));
}

export async function deleteFollow(db: Database, userId: string, organizationId: string): Promise<void> {
  await db.delete(follows).where(and(eq(follows.userId, userId), eq(follows.organizationId, organizationId)));
}

/** Follower counts of these organizations (absent: none), in one statement. */
export async function followerCounts(db: Database, organizationIds: string[]): Promise<Map<string, number>> {
  const rows = await db
    .select({ organizationId: follows.organizationId, count: sql<number>`count(*)::int` })
    .from(follows)
    .where(inArray(follows.organizationId, organizationIds))
    .groupBy(follows.organizationId);
  return new Map(rows.map((row) => [row.organizationId, row.count]));
}

/** One page of what `userId` follows, in organization-id order after `afterOrganizationId`. */
export const followsOf = (db: Database, userId: string, limit: number, afterOrganizationId?: string) =>
  db
    .select()
    .from(follows)
    .where(
      and(
        eq(follows.userId, userId),
        afterOrganizationId ? gt(follows.organizationId, afterOrganizationId) : undefined,
      ),
    )
    .orderBy(asc(follows.organizationId))
    .limit(limit);

/** The next `limit` followers of an organization after `afterUserId`: the fan-out's batches (index range scan). */
export async function followerIdsAfter(
  tx: Transaction,
  organizationId: string,
  limit: number,
  afterUserId?: string,
): Promise<string[]> {
  const rows = await tx
    .select({ userId: follows.userId })
    .from(follows)
    .where(
      and(
        eq(follows.organizationId, organizationId),
        afterUserId ? gt(follows.userId, afterUserId) : undefined,
      ),
    )
    .orderBy(asc(follows.userId))
    .limit(limit);
  return rows.map((row) => row.userId);
}
