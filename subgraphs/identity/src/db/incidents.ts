import type { Database, Transaction } from '@bilten/platform';
import { and, asc, desc, eq, gt, inArray, isNull, lt, sql } from 'drizzle-orm';
import {
  apiKeys,
  type IncidentRow,
  incidentAffectedUsers,
  incidents,
  incidentTimeline,
  organizations,
  securityAlerts,
  users,
} from './schema.ts';

type Db = Database | Transaction;

export type IncidentTimelineRow = typeof incidentTimeline.$inferSelect;
export type IncidentAffectedUserRow = typeof incidentAffectedUsers.$inferSelect;
export type IncidentStatus = IncidentRow['status'];

export async function insertIncident(
  tx: Transaction,
  row: typeof incidents.$inferInsert,
): Promise<IncidentRow> {
  const [incident] = await tx.insert(incidents).values(row).returning();
  return incident!;
}

export async function incidentById(db: Db, id: string): Promise<IncidentRow | undefined> {
  const [incident] = await db.select().from(incidents).where(eq(incidents.id, id));
  return incident;
}

/** The incident, locked for the rest of `tx`: changes to one incident run one after another. */
export async function lockIncident(tx: Transaction, id: string): Promise<IncidentRow | undefined> {
  const [incident] = await tx.select().from(incidents).where(eq(incidents.id, id)).for('update');
  return incident;
}

export async function updateIncidentRow(
  tx: Transaction,
  id: string,
  values: Partial<Omit<typeof incidents.$inferInsert, 'id'>>,
): Promise<IncidentRow> {
  const [incident] = await tx
    .update(incidents)
    .set({ ...values, updatedAt: new Date() })
    .where(eq(incidents.id, id))
    .returning();
  return incident!;
}

export async function insertTimelineEntry(
  tx: Transaction,
  row: typeof incidentTimeline.$inferInsert,
): Promise<void> {
  await tx.insert(incidentTimeline).values(row);
}

/** Oldest first; ids are UUIDv7, so entries of one millisecond keep their order. */
export const timelineOf = (db: Db, incidentId: string): Promise<IncidentTimelineRow[]> =>
  db
    .select()
    .from(incidentTimeline)
    .where(eq(incidentTimeline.incidentId, incidentId))
    .orderBy(asc(incidentTimeline.occurredAt), asc(incidentTimeline.id));

/** Adds the users not listed yet; answers the ids added. */
export async function insertAffectedUsers(
  tx: Transaction,
  incidentId: string,
  userIds: string[],
  addedAt: Date,
): Promise<string[]> {
  if (!userIds.length) return [];
  const added = await tx
    .insert(incidentAffectedUsers)
    .values(userIds.map((userId) => ({ incidentId, userId, addedAt })))
    .onConflictDoNothing()
    .returning({ userId: incidentAffectedUsers.userId });
  return added.map((row) => row.userId);
}

export async function affectedUserIdsOf(db: Db, incidentId: string): Promise<string[]> {
  const rows = await db
    .select({ userId: incidentAffectedUsers.userId })
    .from(incidentAffectedUsers)
    .where(eq(incidentAffectedUsers.incidentId, incidentId));
  return rows.map((row) => row.userId);
}

export async function affectedUserCountOf(db: Db, incidentId: string): Promise<number> {
  const [row] = await db
    .select({ count: sql<number>`count(*)::int` })
    .from(incidentAffectedUsers)
    .where(eq(incidentAffectedUsers.incidentId, incidentId));
  return row?.count ?? 0;
}

/** Keyset on user id: `limit` affected users after `afterUserId`. */
export const affectedUsersPage = (
  db: Db,
  incidentId: string,
  afterUserId: string | undefined,
  limit: number,
) =>
  db
    .select()
    .from(incidentAffectedUsers)
    .where(
      and(
        eq(incidentAffectedUsers.incidentId, incidentId),
        afterUserId ? gt(incidentAffectedUsers.userId, afterUserId) : undefined,
      ),
    )
    .orderBy(asc(incidentAffectedUsers.userId))
    .limit(limit);

