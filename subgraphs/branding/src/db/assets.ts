import type { Database, Transaction } from '@bilten/platform';
import { and, desc, eq, inArray, lt, or, sql } from 'drizzle-orm';
import {
  type AssetKind,
  type AssetRow,
  type AssetVariant,
  assets,
  brandKits,
  storedBlobs,
} from './schema.ts';

type Db = Database | Transaction;

/** Asset rows by id, in no particular order (the loader and H2's guideline checks use it). */
export const assetsByIds = (db: Db, ids: string[]) =>
  ids.length ? db.select().from(assets).where(inArray(assets.id, ids)) : Promise.resolve([] as AssetRow[]);

/**
 * An organization's assets, newest first (ids are UUIDv7, so id order is creation order), keyset
 * paginated by id.
 */
export const assetsOfOrganization = (
  db: Db,
  organizationId: string,
  options: { kind?: AssetKind; limit: number; beforeId?: string },
) =>
  db
    .select()
    .from(assets)
    .where(
      and(
        eq(assets.organizationId, organizationId),
        options.kind ? eq(assets.kind, options.kind) : undefined,
        options.beforeId ? lt(assets.id, options.beforeId) : undefined,
      ),
    )
    .orderBy(desc(assets.id))
    .limit(options.limit);

export async function insertAsset(db: Db, row: typeof assets.$inferInsert): Promise<AssetRow> {
  const [asset] = await db.insert(assets).values(row).returning();
  return asset!;
}

/**
 * Records the blobs an upload is about to store, locking their rows (hash order, as deletes lock
 * them) until the upload commits: a delete of the last asset using one of them waits, then sees
 * the new asset and keeps the blob. An existing row keeps its values (same bytes, same type).
 */
export async function recordBlobs(
  db: Db,
  blobs: Pick<AssetVariant, 'sha256' | 'contentType' | 'byteSize'>[],
) {
  const unique = [...new Map(blobs.map((blob) => [blob.sha256, blob])).values()].sort((a, b) =>
    a.sha256.localeCompare(b.sha256),
  );
  if (!unique.length) return;
  await db
    .insert(storedBlobs)
    .values(unique.map(({ sha256, contentType, byteSize }) => ({ sha256, contentType, byteSize })))
    // An update, not "do nothing": it locks an existing row as the insert locks a new one.
    .onConflictDoUpdate({ target: storedBlobs.sha256, set: { sha256: sql`excluded.sha256` } });
}

export async function blobByHash(db: Db, sha256: string) {
  const [blob] = await db.select().from(storedBlobs).where(eq(storedBlobs.sha256, sha256));
  return blob;
}

/** The kit columns that may name an asset, by the GraphQL field name `usedBy` reports. */
const KIT_ASSET_FIELDS = {
  logo: brandKits.logoAssetId,
  logoOnDark: brandKits.logoOnDarkAssetId,
  favicon: brandKits.faviconAssetId,
  emailHeader: brandKits.emailHeaderAssetId,
  coverImage: brandKits.coverAssetId,
} as const;

/** For each asset id, the kit fields naming it (e.g. `['logo', 'favicon']`); ids unused get none. */
export async function kitFieldsUsing(db: Db, assetIds: string[]): Promise<Map<string, string[]>> {
  const used = new Map<string, string[]>();
  if (!assetIds.length) return used;
  const columns = Object.values(KIT_ASSET_FIELDS);
  const kits = await db
    .select({
      logo: brandKits.logoAssetId,
      logoOnDark: brandKits.logoOnDarkAssetId,
      favicon: brandKits.faviconAssetId,
      emailHeader: brandKits.emailHeaderAssetId,
      coverImage: brandKits.coverAssetId,
    })
    .from(brandKits)
    .where(or(...columns.map((column) => inArray(column, assetIds))));
  for (const kit of kits) {
    for (const [field, assetId] of Object.entries(kit)) {
      if (assetId && assetIds.includes(assetId)) used.set(assetId, [...(used.get(assetId) ?? []), field]);
    }
  }
  return used;
}

/** One kit field naming an asset: what `BrandAsset.usedBy` lists (the usage loader's rows). */
export async function assetUsesByIds(db: Db, assetIds: string[]) {
  const used = await kitFieldsUsing(db, assetIds);
  return [...used].flatMap(([assetId, fields]) => fields.map((field) => ({ assetId, field })));
}

/**
 * Deletes the asset and the blob rows no other asset's variants name; answers those hashes, whose
 * bytes the caller removes before committing. The blob rows are locked (hash order) before the
 * check, so an upload recording the same hashes either committed first (and its asset counts) or
 * waits until this commits (and records them anew).
 */
export async function deleteAssetAndOrphanBlobs(tx: Transaction, asset: AssetRow): Promise<string[]> {
  await tx.delete(assets).where(eq(assets.id, asset.id));
  const hashes = [...new Set(asset.variants.map((variant) => variant.sha256))].sort();
  if (!hashes.length) return [];
  await tx
    .select({ sha256: storedBlobs.sha256 })
    .from(storedBlobs)
    .where(inArray(storedBlobs.sha256, hashes))
    .orderBy(storedBlobs.sha256)
    .for('update');
  // A hash stays while any remaining asset's variants (jsonb) name it.
  const stillUsed = await tx.execute<{ sha256: string }>(sql`
    select distinct variant->>'sha256' as sha256
    from ${assets}, jsonb_array_elements(${assets.variants}) as variant
    where variant->>'sha256' in ${hashes}`);
  const keep = new Set([...stillUsed].map((row) => row.sha256));
  const orphans = hashes.filter((hash) => !keep.has(hash));
  if (orphans.length) await tx.delete(storedBlobs).where(inArray(storedBlobs.sha256, orphans));
  return orphans;
}

/** Locks the asset row for delete; undefined when it does not exist. */
export async function lockAsset(tx: Transaction, id: string) {
  const [asset] = await tx.select().from(assets).where(eq(assets.id, id)).for('update');
  return asset;
}
