import {
  columnAad,
  type Database,
  type EncryptedColumn,
  ERASED_EMAIL,
  erasedAsNull,
  type PersonKeys,
  type PersonVault,
  sealPlaintextRows,
  type Transaction,
} from '@bilten/platform';
import { eq, isNull } from 'drizzle-orm';
import { type InvitationRow, organizationInvitations, type SealedInvitationRow } from './schema.ts';

// An invitee may have no account: their address is sealed under a guest person id, the blind
// index of the address (issue 18), in a vault that renews an erased guest's key (they may be
// invited again). Every guest key operation goes through that one vault, so its cache never
// outlives a shred. Acceptance compares blind indexes, never plaintext.

type Db = Database | Transaction;

export const INVITATION_EMAIL_COLUMN: EncryptedColumn = {
  schema: 'identity',
  table: 'organization_invitations',
  column: 'email_sealed',
};

/** The invitee as a person: the blind index of their address. */
export const inviteeOf = (keys: PersonKeys, email: string) => keys.index(email, 'email');

/** The stored columns of an invitation's address. */
export async function sealInvitationEmail(
  tx: Transaction,
  keys: PersonKeys,
  guests: PersonVault,
  invitationId: string,
  email: string,
) {
  const emailIndex = inviteeOf(keys, email);
  const aad = columnAad(INVITATION_EMAIL_COLUMN, invitationId);
  return { emailSealed: await guests.encryptFor(tx, emailIndex, email, aad), emailIndex };
}

/** The invitation with its address opened; ERASED_EMAIL once the invitee's key is destroyed. */
export async function openInvitation(
  db: Db,
  guests: PersonVault,
  row: SealedInvitationRow,
): Promise<InvitationRow> {
  const { emailSealed, emailIndex, ...rest } = row;
  if (emailIndex === null) return { ...rest, email: emailSealed };
  const email = await erasedAsNull(() =>
    guests.decryptFor(db, emailIndex, emailSealed, columnAad(INVITATION_EMAIL_COLUMN, row.id)),
  );
  return { ...rest, email: email ?? ERASED_EMAIL };
}

/** Whether the invitation went to `email`, by blind index (under every index key: rotation). */
export const invitedAddressIs = (
  keys: PersonKeys,
  invitation: { emailIndex: string | null },
  email: string,
) => invitation.emailIndex !== null && keys.indexes(email, 'email').includes(invitation.emailIndex);

/**
 * The data migration of invitations written before their address was sealed (migration 0013
 * renamed `email` to `email_sealed`; `email_index` is null until sealed). Run in setup.
 */
export const sealPlaintextInvitations = (
  db: Database,
  keys: PersonKeys,
  guests: PersonVault,
  batchSize = 500,
) => sealPlaintextRows(db, (tx, limit) => sealInvitationBatch(tx, keys, guests, limit), batchSize);

async function sealInvitationBatch(tx: Transaction, keys: PersonKeys, guests: PersonVault, limit: number) {
  const rows = await tx
    .select()
    .from(organizationInvitations)
    .where(isNull(organizationInvitations.emailIndex))
    .limit(limit)
    .for('update', { skipLocked: true });
  for (const row of rows) {
    await tx
      .update(organizationInvitations)
      .set(await sealInvitationEmail(tx, keys, guests, row.id, row.emailSealed))
      .where(eq(organizationInvitations.id, row.id));
  }
  return rows.length;
}
