import type { Database, Transaction } from '@bilten/platform';
import { and, desc, eq, lt, sql } from 'drizzle-orm';
import { type CONSENT_PURPOSES, type ConsentRow, consentHistory, consents, organizations } from './schema.ts';

type Db = Database | Transaction;

export type ConsentPurpose = (typeof CONSENT_PURPOSES)[number];
export type ConsentChangeRow = typeof consentHistory.$inferSelect;

/**
 * Serializes the consent changes of one user until `tx` ends: two changes at once (two tabs, a
 * retried request) each see the other's result, so history and events never fork.
 */
export async function lockConsentsOf(tx: Transaction, userId: string): Promise<void> {
  await tx.execute(sql`select pg_advisory_xact_lock(hashtextextended(${`consent:${userId}`}, 0))`);
}

export async function consentOf(
  db: Db,
  key: { userId: string; purpose: ConsentPurpose; scope: string },
): Promise<ConsentRow | undefined> {
  const [row] = await db
    .select()
    .from(consents)
    .where(
      and(eq(consents.userId, key.userId), eq(consents.purpose, key.purpose), eq(consents.scope, key.scope)),
    );
  return row;
}

/** Writes the current answer and appends it to the history, in `tx`. */
export async function saveConsent(tx: Transaction, row: ConsentRow, historyId: string): Promise<void> {
  await tx
    .insert(consents)
    .values(row)
    .onConflictDoUpdate({
      target: [consents.userId, consents.purpose, consents.scope],
      set: {
        granted: row.granted,
        textVersion: row.textVersion,
        source: row.source,
        ipAddress: row.ipAddress,
        changedAt: row.changedAt,
      },
    });
  const { changedAt, ...rest } = row;
  await tx.insert(consentHistory).values({ ...rest, id: historyId, occurredAt: changedAt });
}

/** Every purpose (and organization) the user answered, in a stable order. */
export const consentsOf = (db: Db, userId: string) =>
  db.select().from(consents).where(eq(consents.userId, userId)).orderBy(consents.purpose, consents.scope);

/** Newest first, keyset on the id (UUIDv7, so in time order). */
export const consentHistoryPage = (db: Db, userId: string, beforeId: string | undefined, limit: number) =>
  db
    .select()
    .from(consentHistory)
    .where(and(eq(consentHistory.userId, userId), beforeId ? lt(consentHistory.id, beforeId) : undefined))
    .orderBy(desc(consentHistory.id))
    .limit(limit);

export async function organizationExists(db: Db, id: string): Promise<boolean> {
  const [row] = await db.select({ id: organizations.id }).from(organizations).where(eq(organizations.id, id));
  return row !== undefined;
}
