import type { Database, Transaction } from '@bilten/platform';
import { eq, sql } from 'drizzle-orm';
import { type BrandKitRow, brandKits, organizationNames } from './schema.ts';

/** Stores an organization's kit as of `changedAt`, unless a later one is stored (events may arrive out of order). */
export async function upsertBrandKit(tx: Transaction, row: BrandKitRow): Promise<void> {
  await tx
    .insert(brandKits)
    .values(row)
    .onConflictDoUpdate({
      target: brandKits.organizationId,
      set: {
        primaryColor: sql`excluded.primary_color`,
        accentColor: sql`excluded.accent_color`,
        logoUrl: sql`excluded.logo_url`,
        changedAt: sql`excluded.changed_at`,
      },
      setWhere: sql`excluded.changed_at > ${brandKits.changedAt}`,
    });
}

/** The organization's kit and name as messaging heard them from branding and identity (each may be missing). */
export async function brandSourcesOf(
  db: Database | Transaction,
  organizationId: string,
): Promise<{ kit: BrandKitRow | null; name: string | null }> {
  const [kit] = await db.select().from(brandKits).where(eq(brandKits.organizationId, organizationId));
  const [named] = await db
    .select({ name: organizationNames.name })
    .from(organizationNames)
    .where(eq(organizationNames.organizationId, organizationId));
  return { kit: kit ?? null, name: named?.name ?? null };
}
