import type { Database, Transaction } from '@bilten/platform';
import { and, asc, count, eq, inArray, sql } from 'drizzle-orm';
import { type CustomDomainRow, customDomains, type DomainState } from './schema.ts';

type Db = Database | Transaction;

/** The states in which a domain's ownership is proven: the gateway answers its host. */
export const VERIFIED_STATES: readonly DomainState[] = ['VERIFIED', 'CERTIFICATE_ISSUED', 'ACTIVE'];

/**
 * Serialises additions per organization for the rest of the transaction, so that two at once
 * cannot both pass the per-organization cap.
 */
export async function lockOrganizationDomains(tx: Transaction, organizationId: string) {
  await tx.execute(sql`select pg_advisory_xact_lock(hashtext(${`custom_domains:${organizationId}`}))`);
}

export async function domainCountOf(db: Db, organizationId: string): Promise<number> {
  const [row] = await db
    .select({ n: count() })
    .from(customDomains)
    .where(eq(customDomains.organizationId, organizationId));
  return row?.n ?? 0;
}

/**
 * Inserts the domain unless its hostname is taken (the unique index decides a race): the new row,
 * or undefined when some organization holds the hostname already.
 */
export async function insertDomainUnlessTaken(
  tx: Transaction,
  row: typeof customDomains.$inferInsert,
): Promise<CustomDomainRow | undefined> {
  const [inserted] = await tx
    .insert(customDomains)
    .values(row)
    .onConflictDoNothing({ target: customDomains.hostname })
    .returning();
  return inserted;
}

export async function domainByHostname(db: Db, hostname: string): Promise<CustomDomainRow | undefined> {
  const [row] = await db.select().from(customDomains).where(eq(customDomains.hostname, hostname));
  return row;
}

/** The domain, locked until the transaction ends (verification and removal). */
export async function lockDomain(tx: Transaction, id: string): Promise<CustomDomainRow | undefined> {
  const [row] = await tx.select().from(customDomains).where(eq(customDomains.id, id)).for('update');
  return row;
}

export async function updateDomain(
  tx: Transaction,
  id: string,
  changes: Partial<
    Pick<
      CustomDomainRow,
      'state' | 'failureReason' | 'lastCheckedAt' | 'verifiedAt' | 'certificateDueAt' | 'certificateAttempts'
    >
  >,
): Promise<CustomDomainRow> {
  const [row] = await tx
    .update(customDomains)
    .set({ ...changes, updatedAt: new Date() })
    .where(eq(customDomains.id, id))
    .returning();
  return row!;
}

export async function deleteDomain(tx: Transaction, id: string): Promise<CustomDomainRow | undefined> {
  const [row] = await tx.delete(customDomains).where(eq(customDomains.id, id)).returning();
  return row;
}

export const domainsByIds = (db: Db, ids: string[]) =>
  db.select().from(customDomains).where(inArray(customDomains.id, ids));

export const domainsByOrganizationIds = (db: Db, organizationIds: string[]) =>
  db
    .select()
    .from(customDomains)
    .where(inArray(customDomains.organizationId, organizationIds))
    .orderBy(asc(customDomains.createdAt), asc(customDomains.id));

/** The domain of `hostname` when its ownership is proven (VERIFIED or later); undefined otherwise. */
export async function verifiedDomainByHostname(
  db: Db,
  hostname: string,
): Promise<CustomDomainRow | undefined> {
  const [row] = await db
    .select()
    .from(customDomains)
    .where(and(eq(customDomains.hostname, hostname), inArray(customDomains.state, [...VERIFIED_STATES])));
  return row;
}
