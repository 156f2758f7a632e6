import type { Database, PersonKeys, Transaction } from '@bilten/platform';
import { and, asc, desc, eq, gt, inArray, isNotNull, isNull, lt, ne, or, sql } from 'drizzle-orm';
import { accountErasureRequested } from '../events.ts';
import { openConsentChange, openSession } from './client-data.ts';
import { consentsOf } from './consents.ts';
import {
  accessLog,
  apiKeys,
  consentHistory,
  organizationInvitations,
  organizationMembers,
  organizations,
  outbox,
  type PRIVACY_REQUEST_KINDS,
  type PRIVACY_REQUEST_STATUSES,
  privacyRequestSteps,
  privacyRequests,
  type SessionRow,
  securityEvents,
  sessions,
  users,
} from './schema.ts';
import { openUser } from './users.ts';

type Db = Database | Transaction;
export type PrivacyRequestRow = typeof privacyRequests.$inferSelect;
export type PrivacyRequestStepRow = typeof privacyRequestSteps.$inferSelect;
export type PrivacyRequestKind = (typeof PRIVACY_REQUEST_KINDS)[number];
export type PrivacyRequestStatus = (typeof PRIVACY_REQUEST_STATUSES)[number];

/** A new request with one pending step per service, in the caller's transaction. */
export async function insertPrivacyRequest(
  tx: Transaction,
  row: typeof privacyRequests.$inferInsert,
  services: readonly string[],
): Promise<PrivacyRequestRow> {
  const [request] = await tx.insert(privacyRequests).values(row).returning();
  await tx.insert(privacyRequestSteps).values(services.map((service) => ({ requestId: row.id, service })));
  return request!;
}

/**
 * The user's requests of `kind` since `since` (for the rate limit) and the one in progress, if
 * any, under a per-user lock held until the transaction ends: two concurrent asks see each other.
 */
export async function lockUsersRequests(
  tx: Transaction,
  userId: string,
  kind: PrivacyRequestKind,
  since: Date,
) {
  await tx.execute(sql`select pg_advisory_xact_lock(hashtextextended(${`privacy:${userId}`}, 0))`);
  return tx
    .select()
    .from(privacyRequests)
    .where(
      and(
        eq(privacyRequests.userId, userId),
        eq(privacyRequests.kind, kind),
        or(gt(privacyRequests.requestedAt, since), eq(privacyRequests.status, 'IN_PROGRESS')),
      ),
    );
}

/** The request and its steps, the request locked: its steps are recorded one answer at a time. */
export async function lockPrivacyRequest(tx: Transaction, id: string) {
  const [request] = await tx.select().from(privacyRequests).where(eq(privacyRequests.id, id)).for('update');
  if (!request) return undefined;
  return { request, steps: await stepsOf(tx, [id]) };
}

export async function privacyRequestById(db: Db, id: string): Promise<PrivacyRequestRow | undefined> {
  const [request] = await db.select().from(privacyRequests).where(eq(privacyRequests.id, id));
  return request;
}

export const stepsOf = (db: Db, requestIds: readonly string[]) =>
  db
    .select()
    .from(privacyRequestSteps)
    .where(inArray(privacyRequestSteps.requestId, [...requestIds]))
    .orderBy(asc(privacyRequestSteps.service));

export async function completeStep(
  tx: Transaction,
  requestId: string,
  service: string,
  result: { sealedPart?: string; summary?: Record<string, number> },
) {
  await tx
    .update(privacyRequestSteps)
    .set({ ...result, completedAt: new Date() })
    .where(and(eq(privacyRequestSteps.requestId, requestId), eq(privacyRequestSteps.service, service)));
}

export async function updatePrivacyRequest(
  tx: Transaction,
  id: string,
  values: Partial<typeof privacyRequests.$inferInsert>,
): Promise<PrivacyRequestRow> {
  const [request] = await tx
    .update(privacyRequests)
    .set(values)
    .where(eq(privacyRequests.id, id))
    .returning();
  return request!;
}

/** The sealed parts are of no use once the archive is assembled (and unreadable once the key is gone). */
export async function dropSealedParts(tx: Transaction, requestId: string) {
  await tx
    .update(privacyRequestSteps)
    .set({ sealedPart: null })
    .where(eq(privacyRequestSteps.requestId, requestId));
}

