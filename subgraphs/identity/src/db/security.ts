import type { Database, PersonKeys, Transaction } from '@bilten/platform';
import { and, desc, eq, gt, gte, inArray, isNotNull, like, lt, lte, type SQL, sql } from 'drizzle-orm';
import {
  accessLog,
  apiKeys,
  type SecurityAlertRow,
  type SecurityEventRow,
  securityAlerts,
  securityEvents,
  users,
} from './schema.ts';
import { openUsers } from './users.ts';

type Db = Database | Transaction;

/** Deletes up to `limit` security events older than `before` (retention); answers how many went. */
export async function deleteSecurityEventsBefore(db: Database, before: Date, limit: number): Promise<number> {
  const old = db
    .select({ id: securityEvents.id })
    .from(securityEvents)
    .where(lt(securityEvents.occurredAt, before))
    .limit(limit);
  const deleted = await db
    .delete(securityEvents)
    .where(inArray(securityEvents.id, old))
    .returning({ id: securityEvents.id });
  return deleted.length;
}

export async function insertSecurityEvents(tx: Transaction, rows: SecurityEventRow[]): Promise<void> {
  if (rows.length) await tx.insert(securityEvents).values(rows);
}

/** Failed sign-ins from `ip` in (from, to], and how many distinct accounts (`details.account`) they tried. */
export async function failedLoginsFrom(tx: Transaction, ip: string, from: Date, to: Date) {
  const [row] = await tx
    .select({
      failures: sql<number>`count(*)::int`,
      accounts: sql<number>`count(distinct ${securityEvents.details}->>'account')::int`,
      since: sql<string>`min(${securityEvents.occurredAt})::text`,
    })
    .from(securityEvents)
    .where(
      and(
        eq(securityEvents.type, 'login_failed'),
        eq(securityEvents.ip, ip),
        gt(securityEvents.occurredAt, from),
        lte(securityEvents.occurredAt, to),
      ),
    );
  return { failures: row?.failures ?? 0, accounts: row?.accounts ?? 0 };
}

/** The existing accounts those failures named (identity's own events carry `details.userId`). */
export async function accountsTriedFrom(
  tx: Transaction,
  ip: string,
  from: Date,
  to: Date,
): Promise<string[]> {
  const rows = (await tx.execute(sql`
    select distinct details->>'userId' as "userId" from ${securityEvents}
    where type = 'login_failed' and ip = ${ip} and occurred_at > ${from.toISOString()}::timestamptz and occurred_at <= ${to.toISOString()}::timestamptz
      and details->>'userId' is not null
    limit 200`)) as unknown as Array<{ userId: string }>;
  return rows.map((row) => row.userId);
}

/** Events of `type` by `actorId` in (from, to]. */
export async function eventsByActor(tx: Transaction, type: string, actorId: string, from: Date, to: Date) {
  const [row] = await tx
    .select({ count: sql<number>`count(*)::int` })
    .from(securityEvents)
    .where(
      and(
        eq(securityEvents.type, type),
        eq(securityEvents.actorId, actorId),
        gt(securityEvents.occurredAt, from),
        lte(securityEvents.occurredAt, to),
      ),
    );
  return row?.count ?? 0;
}

/** Reads of others' personal data by platform admin `actorId` in (from, to], from the access log. */
export async function adminReadsBy(tx: Transaction, actorId: string, from: Date, to: Date) {
  const [row] = await tx
    .select({ count: sql<number>`count(*)::int` })
    .from(accessLog)
    .where(
      and(
        eq(accessLog.actorKind, 'admin'),
        eq(accessLog.actorId, actorId),
        gt(accessLog.occurredAt, from),
        lte(accessLog.occurredAt, to),
      ),
    );
  return row?.count ?? 0;
}

/** Whether `rule` already alerted about `subject` since `since` (one alert per burst). */
export async function alertedSince(tx: Transaction, keyPrefix: string, since: Date): Promise<boolean> {
  const [row] = await tx
    .select({ id: securityAlerts.id })
    .from(securityAlerts)
    .where(
      and(like(securityAlerts.dedupeKey, `${escapeLike(keyPrefix)}%`), gte(securityAlerts.raisedAt, since)),
    )
    .limit(1);
  return Boolean(row);
}

const escapeLike = (value: string) => value.replace(/[\\%_]/g, (c) => `\\${c}`);

/** Inserts the alert unless its dedupe key exists; answers it when inserted. */
export async function insertAlert(
  tx: Transaction,
  row: typeof securityAlerts.$inferInsert,
): Promise<SecurityAlertRow | undefined> {
  const [alert] = await tx.insert(securityAlerts).values(row).onConflictDoNothing().returning();
  return alert;
}

/** Platform administrators: who security alerts go to. */
export async function platformAdmins(db: Db, keys: PersonKeys) {
  const admins = await db
    .select()
    .from(users)
    .where(sql`'ADMIN' = any(${users.roles})`)
    .orderBy(users.id)
    .limit(200);
  return (await openUsers(db, keys, admins)).map(({ id, email, displayName }) => ({
    userId: id,
    email,
    displayName,
  }));
}

/** A key that is no longer usable (revoked), by its secret's hash: a presented one is misuse. */
export async function revokedApiKeyBySecretHash(db: Db, hash: string) {
  const [key] = await db
    .select({ id: apiKeys.id, organizationId: apiKeys.organizationId, revokedAt: apiKeys.revokedAt })
    .from(apiKeys)
    .where(and(eq(apiKeys.secretHash, hash), isNotNull(apiKeys.revokedAt)));
  return key;
}

export interface SecurityEventFilter {
  type?: string;
  service?: string;
  actorId?: string;
  ip?: string;
  from?: Date;
  to?: Date;
}

/** Newest first, keyset on the UUIDv7 id. */
export function securityEventsPage(
  db: Db,
  filter: SecurityEventFilter,
  beforeId: string | undefined,
  limit: number,
) {
  const conditions: Array<SQL | undefined> = [
    filter.type ? eq(securityEvents.type, filter.type) : undefined,
    filter.service ? eq(securityEvents.service, filter.service) : undefined,
    filter.actorId ? eq(securityEvents.actorId, filter.actorId) : undefined,
    filter.ip ? eq(securityEvents.ip, filter.ip) : undefined,
    filter.from ? gte(securityEvents.occurredAt, filter.from) : undefined,
    filter.to ? lte(securityEvents.occurredAt, filter.to) : undefined,
    beforeId ? lt(securityEvents.id, beforeId) : undefined,
  ];
  return db
    .select()
    .from(securityEvents)
    .where(and(...conditions))
    .orderBy(desc(securityEvents.id))
    .limit(limit);
}

/** Newest first, keyset on the UUIDv7 id. */
export function securityAlertsPage(db: Db, beforeId: string | undefined, limit: number) {
  return db
    .select()
    .from(securityAlerts)
    .where(beforeId ? lt(securityAlerts.id, beforeId) : undefined)
    .orderBy(desc(securityAlerts.id))
    .limit(limit);
}

export const alertsByIds = (db: Db, ids: string[]) =>
  db.select().from(securityAlerts).where(inArray(securityAlerts.id, ids));

/** Serializes alerting about one rule and subject (any replica) until `tx` ends. */
export async function lockAlertSubject(tx: Transaction, key: string): Promise<void> {
  await tx.execute(sql`select pg_advisory_xact_lock(hashtext(${key}))`);
}
