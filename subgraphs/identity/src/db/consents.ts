import type { Database, PersonKeys, Transaction } from '@bilten/platform';
import { and, desc, eq, lt, sql } from 'drizzle-orm';
import { openConsent, openConsentChange, sealConsentIp } from './client-data.ts';
import { type CONSENT_PURPOSES, type ConsentRow, consentHistory, consents, organizations } from './schema.ts';

type Db = Database | Transaction;

export type ConsentPurpose = (typeof CONSENT_PURPOSES)[number];
export type { ConsentChangeRow } from './client-data.ts';

/**
 * Serializes the consent changes of one user until `tx` ends: two changes at once (two tabs, a
 * retried request) each see the other's result, so history and events never fork.
 */
export async function lockConsentsOf(tx: Transaction, userId: string): Promise<void> {
  await tx.execute(sql`select pg_advisory_xact_lock(hashtextextended(${`consent:${userId}`}, 0))`);
}

export async function consentOf(
  db: Db,
  keys: PersonKeys,
  key: { userId: string; purpose: ConsentPurpose; scope: string },
): Promise<ConsentRow | undefined> {
  const [row] = await db
    .select()
    .from(consents)
    .where(
      and(eq(consents.userId, key.userId), eq(consents.purpose, key.purpose), eq(consents.scope, key.scope)),
    );
  return row && openConsent(db, keys, row);
}

/** Writes the current answer and appends it to the history, in `tx`, the client's address sealed. */
export async function saveConsent(
  tx: Transaction,
  keys: PersonKeys,
  row: ConsentRow,
  historyId: string,
): Promise<void> {
  const { ipAddress, changedAt, ...rest } = row;
  const sealed = await sealConsentIp(tx, keys, row, historyId);
  await tx
    .insert(consents)
    .values({ ...rest, changedAt, ipAddressSealed: sealed.current })
    .onConflictDoUpdate({
      target: [consents.userId, consents.purpose, consents.scope],
      set: {
        granted: row.granted,
        textVersion: row.textVersion,
        source: row.source,
        ipAddressSealed: sealed.current,
        changedAt,
      },
    });
  await tx
    .insert(consentHistory)
    .values({ ...rest, id: historyId, ipAddressSealed: sealed.history, occurredAt: changedAt });
}

/** Every purpose (and organization) the user answered, in a stable order. */
export async function consentsOf(db: Db, keys: PersonKeys, userId: string) {
  const rows = await db
    .select()
    .from(consents)
    .where(eq(consents.userId, userId))
    .orderBy(consents.purpose, consents.scope);
  return Promise.all(rows.map((row) => openConsent(db, keys, row)));
}

/** Newest first, keyset on the id (UUIDv7, so in time order). */
export async function consentHistoryPage(
  db: Db,
  keys: PersonKeys,
  userId: string,
  beforeId: string | undefined,
  limit: number,
) {
  const rows = await db
    .select()
    .from(consentHistory)
    .where(and(eq(consentHistory.userId, userId), beforeId ? lt(consentHistory.id, beforeId) : undefined))
    .orderBy(desc(consentHistory.id))
    .limit(limit);
  return Promise.all(rows.map((row) => openConsentChange(db, keys, row)));
}

export async function organizationExists(db: Db, id: string): Promise<boolean> {
  const [row] = await db.select({ id: organizations.id }).from(organizations).where(eq(organizations.id, id));
  return row !== undefined;
}
