import type { Database, Transaction } from '@bilten/platform';
import { eq, sql } from 'drizzle-orm';
import { type OrganizationRow, organizations } from './schema.ts';

type Db = Database | Transaction;

/**
 * identity's `organizationCreated`: the only event that carries testMode, so it sets testMode and
 * nothing else on a row an earlier-delivered `organizationUpdated` made (whose name is newer).
 */
export async function recordOrganizationCreated(
  tx: Db,
  row: { id: string; name: string; slug: string; testMode: boolean; occurredAt: Date },
): Promise<void> {
  await tx
    .insert(organizations)
    .values({ id: row.id, name: row.name, slug: row.slug, testMode: row.testMode, updatedAt: row.occurredAt })
    .onConflictDoUpdate({ target: organizations.id, set: { testMode: row.testMode } });
}

/**
 * identity's `organizationUpdated`: name and slug as of the event, unless a later update is
 * already applied (updated_at is the event's time); testMode is left as `organizationCreated` set it.
 */
export async function recordOrganizationUpdated(
  tx: Db,
  row: { id: string; name: string; slug: string; occurredAt: Date },
): Promise<void> {
  await tx
    .insert(organizations)
    .values({ id: row.id, name: row.name, slug: row.slug, updatedAt: row.occurredAt })
    .onConflictDoUpdate({
      target: organizations.id,
      set: { name: row.name, slug: row.slug, updatedAt: row.occurredAt },
      setWhere: sql`${organizations.updatedAt} <= excluded.updated_at`,
    });
}

export async function organizationById(db: Db, id: string): Promise<OrganizationRow | undefined> {
  const [row] = await db.select().from(organizations).where(eq(organizations.id, id));
  return row;
}
