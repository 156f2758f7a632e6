import type { Database, OrganizationRole, Transaction } from '@bilten/platform';
import { and, count, desc, eq, gt, inArray, isNull, lt, ne, or, sql } from 'drizzle-orm';
import {
  type ApiKeyRow,
  apiKeys,
  emailVerifications,
  type InvitationRow,
  type MemberRow,
  type OrganizationRow,
  organizationInvitations,
  organizationMembers,
  organizations,
  passwordResets,
  refreshTokens,
  type SessionRow,
  sessions,
  type UserRow,
  users,
} from './schema.ts';

type Db = Database | Transaction;

/** Inserts unless the email is taken; `undefined` means it was. */
export async function insertUser(db: Db, row: typeof users.$inferInsert): Promise<UserRow | undefined> {
  const [user] = await db.insert(users).values(row).onConflictDoNothing({ target: users.email }).returning();
  return user;
}

export async function userByEmail(db: Db, email: string): Promise<UserRow | undefined> {
  const [user] = await db.select().from(users).where(eq(users.email, email));
  return user;
}

/** The user's row, locked until the transaction ends. */
export async function lockUser(tx: Transaction, id: string): Promise<UserRow | undefined> {
  const [user] = await tx.select().from(users).where(eq(users.id, id)).for('update');
  return user;
}

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

export async function insertMember(db: Db, row: typeof organizationMembers.$inferInsert) {
  await db.insert(organizationMembers).values(row);
}

/** Organization id → role, as access tokens carry it. */
export async function membershipsOf(db: Db, userId: string): Promise<Record<string, OrganizationRole>> {
  const rows = await db
    .select({ organizationId: organizationMembers.organizationId, role: organizationMembers.role })
    .from(organizationMembers)
    .where(eq(organizationMembers.userId, userId));
  return Object.fromEntries(rows.map((row) => [row.organizationId, row.role as OrganizationRole]));
}

export const usersByIds = (db: Db, ids: string[]) => db.select().from(users).where(inArray(users.id, ids));

export const organizationsByIds = (db: Database, ids: string[]) =>
  db.select().from(organizations).where(inArray(organizations.id, ids));

export async function organizationBySlug(db: Database, slug: string): Promise<OrganizationRow | undefined> {
  const [organization] = await db.select().from(organizations).where(eq(organizations.slug, slug));
  return organization;
}

// ---------------------------------------------------------------- members and invitations

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

export async function insertInvitation(db: Db, row: typeof organizationInvitations.$inferInsert) {
  const [invitation] = await db.insert(organizationInvitations).values(row).returning();
  return invitation!;
}

/** Open invitations of one address to one organization end when a new one is sent. */
export async function revokeOpenInvitations(tx: Transaction, organizationId: string, email: string) {
  await tx
    .update(organizationInvitations)
    .set({ revokedAt: new Date() })
    .where(
      and(
        eq(organizationInvitations.organizationId, organizationId),
        eq(organizationInvitations.email, email),
        isNull(organizationInvitations.acceptedAt),
        isNull(organizationInvitations.revokedAt),
      ),
    );
}

export async function lockInvitationByToken(
  tx: Transaction,
  hash: string,
): Promise<InvitationRow | undefined> {
  const [row] = await tx
    .select()
    .from(organizationInvitations)
    .where(eq(organizationInvitations.tokenHash, hash))
    .for('update');
  return row;
}

export async function invitationById(db: Db, id: string): Promise<InvitationRow | undefined> {
  const [row] = await db.select().from(organizationInvitations).where(eq(organizationInvitations.id, id));
  return row;
}

export async function markInvitation(
  tx: Transaction,
  id: string,
  values: { acceptedAt: Date; acceptedBy: string } | { revokedAt: Date },
): Promise<InvitationRow> {
  const [row] = await tx
    .update(organizationInvitations)
    .set(values)
    .where(eq(organizationInvitations.id, id))
    .returning();
  return row!;
}

/** Neither accepted nor revoked (expired ones included, so an admin sees them and invites again). */
export const openInvitationsOf = (db: Database, organizationId: string) =>
  db
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