/** Newest first, keyset on the UUIDv7 id. */
export function privacyRequestPage(
  db: Db,
  filter: { userId?: string; status?: PrivacyRequestStatus },
  beforeId: string | undefined,
  limit: number,
) {
  return db
    .select()
    .from(privacyRequests)
    .where(
      and(
        filter.userId ? eq(privacyRequests.userId, filter.userId) : undefined,
        filter.status ? eq(privacyRequests.status, filter.status) : undefined,
        beforeId ? lt(privacyRequests.id, beforeId) : undefined,
      ),
    )
    .orderBy(desc(privacyRequests.id))
    .limit(limit);
}

/** Requests still in progress since before `before`: their request is published again. */
export const stalledRequests = (db: Db, before: Date) =>
  db
    .select()
    .from(privacyRequests)
    .where(and(eq(privacyRequests.status, 'IN_PROGRESS'), lt(privacyRequests.requestedAt, before)))
    .orderBy(asc(privacyRequests.id))
    .limit(100);

/** Archives not downloaded in time are deleted: the request is EXPIRED. */
export async function expireArchives(db: Db, now: Date) {
  return db
    .update(privacyRequests)
    .set({ status: 'EXPIRED', archiveSealed: null, downloadTokenHash: null })
    .where(and(eq(privacyRequests.status, 'COMPLETED'), lt(privacyRequests.downloadExpiresAt, now)))
    .returning({ id: privacyRequests.id });
}

/** The user's account without its password hash. */
export async function accountOf(db: Db, keys: PersonKeys, userId: string) {
  const [user] = await db.select().from(users).where(eq(users.id, userId));
  return user && openUser(db, keys, user);
}

/** A session as the export shows it: client data opened, without the user's own id. */
async function exportedSession(tx: Transaction, keys: PersonKeys, row: SessionRow) {
  const { userId: _user, ...session } = await openSession(tx, keys, row);
  return session;
}

/** Everything identity holds about the user, client data opened, secrets (hashes, tokens) left out. */
export async function identityRecordsOf(tx: Transaction, keys: PersonKeys, userId: string) {
  const [memberships, userSessions, apiKeysCreated, currentConsents, history, accesses, events, requests] =
    await Promise.all([
      tx
        .select({
          organizationId: organizations.id,
          organizationName: organizations.name,
          role: organizationMembers.role,
          joinedAt: organizationMembers.createdAt,
        })
        .from(organizationMembers)
        .innerJoin(organizations, eq(organizations.id, organizationMembers.organizationId))
        .where(eq(organizationMembers.userId, userId))
        .orderBy(asc(organizationMembers.createdAt)),
      tx
        .select()
        .from(sessions)
        .where(eq(sessions.userId, userId))
        .orderBy(asc(sessions.createdAt))
        .then((rows) => Promise.all(rows.map((row) => exportedSession(tx, keys, row)))),
      tx
        .select({
          id: apiKeys.id,
          organizationId: apiKeys.organizationId,
          name: apiKeys.name,
          prefix: apiKeys.prefix,
          scopes: apiKeys.scopes,
          mode: apiKeys.mode,
          createdAt: apiKeys.createdAt,
          lastUsedAt: apiKeys.lastUsedAt,
          revokedAt: apiKeys.revokedAt,
        })
        .from(apiKeys)
        .where(eq(apiKeys.createdBy, userId))
        .orderBy(asc(apiKeys.createdAt)),
      consentsOf(tx, keys, userId),
      tx
        .select()
        .from(consentHistory)
        .where(eq(consentHistory.userId, userId))
        .orderBy(asc(consentHistory.occurredAt))
        .then((rows) => Promise.all(rows.map((row) => openConsentChange(tx, keys, row)))),
      // Who read their data, as myDataAccessLog shows it: without the reading person's id.
      tx
        .select({
          occurredAt: accessLog.occurredAt,
          actorKind: accessLog.actorKind,
          organizationId: accessLog.organizationId,
          purpose: accessLog.purpose,
          fields: accessLog.fields,
          resource: accessLog.resource,
          service: accessLog.service,
        })
        .from(accessLog)
        .where(eq(accessLog.subjectUserId, userId))
        .orderBy(asc(accessLog.seq)),
      tx
        .select()
        .from(securityEvents)
        .where(eq(securityEvents.actorId, userId))
        .orderBy(asc(securityEvents.occurredAt)),
      tx
        .select({
          id: privacyRequests.id,
          kind: privacyRequests.kind,
          status: privacyRequests.status,
          requestedAt: privacyRequests.requestedAt,
          completedAt: privacyRequests.completedAt,
        })
        .from(privacyRequests)
        .where(eq(privacyRequests.userId, userId))
        .orderBy(asc(privacyRequests.id)),
    ]);
  return {
    memberships,
    sessions: userSessions,
    apiKeysCreated,
    consents: currentConsents,
    consentHistory: history,
    accessLog: accesses,
    securityEvents: events,
    privacyRequests: requests,
  };
}

