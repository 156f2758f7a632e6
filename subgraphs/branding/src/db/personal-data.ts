import type { Transaction } from '@bilten/platform';
import { asc, eq } from 'drizzle-orm';
import { assets, brandKits, brandKitVersions, customDomains } from './schema.ts';

// What branding holds about a person: their id on what they uploaded, saved or added for their
// organization (and an upload's file name, which may name them). All of it belongs to the organization.

/** The uploads, kit changes and domains the user made, oldest first. */
export async function personalRecordsOf(tx: Transaction, userId: string) {
  const [uploads, kits, kitVersions, domains] = await Promise.all([
    tx
      .select({
        id: assets.id,
        organizationId: assets.organizationId,
        kind: assets.kind,
        originalName: assets.originalName,
        contentType: assets.contentType,
        createdAt: assets.createdAt,
      })
      .from(assets)
      .where(eq(assets.createdBy, userId))
      .orderBy(asc(assets.createdAt), asc(assets.id)),
    tx
      .select({ id: brandKits.id, organizationId: brandKits.organizationId, updatedAt: brandKits.updatedAt })
      .from(brandKits)
      .where(eq(brandKits.updatedBy, userId))
      .orderBy(asc(brandKits.id)),
    tx
      .select({
        kitId: brandKitVersions.kitId,
        version: brandKitVersions.version,
        changedAt: brandKitVersions.changedAt,
      })
      .from(brandKitVersions)
      .where(eq(brandKitVersions.changedBy, userId))
      .orderBy(asc(brandKitVersions.changedAt), asc(brandKitVersions.kitId)),
    tx
      .select({
        id: customDomains.id,
        organizationId: customDomains.organizationId,
        hostname: customDomains.hostname,
        createdAt: customDomains.createdAt,
      })
      .from(customDomains)
      .where(eq(customDomains.createdBy, userId))
      .orderBy(asc(customDomains.createdAt), asc(customDomains.id)),
  ]);
  return { uploads, kits, kitVersions, domains };
}

/** The user's id (and their uploads' file names) removed; the organization's kit, history, images and domains stay. */
export async function anonymizeAuthor(tx: Transaction, userId: string) {
  const uploads = await tx
    .update(assets)
    .set({ createdBy: null, originalName: null })
    .where(eq(assets.createdBy, userId))
    .returning({ id: assets.id });
  const kits = await tx
    .update(brandKits)
    .set({ updatedBy: null })
    .where(eq(brandKits.updatedBy, userId))
    .returning({ id: brandKits.id });
  const kitVersions = await tx
    .update(brandKitVersions)
    .set({ changedBy: null })
    .where(eq(brandKitVersions.changedBy, userId))
    .returning({ kitId: brandKitVersions.kitId });
  const domains = await tx
    .update(customDomains)
    .set({ createdBy: null })
    .where(eq(customDomains.createdBy, userId))
    .returning({ id: customDomains.id });
  return {
    uploads: uploads.length,
    kits: kits.length,
    kitVersions: kitVersions.length,
    domains: domains.length,
  };
}
