import type { Transaction } from '@bilten/platform';
import { eq, inArray, sql } from 'drizzle-orm';
import { organizationNames, type RecipientRow, recipients } from './schema.ts';

/**
 * Records a user's address as of `emailSetAt`; an address set earlier than the stored one is
 * ignored (events of one user can arrive out of order). A display name, which only the
 * registration carries, fills in whenever it comes.
 */
export async function upsertRecipient(
  tx: Transaction,
  row: { userId: string; emailSealed: string; emailSetAt: Date; displayName: string | null },
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
        displayName: sql`coalesce(excluded.display_name, ${recipients.displayName})`,
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
      setWhere: sql`excluded.named_at > ${organizationNames.namedAt}`,
    });
}

export async function organizationNameOf(tx: Transaction, organizationId: string): Promise<string | null> {
  const [row] = await tx
    .select({ name: organizationNames.name })
    .from(organizationNames)
    .where(eq(organizationNames.organizationId, organizationId));
  return row?.name ?? null;
}
