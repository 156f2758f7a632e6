import type { Database, Transaction } from '@bilten/platform';
import { and, eq, inArray, sql } from 'drizzle-orm';
import { type ConsentCopyRow, consents } from './schema.ts';

type Db = Database | Transaction;

/**
 * Stores identity's answer unless the copy already holds a newer one: a late or replayed event
 * never turns a withdrawal back into a grant.
 */
export async function saveConsentCopy(tx: Transaction, row: Omit<ConsentCopyRow, 'legacySource'>) {
  await tx
    .insert(consents)
    .values({ ...row, legacySource: null })
    .onConflictDoUpdate({
      target: [consents.userId, consents.purpose],
      set: {
        granted: row.granted,
        textVersion: row.textVersion,
        legacySource: null,
        changedAt: row.changedAt,
      },
      setWhere: sql`${consents.changedAt} <= excluded.changed_at`,
    });
}

/** The purposes each of `userIds` has granted now (users with none are left out). */
export async function grantedPurposesOf(db: Db, userIds: string[]): Promise<Map<string, Set<string>>> {
  const granted = new Map<string, Set<string>>();
  if (!userIds.length) return granted;
  const rows = await db
    .select({ userId: consents.userId, purpose: consents.purpose })
    .from(consents)
    .where(and(inArray(consents.userId, userIds), eq(consents.granted, true)));
  for (const row of rows) granted.set(row.userId, (granted.get(row.userId) ?? new Set()).add(row.purpose));
  return granted;
}

export const consentCopiesOf = (db: Db, userId: string) =>
  db.select().from(consents).where(eq(consents.userId, userId));
