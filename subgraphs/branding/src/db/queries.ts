import type { Database, Transaction } from '@bilten/platform';
import { eq, inArray } from 'drizzle-orm';
import { type BrandKitRow, brandKits } from './schema.ts';

/**
 * Creates the kit unless the organization has one; replays of the same event change nothing.
 * The new kit, or undefined when there already was one.
 */
export async function insertBrandKitOnce(
  db: Database | Transaction,
  row: typeof brandKits.$inferInsert,
): Promise<BrandKitRow | undefined> {
  const [kit] = await db
    .insert(brandKits)
    .values(row)
    .onConflictDoNothing({ target: brandKits.organizationId })
    .returning();
  return kit;
}

export async function updateBrandKitOf(
  db: Database | Transaction,
  organizationId: string,
  changes: Partial<Pick<BrandKitRow, 'primaryColor' | 'accentColor'>>,
): Promise<BrandKitRow | undefined> {
  const [kit] = await db
    .update(brandKits)
    .set({ ...changes, updatedAt: new Date() })
    .where(eq(brandKits.organizationId, organizationId))
    .returning();
  return kit;
}

export const brandKitsByIds = (db: Database, ids: string[]) =>
  db.select().from(brandKits).where(inArray(brandKits.id, ids));

export const brandKitsByOrganizationIds = (db: Database, organizationIds: string[]) =>
  db.select().from(brandKits).where(inArray(brandKits.organizationId, organizationIds));
