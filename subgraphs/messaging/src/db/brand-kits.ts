import type { BrandedContext, Database, Transaction } from '@bilten/platform';
import { eq } from 'drizzle-orm';
import { brandContexts, organizationNames } from './schema.ts';

/**
 * The organization's brand context and name as messaging heard them from branding and identity
 * (each may be missing): one read per render, so the next message after a change uses it.
 */
export async function brandSourcesOf(
  db: Database | Transaction,
  organizationId: string,
): Promise<{ context: BrandedContext | null; name: string | null }> {
  const [stored] = await db
    .select({ context: brandContexts.context })
    .from(brandContexts)
    .where(eq(brandContexts.organizationId, organizationId));
  const [named] = await db
    .select({ name: organizationNames.name })
    .from(organizationNames)
    .where(eq(organizationNames.organizationId, organizationId));
  return { context: stored?.context ?? null, name: named?.name ?? null };
}
