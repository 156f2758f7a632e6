import type { Transaction } from '@bilten/platform';
import { and, eq, inArray, isNull, sql } from 'drizzle-orm';
import { organizationNames, type RecipientRow, recipients } from './schema.ts';

/**
 * Records a user's address as of `emailSetAt`; an address set earlier than the stored one is
 * ignored (events of one user can arrive out of order). A display name, which only the
 * registration carries, fills in whenever it comes.
 */
export async function upsertRecipient(
  tx: Transaction,
  row: { userId: string; emailSealed: string; emailSetAt: Date; displayNameSealed: string | null },
): Promise<void> {
  const newer = sql`excluded.email_set_at > ${recipients.emailSetAt}`;
  await tx
    .insert(recipients)
    .values(row)
    .onConflictDoUpdate({
      target: recipients.userId,
      set: {
        emailSealed: sql`case when ${newer} then excluded.email_sealed else ${recipients.emailSealed} end`,
        emailSetAt: sql`greatest(excluded.email_set_at, ${recipients.emailSetAt})`,
        displayNameSealed: sql`coalesce(excluded.display_name_sealed, ${recipients.displayNameSealed})`,
        updatedAt: sql`now()`,
      },
    });
}

export const recipientsByIds = (tx: Transaction, userIds: string[]): Promise<RecipientRow[]> =>
  userIds.length
    ? tx.select().from(recipients).where(inArray(recipients.userId, userIds))
    : Promise.resolve([]);

/** Records an organization's name as of `namedAt`, unless a later one is stored. */
export async function upsertOrganizationName(
  tx: Transaction,
  row: { organizationId: string; name: string; namedAt: Date },
): Promise<void> {
  await tx
    .insert(organizationNames)
    .values(row)
    .onConflictDoUpdate({
      target: organizationNames.organizationId,
      set: { name: sql`excluded.name`, namedAt: sql`excluded.named_at` },
      setWhere: sql`${organizationNames.namedAt} is null or excluded.named_at > ${organizationNames.namedAt}`,
    });
}

/**
 * Marks an organization closed as of `closedAt`, keeping the first date on a redelivery. A closure
 * arriving before the organization's creation leaves a nameless closed row: the creation names it
 * later but never reopens it.
 */
export async function markOrganizationClosed(
  tx: Transaction,
  organizationId: string,
  closedAt: Date,
): Promise<void> {
  await tx
    .insert(organizationNames)
    .values({ organizationId, closedAt })
    .onConflictDoUpdate({
      target: organizationNames.organizationId,
      set: { closedAt: sql`coalesce(${organizationNames.closedAt}, excluded.closed_at)` },
    });
}

/**
 * True when messaging has heard of the organization and it is open; the row stays share-locked
 * until the transaction ends, so a closure committing meanwhile waits for a follow made under it
 * (and then deletes it), and a follow waiting on a closure sees it closed.
 */
export async function lockOpenOrganization(tx: Transaction, organizationId: string): Promise<boolean> {
  const rows = await tx
    .select({ organizationId: organizationNames.organizationId })
    .from(organizationNames)
    .where(and(eq(organizationNames.organizationId, organizationId), isNull(organizationNames.closedAt)))
    .for('share');
  return rows.length > 0;
}

export async function organizationNameOf(tx: Transaction, organizationId: string): Promise<string | null> {
  const [row] = await tx
    .select({ name: organizationNames.name })
    .from(organizationNames)
    .where(eq(organizationNames.organizationId, organizationId));
  return row?.name ?? null;
}
