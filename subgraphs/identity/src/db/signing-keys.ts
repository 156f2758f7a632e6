import type { Database, Transaction } from '@bilten/platform';
import { desc, gt, isNull, or, sql } from 'drizzle-orm';
import { signingKeys } from './schema.ts';

/** Upcoming and current keys, and those retired after `retiredAfter`; the newest first. */
export const publishedSigningKeys = (db: Database, retiredAfter: Date) =>
  db
    .select()
    .from(signingKeys)
    .where(or(isNull(signingKeys.retiredAt), gt(signingKeys.retiredAt, retiredAfter)))
    .orderBy(desc(signingKeys.activatesAt));

/** Serializes key creation and rotation across replicas, until the transaction ends. */
export async function lockSigningKeys(tx: Transaction) {
  await tx.execute(sql`select pg_advisory_xact_lock(hashtext('identity.signing_keys'))`);
}

/** Whether a key that is not retired exists (one that signs now, or will). */
export async function hasUnretiredSigningKey(tx: Transaction): Promise<boolean> {
  const [current] = await tx
    .select({ kid: signingKeys.kid })
    .from(signingKeys)
    .where(isNull(signingKeys.retiredAt));
  return current !== undefined;
}

export async function insertSigningKey(tx: Transaction, row: typeof signingKeys.$inferInsert) {
  await tx.insert(signingKeys).values(row);
}

/** Every key not yet retired retires at `retiredAt`. */
export async function retireSigningKeys(tx: Transaction, retiredAt: Date) {
  await tx.update(signingKeys).set({ retiredAt }).where(isNull(signingKeys.retiredAt));
}