/**
 * Organizations not closed (sandboxes aside: they close with theirs) whose only OWNER is the
 * user, locked: an erasure must not leave an organization nobody can run.
 */
export async function organizationsSolelyOwnedBy(tx: Transaction, userId: string) {
  const owners = sql<number>`(select count(*) from ${organizationMembers} as owner
    where owner.organization_id = ${organizations.id} and owner.role = 'OWNER')`;
  return tx
    .select({ id: organizations.id, name: organizations.name })
    .from(organizations)
    .innerJoin(organizationMembers, eq(organizationMembers.organizationId, organizations.id))
    .where(
      and(
        eq(organizationMembers.userId, userId),
        eq(organizationMembers.role, 'OWNER'),
        ne(organizations.status, 'CLOSED'),
        isNull(organizations.sandboxOf),
        sql`${owners} = 1`,
      ),
    )
    .orderBy(asc(organizations.name))
    .for('update');
}

/**
 * Identity's own erasure, the saga's last step: what references the user goes with the account
 * (sessions, memberships, consents, verifications: ON DELETE CASCADE; invitations they sent and
 * API keys they created stay with their organization, `invited_by`/`created_by` set null), and
 * what names them without a reference is removed or anonymized here. The access log stays
 * (append-only, ids only). Answers the rows per table.
 */
export async function eraseIdentityRecords(
  tx: Transaction,
  keys: PersonKeys,
  user: { id: string; email: string },
) {
  const invitations = await tx
    .delete(organizationInvitations)
    .where(inArray(organizationInvitations.emailIndex, keys.indexes(user.email, 'email')))
    .returning({ id: organizationInvitations.id });
  const events = await tx
    .update(securityEvents)
    .set({ actorId: null, ip: null })
    .where(eq(securityEvents.actorId, user.id))
    .returning({ id: securityEvents.id });
  // Events naming the address (a failed sign-in under it) keep their type and time only.
  const naming = await tx
    .update(securityEvents)
    .set({ target: null, details: {} })
    .where(
      or(
        sql`${securityEvents.target} ilike ${containing(user.email)}`,
        sql`${securityEvents.details}::text ilike ${containing(user.email)}`,
      ),
    )
    .returning({ id: securityEvents.id });
  // Earlier exports: their archives and keys go (one still running can no longer finish); the
  // requests' records stay.
  const exports = await tx
    .update(privacyRequests)
    .set({
      privateKeySealed: null,
      archiveSealed: null,
      downloadTokenHash: null,
      status: sql`case when ${privacyRequests.status} = 'IN_PROGRESS' then 'EXPIRED'::identity.privacy_request_status else ${privacyRequests.status} end`,
    })
    .where(
      and(
        eq(privacyRequests.userId, user.id),
        or(isNotNull(privacyRequests.archiveSealed), isNotNull(privacyRequests.privateKeySealed)),
      ),
    )
    .returning({ id: privacyRequests.id });
  await tx
    .update(privacyRequestSteps)
    .set({ sealedPart: null })
    .where(
      inArray(
        privacyRequestSteps.requestId,
        tx
          .select({ id: privacyRequests.id })
          .from(privacyRequests)
          .where(eq(privacyRequests.userId, user.id)),
      ),
    );
  const account = await tx.delete(users).where(eq(users.id, user.id)).returning({ id: users.id });
  return {
    'users.deleted': account.length,
    'organization_invitations.deleted': invitations.length,
    'security_events.anonymized': events.length + naming.length,
    'privacy_requests.archives_deleted': exports.length,
  };
}

/**
 * The relayed erasure requests of completed erasures (asked again by the sweep, some may have been
 * relayed after the account was erased): they carry the address.
 */
export async function purgeAnsweredErasureRequests(tx: Transaction) {
  const purged = await tx
    .delete(outbox)
    .where(
      and(
        isNotNull(outbox.sentAt),
        eq(outbox.type, accountErasureRequested.type),
        sql`(${outbox.payload}->>'requestId')::uuid in (select id from ${privacyRequests}
          where kind = 'ERASURE' and status = 'COMPLETED')`,
      ),
    )
    .returning({ id: outbox.id });
  return purged.length;
}

/** A LIKE pattern matching `text` anywhere, its wildcards taken literally. */
const containing = (text: string) => `%${text.replace(/[\\%_]/g, '\\$&')}%`;
