import type { Database, OrganizationRole, PersonKeys, PersonVault, Transaction } from '@bilten/platform';
import { and, desc, eq, inArray, isNull, or, sql } from 'drizzle-orm';
import { openInvitation, sealInvitationEmail } from './invitations.ts';
import {
  apiKeys,
  type InvitationRow,
  type MemberRow,
  type OrganizationRow,
  organizationInvitations,
  organizationMembers,
  organizationSlugs,
  organizations,
} from './schema.ts';

type Db = Database | Transaction;

export async function insertOrganization(
  db: Db,
  row: typeof organizations.$inferInsert,
): Promise<OrganizationRow | undefined> {
  const [organization] = await db
    .insert(organizations)
    .values(row)
    .onConflictDoNothing({ target: organizations.slug })
    .returning();
  return organization;
}

/** Undoes an insert in its own transaction (a slug lost to another organization meanwhile). */
export const deleteOrganizationRow = (tx: Transaction, id: string) =>
  tx.delete(organizations).where(eq(organizations.id, id));

export const organizationsByIds = (db: Database, ids: string[]) =>
  db.select().from(organizations).where(inArray(organizations.id, ids));

/** By its current slug or one it held before. */
export async function organizationBySlug(db: Database, slug: string): Promise<OrganizationRow | undefined> {
  const [row] = await db
    .select({ organization: organizations })
    .from(organizationSlugs)
    .innerJoin(organizations, eq(organizations.id, organizationSlugs.organizationId))
    .where(eq(organizationSlugs.slug, slug));
  return row?.organization;
}

/**
 * Registers `slug` as the organization's; false when another organization holds or held it
 * (the primary key decides, so two organizations racing for one slug cannot both get it).
 */
export async function claimSlug(db: Db, organizationId: string, slug: string): Promise<boolean> {
  const claimed = await db
    .insert(organizationSlugs)
    .values({ slug, organizationId })
    .onConflictDoUpdate({
      target: organizationSlugs.slug,
      set: { organizationId },
      setWhere: eq(organizationSlugs.organizationId, organizationId),
    })
    .returning();
  return claimed.length > 0;
}

export async function updateOrganizationRow(
  tx: Transaction,
  id: string,
  changes: Partial<
    Pick<OrganizationRow, 'name' | 'slug' | 'status' | 'closureId' | 'closureRefusal' | 'closedAt'>
  >,
): Promise<OrganizationRow> {
  const [organization] = await tx
    .update(organizations)
    .set(changes)
    .where(eq(organizations.id, id))
    .returning();
  return organization!;
}

// ---------------------------------------------------------------- members

export async function insertMember(db: Db, row: typeof organizationMembers.$inferInsert) {
  await db.insert(organizationMembers).values(row);
}

/**
 * Where a membership reaches: its organization and that one's sandbox, which has no team of its
 * own (the same join in liveSessionClaims).
 */
export const membershipReach = or(
  eq(organizations.id, organizationMembers.organizationId),
  eq(organizations.sandboxOf, organizationMembers.organizationId),
);

/** Organization id → role, as access tokens carry it; a sandbox with the role held in its live one. */
export async function membershipsOf(db: Db, userId: string): Promise<Record<string, OrganizationRole>> {
  const rows = await db
    .select({ organizationId: organizations.id, role: organizationMembers.role })
    .from(organizationMembers)
    .innerJoin(organizations, membershipReach)
    .where(eq(organizationMembers.userId, userId));
  return Object.fromEntries(rows.map((row) => [row.organizationId, row.role as OrganizationRole]));
}

/**
 * The organization's row, locked until the transaction ends, and its members: every membership
 * change of one organization runs under this lock, so two concurrent demotions cannot both see
 * a second owner.
 */
export async function lockMembers(
  tx: Transaction,
  organizationId: string,
): Promise<{ organization: OrganizationRow; members: MemberRow[] } | undefined> {
  const [organization] = await tx
    .select()
    .from(organizations)
    .where(eq(organizations.id, organizationId))
    .for('update');
  if (!organization) return undefined;
  const members = await tx
    .select()
    .from(organizationMembers)
    .where(eq(organizationMembers.organizationId, organizationId))
    .for('update');
  return { organization, members };
}

export async function setMemberRole(tx: Transaction, organizationId: string, userId: string, role: string) {
  const [member] = await tx
    .update(organizationMembers)
    .set({ role })
    .where(
      and(eq(organizationMembers.organizationId, organizationId), eq(organizationMembers.userId, userId)),
    )
    .returning();
  return member!;
}

