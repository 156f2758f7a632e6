import type { Database, Transaction } from '@bilten/platform';
import { eq } from 'drizzle-orm';
import { type OrganizationPricingRow, organizationPricing } from './schema.ts';

export async function pricingOf(
  db: Database | Transaction,
  organizationId: string,
): Promise<OrganizationPricingRow | undefined> {
  const [row] = await db
    .select()
    .from(organizationPricing)
    .where(eq(organizationPricing.organizationId, organizationId));
  return row;
}

/** Replaces the organization's rules (one row per organization). */
export async function upsertPricing(
  db: Database,
  row: Omit<OrganizationPricingRow, 'updatedAt'>,
): Promise<OrganizationPricingRow> {
  const change = { ...row, updatedAt: new Date() };
  const [saved] = await db
    .insert(organizationPricing)
    .values(change)
    .onConflictDoUpdate({ target: organizationPricing.organizationId, set: change })
    .returning();
  return saved!;
}
