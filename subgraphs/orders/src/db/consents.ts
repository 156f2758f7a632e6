import type { Database, Transaction } from '@bilten/platform';
import DataLoader from 'dataloader';
import { and, eq, or, sql } from 'drizzle-orm';
import { type OrganizerSharingConsentRow, organizerSharingConsents } from './schema.ts';

type Db = Database | Transaction;

/** Stores identity's answer unless a newer one is already held (a late event changes nothing). */
export async function saveSharingConsent(tx: Transaction, row: OrganizerSharingConsentRow) {
  await tx
    .insert(organizerSharingConsents)
    .values(row)
    .onConflictDoUpdate({
      target: [organizerSharingConsents.userId, organizerSharingConsents.organizationId],
      set: { granted: row.granted, textVersion: row.textVersion, changedAt: row.changedAt },
      setWhere: sql`${organizerSharingConsents.changedAt} <= excluded.changed_at`,
    });
}

export interface SharingPair {
  userId: string;
  organizationId: string;
}

const pairKey = ({ userId, organizationId }: SharingPair) => `${userId}|${organizationId}`;

/** Which of the (buyer, organization) pairs have sharing granted now, as `user|organization` keys. */
export async function grantedSharing(db: Db, pairs: SharingPair[]): Promise<Set<string>> {
  if (!pairs.length) return new Set();
  const rows = await db
    .select({
      userId: organizerSharingConsents.userId,
      organizationId: organizerSharingConsents.organizationId,
    })
    .from(organizerSharingConsents)
    .where(
      and(
        eq(organizerSharingConsents.granted, true),
        or(
          ...pairs.map((pair) =>
            and(
              eq(organizerSharingConsents.userId, pair.userId),
              eq(organizerSharingConsents.organizationId, pair.organizationId),
            ),
          ),
        ),
      ),
    );
  return new Set(rows.map(pairKey));
}

/** Per request: whether each buyer shares with each organization, one query per tick. */
export const sharingLoader = (db: Database) =>
  new DataLoader<SharingPair, boolean, string>(
    async (pairs) => {
      const granted = await grantedSharing(db, [...pairs]);
      return pairs.map((pair) => granted.has(pairKey(pair)));
    },
    { cacheKeyFn: pairKey },
  );

export { pairKey as sharingKey };