export async function deleteMember(tx: Transaction, organizationId: string, userId: string) {
  await tx
    .delete(organizationMembers)
    .where(
      and(eq(organizationMembers.organizationId, organizationId), eq(organizationMembers.userId, userId)),
    );
}

export const membersOf = (db: Database, organizationId: string) =>
  db
    .select()
    .from(organizationMembers)
    .where(eq(organizationMembers.organizationId, organizationId))
    .orderBy(organizationMembers.createdAt);

// ---------------------------------------------------------------- invitations

/** The keys invitations are sealed with: users' (for blind indexes) and the invitees' guest vault. */
export type Invitees = { personKeys: PersonKeys; guestVault: PersonVault };

export async function insertInvitation(
  tx: Transaction,
  people: Invitees,
  row: Omit<typeof organizationInvitations.$inferInsert, 'emailSealed' | 'emailIndex'> & { email: string },
): Promise<InvitationRow> {
  const { email, ...rest } = row;
  const sealed = await sealInvitationEmail(tx, people.personKeys, people.guestVault, row.id, email);
  const [invitation] = await tx
    .insert(organizationInvitations)
    .values({ ...rest, ...sealed })
    .returning();
  return openInvitation(tx, people.guestVault, invitation!);
}

/**
 * Ends the organization's open invitations: of one address when a new one is sent, all of them
 * when the organization closes.
 */
export async function revokeOpenInvitations(
  tx: Transaction,
  organizationId: string,
  to?: { keys: PersonKeys; email: string },
) {
  await tx
    .update(organizationInvitations)
    .set({ revokedAt: new Date() })
    .where(
      and(
        eq(organizationInvitations.organizationId, organizationId),
        to === undefined
          ? undefined
          : inArray(organizationInvitations.emailIndex, to.keys.indexes(to.email, 'email')),
        isNull(organizationInvitations.acceptedAt),
        isNull(organizationInvitations.revokedAt),
      ),
    );
}

/** Still sealed: acceptance compares its `emailIndex` with the account's address's, never plaintext. */
export async function lockInvitationByToken(tx: Transaction, hash: string) {
  const [row] = await tx
    .select()
    .from(organizationInvitations)
    .where(eq(organizationInvitations.tokenHash, hash))
    .for('update');
  return row;
}

export async function invitationById(
  db: Db,
  { guestVault }: Invitees,
  id: string,
): Promise<InvitationRow | undefined> {
  const [row] = await db.select().from(organizationInvitations).where(eq(organizationInvitations.id, id));
  return row && openInvitation(db, guestVault, row);
}

export async function markInvitation(
  tx: Transaction,
  { guestVault }: Invitees,
  id: string,
  values: { acceptedAt: Date; acceptedBy: string } | { revokedAt: Date },
): Promise<InvitationRow> {
  const [row] = await tx
    .update(organizationInvitations)
    .set(values)
    .where(eq(organizationInvitations.id, id))
    .returning();
  return openInvitation(tx, guestVault, row!);
}

/** Neither accepted nor revoked (expired ones included, so an admin sees them and invites again). */
export async function openInvitationsOf(db: Database, { guestVault }: Invitees, organizationId: string) {
  const rows = await db
    .select()
    .from(organizationInvitations)
    .where(
      and(
        eq(organizationInvitations.organizationId, organizationId),
        isNull(organizationInvitations.acceptedAt),
        isNull(organizationInvitations.revokedAt),
      ),
    )
    .orderBy(desc(organizationInvitations.createdAt));
  return Promise.all(rows.map((row) => openInvitation(db, guestVault, row)));
}

/**
 * A closed organization keeps its name and slugs (orders and receipts name it) and loses its
 * team: members, open invitations and API keys end in the transaction that closes it (the keys
 * it revoked are answered).
 */
export async function dissolveTeam(tx: Transaction, organizationId: string) {
  await tx.delete(organizationMembers).where(eq(organizationMembers.organizationId, organizationId));
  await revokeOpenInvitations(tx, organizationId);
  return tx
    .update(apiKeys)
    .set({ revokedAt: sql`now()` })
    .where(and(eq(apiKeys.organizationId, organizationId), isNull(apiKeys.revokedAt)))
    .returning({ id: apiKeys.id, mode: apiKeys.mode });
}