/** Which of `ids` are accounts that exist. */
export async function existingUserIds(db: Db, ids: string[]): Promise<Set<string>> {
  if (!ids.length) return new Set();
  const rows = await db.select({ id: users.id }).from(users).where(inArray(users.id, ids));
  return new Set(rows.map((row) => row.id));
}

/**
 * The next `limit` affected users not yet told who still have an account (an erased one has
 * nobody left to tell), in user-id order.
 */
export async function unnotifiedAffectedUserIds(tx: Transaction, incidentId: string, limit: number) {
  const rows = await tx
    .select({ userId: incidentAffectedUsers.userId })
    .from(incidentAffectedUsers)
    .innerJoin(users, eq(users.id, incidentAffectedUsers.userId))
    .where(and(eq(incidentAffectedUsers.incidentId, incidentId), isNull(incidentAffectedUsers.notifiedAt)))
    .orderBy(asc(incidentAffectedUsers.userId))
    .limit(limit);
  return rows.map((row) => row.userId);
}

export async function markAffectedUsersNotified(
  tx: Transaction,
  incidentId: string,
  userIds: string[],
  at: Date,
): Promise<void> {
  if (!userIds.length) return;
  await tx
    .update(incidentAffectedUsers)
    .set({ notifiedAt: at })
    .where(
      and(eq(incidentAffectedUsers.incidentId, incidentId), inArray(incidentAffectedUsers.userId, userIds)),
    );
}

export async function linkAlertToIncident(
  tx: Transaction,
  alertId: string,
  incidentId: string,
): Promise<void> {
  await tx.update(securityAlerts).set({ incidentId }).where(eq(securityAlerts.id, alertId));
}

/** Newest first, keyset on id (UUIDv7: creation order). */
export const incidentsPage = (
  db: Db,
  filter: { status?: IncidentStatus; personalDataBreach?: boolean },
  beforeId: string | undefined,
  limit: number,
): Promise<IncidentRow[]> =>
  db
    .select()
    .from(incidents)
    .where(
      and(
        filter.status ? eq(incidents.status, filter.status) : undefined,
        filter.personalDataBreach !== undefined
          ? eq(incidents.personalDataBreach, filter.personalDataBreach)
          : undefined,
        beforeId ? lt(incidents.id, beforeId) : undefined,
      ),
    )
    .orderBy(desc(incidents.id))
    .limit(limit);

/**
 * Personal-data breaches the regulator has not heard of yet: past their deadline, and due within
 * `soonMs` (not yet past). What the deadline gauges show.
 */
export async function regulatorDeadlineCounts(db: Db, now: Date, soonMs: number) {
  const soon = new Date(now.getTime() + soonMs);
  const [row] = await db
    .select({
      overdue: sql<number>`count(*) filter (where ${incidents.regulatorDeadlineAt} <= ${now.toISOString()}::timestamptz)::int`,
      dueSoon: sql<number>`count(*) filter (where ${incidents.regulatorDeadlineAt} > ${now.toISOString()}::timestamptz
        and ${incidents.regulatorDeadlineAt} <= ${soon.toISOString()}::timestamptz)::int`,
    })
    .from(incidents)
    .where(and(eq(incidents.personalDataBreach, true), isNull(incidents.regulatorNotifiedAt)));
  return { overdue: row?.overdue ?? 0, dueSoon: row?.dueSoon ?? 0 };
}

/** Which of `ids` are organizations that exist. */
export async function existingOrganizationIds(db: Db, ids: string[]): Promise<Set<string>> {
  if (!ids.length) return new Set();
  const rows = await db
    .select({ id: organizations.id })
    .from(organizations)
    .where(inArray(organizations.id, ids));
  return new Set(rows.map((row) => row.id));
}

/** Revokes every live API key of `organizationIds`; answers the keys revoked (id, organization). */
export async function revokeApiKeysOf(tx: Transaction, organizationIds: string[]) {
  if (!organizationIds.length) return [];
  return tx
    .update(apiKeys)
    .set({ revokedAt: new Date() })
    .where(and(inArray(apiKeys.organizationId, organizationIds), isNull(apiKeys.revokedAt)))
    .returning({ id: apiKeys.id, organizationId: apiKeys.organizationId });
}
