import {
  createOutbox,
  type Database,
  type OrganizationRole,
  type PersonKeys,
  type Transaction,
} from '@bilten/platform';
import { and, desc, eq, gt, isNull, ne, sql } from 'drizzle-orm';
import { sessionsRevoked } from '../events.ts';
import { sealSessionClient } from './client-data.ts';
import { membershipReach } from './organizations.ts';
import {
  eventStore,
  organizationMembers,
  organizations,
  refreshTokens,
  type SessionRow,
  sessions,
  users,
} from './schema.ts';

type Db = Database | Transaction;

const outbox = createOutbox(eventStore, 'identity');

/** A new sign-in session with its first refresh token, in one statement (one round trip). */
export async function insertSessionWithRefreshToken(
  db: Db,
  keys: PersonKeys,
  session: { id: string; userId: string; ip: string | null; userAgent: string | null; expiresAt: Date },
  refreshTokenHash: string,
) {
  const expiresAt = session.expiresAt.toISOString();
  // No transaction needed to seal: the user's key exists (their account is sealed under it) and
  // was just unwrapped to sign them in, so sealing reads nothing and sign-in stays one statement.
  const client = await sealSessionClient(db as Transaction, keys, session);
  await db.execute(sql`
    with session as (
      insert into ${sessions} (id, user_id, ip_sealed, user_agent_sealed, expires_at)
      values (${session.id}, ${session.userId}, ${client.ipSealed}, ${client.userAgentSealed}, ${expiresAt}::timestamptz)
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
  keys: PersonKeys,
  session: { id: string; userId: string },
  values: { ip: string; userAgent: string | null; expiresAt: Date },
) {
  const client = await sealSessionClient(tx, keys, { ...session, ...values });
  await tx
    .update(sessions)
    .set({ ...client, expiresAt: values.expiresAt, lastUsedAt: new Date() })
    .where(eq(sessions.id, session.id));
}

/**
 * Revokes the given live sessions (all of the user's when `id` is absent, but `keep`); returns the
 * ones revoked. Every way a session ends comes through here (sign-out, password change and reset,
 * a reused refresh token, a promotion to admin), so the event that makes every service refuse its
 * access tokens at once is written here, in the same transaction, and no caller can forget it.
 */
export function revokeSessions(
  db: Db,
  where: { userId: string; id?: string; keep?: string },
  reason: string,
): Promise<SessionRow[]> {
  return db.transaction(async (tx) => {
    const revoked = await tx
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
    if (revoked.length > 0) {
      await outbox.publish(tx, sessionsRevoked, where.userId, {
        userId: where.userId,
        sessionIds: revoked.map((session) => session.id),
        reason,
      });
    }
    return revoked;
  });
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

/**
 * What a live session's access token says now, in one statement (the gateway asks for it on
 * every user's request, at most once a second): the user's platform roles, email status and
 * memberships (sandboxes included); undefined when the session is revoked, over, or not the
 * user's.
 */
export async function liveSessionClaims(db: Db, sessionId: string, userId: string) {
  const [row] = await db
    .select({
      roles: users.roles,
      emailVerified: sql<boolean>`${users.emailVerifiedAt} is not null`,
      orgs: sql<
        Record<string, OrganizationRole>
      >`coalesce((select jsonb_object_agg(${organizations.id}, ${organizationMembers.role})
        from ${organizationMembers} join ${organizations} on ${membershipReach}
        where ${organizationMembers.userId} = ${users.id}), '{}'::jsonb)`,
    })
    .from(sessions)
    .innerJoin(users, eq(users.id, sessions.userId))
    .where(
      and(
        eq(sessions.id, sessionId),
        eq(sessions.userId, userId),
        isNull(sessions.revokedAt),
        gt(sessions.expiresAt, new Date()),
      ),
    );
  return row;
}
