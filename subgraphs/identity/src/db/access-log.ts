import type { Database, Transaction } from '@bilten/platform';
import { and, desc, eq, gte, lt, lte, type SQL, sql } from 'drizzle-orm';
import { auditChainAnchored } from '../events.ts';
import { type AccessLogRow, accessLog, outbox } from './schema.ts';

type Db = Database | Transaction;

/** The advisory lock that serializes writers of the chain (and the anchor job), any replica. */
const ACCESS_LOG_LOCK = 1_811_180_001;

export type ChainHead = Pick<AccessLogRow, 'seq' | 'rowHash'>;

/**
 * Takes the chain's writer lock for the rest of `tx` and answers its head (undefined while it is
 * empty): the next row goes after it, and nobody else appends until `tx` ends.
 */
export async function lockChainHead(tx: Transaction): Promise<ChainHead | undefined> {
  await tx.execute(sql`select pg_advisory_xact_lock(${ACCESS_LOG_LOCK})`);
  return chainHead(tx);
}

export async function chainHead(db: Db): Promise<ChainHead | undefined> {
  const [head] = await db
    .select({ seq: accessLog.seq, rowHash: accessLog.rowHash })
    .from(accessLog)
    .orderBy(desc(accessLog.seq))
    .limit(1);
  return head;
}

export async function insertAccessLogRow(tx: Transaction, row: AccessLogRow): Promise<void> {
  await tx.insert(accessLog).values(row);
}

export interface AccessLogFilter {
  subjectUserId?: string;
  actorId?: string;
  organizationId?: string;
  from?: Date;
  to?: Date;
}

/** Newest first, keyset on `seq`: `limit` rows before `beforeSeq` that match `filter`. */
export async function accessLogPage(
  db: Db,
  filter: AccessLogFilter,
  beforeSeq: number | undefined,
  limit: number,
): Promise<AccessLogRow[]> {
  const conditions: Array<SQL | undefined> = [
    filter.subjectUserId ? eq(accessLog.subjectUserId, filter.subjectUserId) : undefined,
    filter.actorId ? eq(accessLog.actorId, filter.actorId) : undefined,
    filter.organizationId ? eq(accessLog.organizationId, filter.organizationId) : undefined,
    filter.from ? gte(accessLog.occurredAt, filter.from) : undefined,
    filter.to ? lte(accessLog.occurredAt, filter.to) : undefined,
    beforeSeq !== undefined ? lt(accessLog.seq, beforeSeq) : undefined,
  ];
  return db
    .select()
    .from(accessLog)
    .where(and(...conditions))
    .orderBy(desc(accessLog.seq))
    .limit(limit);
}

/** The aggregate every anchor is published under, so they are numbered one after another. */
export const ANCHOR_AGGREGATE = 'head';

/** The `seq` of the last head identity anchored (its outbox keeps every anchor it published). */
export async function lastAnchoredSeq(tx: Transaction): Promise<number | undefined> {
  const [row] = (await tx.execute(sql`
    select (payload->>'seq')::bigint as seq from ${outbox}
    where aggregate_type = ${auditChainAnchored.aggregateType} and aggregate_id = ${ANCHOR_AGGREGATE}
    order by sequence desc limit 1`)) as unknown as Array<{ seq: string }>;
  return row ? Number(row.seq) : undefined;
}
