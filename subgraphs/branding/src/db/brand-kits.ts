import type { Database, Transaction } from '@bilten/platform';
import { and, desc, eq, inArray, lt, sql } from 'drizzle-orm';
import {
  type AssetRow,
  assets,
  type BrandKitRow,
  type BrandKitSettings,
  brandKits,
  brandKitVersions,
  customDomains,
} from './schema.ts';

type Db = Database | Transaction;

/**
 * Creates the kit unless the organization has one; replays of the same event change nothing.
 * The new kit, or undefined when there already was one.
 */
export async function insertBrandKitOnce(
  db: Db,
  row: typeof brandKits.$inferInsert,
): Promise<BrandKitRow | undefined> {
  const [kit] = await db
    .insert(brandKits)
    .values(row)
    .onConflictDoNothing({ target: brandKits.organizationId })
    .returning();
  return kit;
}

/** The organization's kit, row-locked until the transaction ends: saves and announcements queue on it. */
export async function lockBrandKitOf(
  tx: Transaction,
  organizationId: string,
): Promise<BrandKitRow | undefined> {
  const [kit] = await tx
    .select()
    .from(brandKits)
    .where(eq(brandKits.organizationId, organizationId))
    .for('update');
  return kit;
}

/** Saves `settings` as the kit's next version (the count is the database's, so no save is lost). */
export async function saveBrandKitSettings(
  tx: Transaction,
  kitId: string,
  settings: BrandKitSettings,
  changes: { updatedBy: string; updatedAt: Date },
): Promise<BrandKitRow> {
  const [kit] = await tx
    .update(brandKits)
    .set({ ...settings, ...changes, version: sql`${brandKits.version} + 1` })
    .where(eq(brandKits.id, kitId))
    .returning();
  return kit!;
}

export async function insertBrandKitVersion(tx: Transaction, row: typeof brandKitVersions.$inferInsert) {
  await tx.insert(brandKitVersions).values(row);
}

/** A kit's versions, newest first, keyset on the version number. */
export const brandKitVersionsOf = (db: Db, kitId: string, limit: number, beforeVersion?: number) =>
  db
    .select()
    .from(brandKitVersions)
    .where(
      and(
        eq(brandKitVersions.kitId, kitId),
        beforeVersion !== undefined ? lt(brandKitVersions.version, beforeVersion) : undefined,
      ),
    )
    .orderBy(desc(brandKitVersions.version))
    .limit(limit);

export async function brandKitVersionOf(db: Db, kitId: string, version: number) {
  const [row] = await db
    .select()
    .from(brandKitVersions)
    .where(and(eq(brandKitVersions.kitId, kitId), eq(brandKitVersions.version, version)));
  return row;
}

/**
 * Asset rows by id, key-share locked: an asset a save is about to name cannot be deleted until the
 * save commits (otherwise the kit's foreign key would fail the save with a 500).
 */
export const lockAssetsForKit = (tx: Transaction, ids: string[]): Promise<AssetRow[]> =>
  ids.length ? tx.select().from(assets).where(inArray(assets.id, ids)).for('key share') : Promise.resolve([]);

/** The organization's ACTIVE custom domain (its links point there), if any. */
export async function activeHostnameOf(db: Db, organizationId: string): Promise<string | null> {
  const [row] = await db
    .select({ hostname: customDomains.hostname })
    .from(customDomains)
    .where(and(eq(customDomains.organizationId, organizationId), eq(customDomains.state, 'ACTIVE')))
    .limit(1);
  return row?.hostname ?? null;
}

/** Active hostnames by organization, for `BrandKit.domain` over many kits in one statement. */
export const activeDomainsOf = (db: Db, organizationIds: string[]) =>
  db
    .select({ organizationId: customDomains.organizationId, hostname: customDomains.hostname })
    .from(customDomains)
    .where(and(inArray(customDomains.organizationId, organizationIds), eq(customDomains.state, 'ACTIVE')));

export async function brandKitOfOrganization(
  db: Db,
  organizationId: string,
): Promise<BrandKitRow | undefined> {
  const [kit] = await db.select().from(brandKits).where(eq(brandKits.organizationId, organizationId));
  return kit;
}

export const brandKitsByIds = (db: Db, ids: string[]) =>
  db.select().from(brandKits).where(inArray(brandKits.id, ids));

export const brandKitsByOrganizationIds = (db: Db, organizationIds: string[]) =>
  db.select().from(brandKits).where(inArray(brandKits.organizationId, organizationIds));