// ---------------------------------------------------------------- API keys

export async function insertApiKey(db: Db, row: typeof apiKeys.$inferInsert): Promise<ApiKeyRow> {
  const [key] = await db.insert(apiKeys).values(row).returning();
  return key!;
}

export async function apiKeyById(db: Db, id: string): Promise<ApiKeyRow | undefined> {
  const [key] = await db.select().from(apiKeys).where(eq(apiKeys.id, id));
  return key;
}

export async function revokeApiKeyRow(db: Db, id: string): Promise<ApiKeyRow> {
  const [key] = await db
    .update(apiKeys)
    .set({ revokedAt: sql`coalesce(${apiKeys.revokedAt}, now())` })
    .where(eq(apiKeys.id, id))
    .returning();
  return key!;
}

/** A live key by the hash of its secret; a revoked one is as good as unknown. */
export async function activeApiKeyBySecretHash(db: Db, hash: string): Promise<ApiKeyRow | undefined> {
  const [key] = await db
    .select()
    .from(apiKeys)
    .where(and(eq(apiKeys.secretHash, hash), isNull(apiKeys.revokedAt)));
  return key;
}

/** At most one write per key and minute, however often the key is used. */
export async function touchApiKey(db: Db, id: string) {
  await db
    .update(apiKeys)
    .set({ lastUsedAt: new Date() })
    .where(
      and(
        eq(apiKeys.id, id),
        or(isNull(apiKeys.lastUsedAt), lt(apiKeys.lastUsedAt, sql`now() - interval '1 minute'`)),
      ),
    );
}

export const apiKeysOf = (db: Database, organizationId: string) =>
  db
    .select()
    .from(apiKeys)
    .where(eq(apiKeys.organizationId, organizationId))
    .orderBy(desc(apiKeys.createdAt));

// ---------------------------------------------------------------- email verification

export async function insertEmailVerification(db: Db, row: typeof emailVerifications.$inferInsert) {
  await db.insert(emailVerifications).values(row);
}

export async function lockEmailVerification(tx: Transaction, hash: string) {
  const [row] = await tx
    .select()
    .from(emailVerifications)
    .where(eq(emailVerifications.tokenHash, hash))
    .for('update');
  return row;
}

export async function markEmailVerificationUsed(tx: Transaction, hash: string) {
  await tx
    .update(emailVerifications)
    .set({ usedAt: new Date() })
    .where(eq(emailVerifications.tokenHash, hash));
}

export async function markEmailVerified(tx: Transaction, userId: string): Promise<UserRow> {
  const [user] = await tx
    .update(users)
    .set({ emailVerifiedAt: sql`coalesce(${users.emailVerifiedAt}, now())` })
    .where(eq(users.id, userId))
    .returning();
  return user!;
}

/** Moves the account to a proven new address (the unique index still has the last word). */
export async function changeEmailTo(tx: Transaction, userId: string, email: string): Promise<UserRow> {
  const [user] = await tx
    .update(users)
    .set({ email, emailVerifiedAt: new Date() })
    .where(eq(users.id, userId))
    .returning();
  return user!;
}

export async function spendEmailChanges(tx: Transaction, userId: string) {
  await tx
    .update(emailVerifications)
    .set({ usedAt: new Date() })
    .where(
      and(
        eq(emailVerifications.userId, userId),
        eq(emailVerifications.purpose, 'change'),
        isNull(emailVerifications.usedAt),
      ),
    );
}

export async function emailVerificationsSince(tx: Transaction, userId: string, since: Date): Promise<number> {
  const [row] = await tx
    .select({ n: count() })
    .from(emailVerifications)
    .where(and(eq(emailVerifications.userId, userId), gt(emailVerifications.createdAt, since)));
  return row!.n;
}

// ---------------------------------------------------------------- passwords

export async function insertPasswordReset(db: Db, row: typeof passwordResets.$inferInsert) {
  await db.insert(passwordResets).values(row);
}

export async function passwordResetByHash(db: Database, hash: string) {
  const [row] = await db.select().from(passwordResets).where(eq(passwordResets.tokenHash, hash));
  return row;
}

