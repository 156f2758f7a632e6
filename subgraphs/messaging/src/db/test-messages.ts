import type { Database, Transaction } from '@bilten/platform';
import { and, desc, eq, sql } from 'drizzle-orm';
import { organizationNames, type TestMessageRow, testMessages } from './schema.ts';

type Db = Database | Transaction;

/** Whether identity announced the organization in test mode (a sandbox, or created with testMode). */
export async function isTestModeOrganization(db: Db, organizationId: string): Promise<boolean> {
  const [row] = await db
    .select({ testMode: organizationNames.testMode })
    .from(organizationNames)
    .where(eq(organizationNames.organizationId, organizationId));
  return row?.testMode ?? false;
}

/**
 * Marks the organization test-mode, whatever order identity's events arrive in (a name update
 * first leaves a row this completes). Never undone: an organization does not leave test mode.
 */
export async function markOrganizationTestMode(tx: Transaction, organizationId: string): Promise<void> {
  await tx
    .insert(organizationNames)
    .values({ organizationId, testMode: true })
    .onConflictDoUpdate({ target: organizationNames.organizationId, set: { testMode: true } });
}

/** Keeps a captured message, once per delivery (a delivery claimed again after its lease adds none). */
export async function insertTestMessage(
  tx: Transaction,
  row: typeof testMessages.$inferInsert,
): Promise<void> {
  await tx.insert(testMessages).values(row).onConflictDoNothing({ target: testMessages.deliveryId });
}

/** Where a page of an organization's test messages starts: the last one seen. */
export interface TestMessageKey {
  capturedAt: Date;
  id: string;
}

/** Newest first, `limit` of them after `after` (keyset on captured_at, id). */
export const testMessagesOf = (db: Db, organizationId: string, limit: number, after?: TestMessageKey) =>
  db
    .select()
    .from(testMessages)
    .where(
      and(
        eq(testMessages.organizationId, organizationId),
        after
          ? sql`(${testMessages.capturedAt}, ${testMessages.id}) < (${after.capturedAt.toISOString()}::timestamptz, ${after.id}::uuid)`
          : undefined,
      ),
    )
    .orderBy(desc(testMessages.capturedAt), desc(testMessages.id))
    .limit(limit) as Promise<TestMessageRow[]>;

/** Deletes up to `limit` messages captured before `cutoff`; answers how many. */
export async function deleteTestMessagesBefore(db: Database, cutoff: Date, limit: number): Promise<number> {
  const deleted = await db.execute<{ id: string }>(sql`
    delete from ${testMessages} where ${testMessages.id} in (
      select ${testMessages.id} from ${testMessages} where ${testMessages.capturedAt} < ${cutoff.toISOString()}::timestamptz
      limit ${limit})
    returning ${testMessages.id}`);
  return [...deleted].length;
}
