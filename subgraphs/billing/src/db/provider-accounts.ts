import type { Database, Transaction } from '@bilten/platform';
import { and, asc, eq, isNull, sql } from 'drizzle-orm';
import { type PaymentProviderName, type ProviderAccountRow, providerAccounts } from './schema.ts';

type Db = Database | Transaction;

/** By id, removed or not: payments made through a removed account are still confirmed and refunded. */
export async function providerAccountById(db: Db, id: string): Promise<ProviderAccountRow | undefined> {
  const [row] = await db.select().from(providerAccounts).where(eq(providerAccounts.id, id));
  return row;
}

/** The organization's live account at `provider`, if any (at most one: provider_accounts_one_live). */
export async function liveProviderAccount(
  db: Db,
  organizationId: string,
  provider: PaymentProviderName,
): Promise<ProviderAccountRow | undefined> {
  const [row] = await db
    .select()
    .from(providerAccounts)
    .where(
      and(
        eq(providerAccounts.organizationId, organizationId),
        eq(providerAccounts.provider, provider),
        isNull(providerAccounts.removedAt),
      ),
    );
  return row;
}

export const liveProviderAccountsOf = (db: Db, organizationId: string) =>
  db
    .select()
    .from(providerAccounts)
    .where(and(eq(providerAccounts.organizationId, organizationId), isNull(providerAccounts.removedAt)))
    .orderBy(asc(providerAccounts.provider));

/**
 * Queues this transaction behind any other changing the organization's account at `provider`
 * (released at commit): concurrent replacements run one after the other, the last one wins.
 */
export async function lockProviderAccounts(
  tx: Transaction,
  organizationId: string,
  provider: PaymentProviderName,
): Promise<void> {
  await tx.execute(
    sql`select pg_advisory_xact_lock(hashtextextended(${`billing.provider_accounts:${organizationId}:${provider}`}, 0))`,
  );
}

/** Marks the live account removed (its row stays for the payments made through it); the row, if there was one. */
export async function markProviderAccountRemoved(
  tx: Transaction,
  organizationId: string,
  provider: PaymentProviderName,
): Promise<ProviderAccountRow | undefined> {
  const [row] = await tx
    .update(providerAccounts)
    .set({ removedAt: sql`now()`, updatedAt: sql`now()` })
    .where(
      and(
        eq(providerAccounts.organizationId, organizationId),
        eq(providerAccounts.provider, provider),
        isNull(providerAccounts.removedAt),
      ),
    )
    .returning();
  return row;
}

export async function insertProviderAccount(
  tx: Transaction,
  row: typeof providerAccounts.$inferInsert,
): Promise<ProviderAccountRow> {
  const [inserted] = await tx.insert(providerAccounts).values(row).returning();
  return inserted!;
}