export async function lockPasswordReset(tx: Transaction, hash: string) {
  const [row] = await tx
    .select()
    .from(passwordResets)
    .where(eq(passwordResets.tokenHash, hash))
    .for('update');
  return row;
}

/** Spends every open reset token of the user: one reset ends them all. */
export async function spendPasswordResets(tx: Transaction, userId: string) {
  await tx
    .update(passwordResets)
    .set({ usedAt: new Date() })
    .where(and(eq(passwordResets.userId, userId), isNull(passwordResets.usedAt)));
}

export async function setPassword(
  db: Db,
  userId: string,
  passwordHash: string | null,
  options: { verifyEmail?: boolean } = {},
): Promise<UserRow> {
  const [user] = await db
    .update(users)
    .set({
      passwordHash,
      ...(options.verifyEmail ? { emailVerifiedAt: sql`coalesce(${users.emailVerifiedAt}, now())` } : {}),
    })
    .where(eq(users.id, userId))
    .returning();
  return user!;
}

// ---------------------------------------------------------------- sessions and refresh tokens

/** A new sign-in session with its first refresh token, in one statement (one round trip). */
export async function insertSessionWithRefreshToken(
  db: Db,
  session: { id: string; userId: string; ip: string | null; userAgent: string | null; expiresAt: Date },
  refreshTokenHash: string,
) {
  const expiresAt = session.expiresAt.toISOString();
  await db.execute(sql`
    with session as (
      insert into ${sessions} (id, user_id, ip, user_agent, expires_at)
      values (${session.id}, ${session.userId}, ${session.ip}, ${session.userAgent}, ${expiresAt}::timestamptz)
    )
    insert into ${refreshTokens} (token_hash, session_id, expires_at)
    values (${refreshTokenHash}, ${session.id}, ${expiresAt}::timestamptz)`);
}

export async function insertRefreshToken(db: Db, row: typeof refreshTokens.$inferInsert) {
  await db.insert(refreshTokens).values(row);
}

/** A refresh token with its session, both locked: concurrent uses of one token run one after another. */
export async function lockRefreshToken(tx: Transaction, hash: string) {
  const [row] = await tx
    .select({ token: refreshTokens, session: sessions })
    .from(refreshTokens)
    .innerJoin(sessions, eq(sessions.id, refreshTokens.sessionId))
    .where(eq(refreshTokens.tokenHash, hash))
    .for('update');
  return row;
}

export async function markRefreshTokenUsed(tx: Transaction, hash: string) {
  await tx.update(refreshTokens).set({ usedAt: new Date() }).where(eq(refreshTokens.tokenHash, hash));
}

export async function touchSession(
  tx: Transaction,
  id: string,
  values: { ip: string; userAgent: string | null; expiresAt: Date },
) {
  await tx
    .update(sessions)
    .set({ ...values, lastUsedAt: new Date() })
    .where(eq(sessions.id, id));
}

/** Revokes the given live sessions (all of the user's when `id` is absent, but `keep`); returns the ones revoked. */
export function revokeSessions(
  db: Db,
  where: { userId: string; id?: string; keep?: string },
  reason: string,
) {
  return db
    .update(sessions)
    .set({ revokedAt: new Date(), revokedReason: reason })
    .where(
      and(
        eq(sessions.userId, where.userId),
        where.id ? eq(sessions.id, where.id) : undefined,
        where.keep ? ne(sessions.id, where.keep) : undefined,
        isNull(sessions.revokedAt),
      ),
    )
    .returning();
}

export async function sessionOfRefreshToken(db: Db, hash: string): Promise<SessionRow | undefined> {
  const [row] = await db
    .select({ session: sessions })
    .from(refreshTokens)
    .innerJoin(sessions, eq(sessions.id, refreshTokens.sessionId))
    .where(eq(refreshTokens.tokenHash, hash));
  return row?.session;
}

export const activeSessionsOf = (db: Database, userId: string) =>
  db
    .select()
    .from(sessions)
    .where(and(eq(sessions.userId, userId), isNull(sessions.revokedAt), gt(sessions.expiresAt, new Date())))
    .orderBy(desc(sessions.lastUsedAt));
