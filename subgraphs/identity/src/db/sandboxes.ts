import type { Database, Transaction } from '@bilten/platform';
import { inArray } from 'drizzle-orm';
import { type OrganizationRow, organizations } from './schema.ts';

type Db = Database | Transaction;

/** The sandboxes of these live organizations (for the `sandbox` loader). */
export const sandboxesOf = (db: Db, liveIds: string[]) =>
  db.select().from(organizations).where(inArray(organizations.sandboxOf, liveIds));

/**
 * Inserts a sandbox; undefined when either unique constraint stops it: the live organization has
 * a sandbox already (a concurrent opener won) or another organization has the slug.
 */
export async function insertSandbox(
  tx: Transaction,
  row: typeof organizations.$inferInsert & { sandboxOf: string },
): Promise<OrganizationRow | undefined> {
  const [sandbox] = await tx.insert(organizations).values(row).onConflictDoNothing().returning();
  return sandbox;
}
