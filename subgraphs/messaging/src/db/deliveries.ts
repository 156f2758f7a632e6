import type { Database, Transaction } from '@bilten/platform';
import { and, eq, inArray, isNotNull, lte, sql } from 'drizzle-orm';
import {
  type Channel,
  type DeliveryRow,
  deliveries,
  deliveryAttempts,
  suppressedAddresses,
} from './schema.ts';

/** The channel NOTIFY wakes the delivery worker on. */
export const DELIVERIES_CHANNEL = 'messaging_deliveries';

/** Rows per INSERT of a fan-out: well under PostgreSQL's 65,535 parameters (18 columns a row). */
const INSERT_BATCH = 1_000;

/** Inserts the rows, skipping any already queued for the same source, address and channel; returns how many were new. */
export async function insertDeliveries(
  tx: Transaction,
  rows: Array<typeof deliveries.$inferInsert>,
): Promise<number> {
  let inserted = 0;
  for (let start = 0; start < rows.length; start += INSERT_BATCH) {
    const batch = rows.slice(start, start + INSERT_BATCH);
    const result = await tx
      .insert(deliveries)
      .values(batch)
      .onConflictDoNothing({
        target: [deliveries.sourceEventId, deliveries.addressHash, deliveries.channel],
      })
      .returning({ id: deliveries.id });
    inserted += result.length;
  }
  return inserted;
}

/** Wakes the delivery workers when the transaction commits (NOTIFY is transactional). */
export async function notifyDeliveryWorkers(tx: Transaction): Promise<void> {
  await tx.execute(sql`select pg_notify(${DELIVERIES_CHANNEL}, '')`);
}

/**
 * Claims up to `limit` due deliveries in one statement (its own short transaction): counts the
 * attempt and pushes `next_attempt_at` out by `leaseMs`, so rows another worker claimed are
 * skipped, and a worker that dies mid-send leaves them to be claimed again when the lease ends.
 */
export function claimDueDeliveries(
  db: Database,
  { limit, leaseMs }: { limit: number; leaseMs: number },
): Promise<DeliveryRow[]> {
  const due = db
    .select({ id: deliveries.id })
    .from(deliveries)
    .where(and(eq(deliveries.status, 'QUEUED'), lte(deliveries.nextAttemptAt, sql`now()`)))
    .orderBy(deliveries.nextAttemptAt)
    .limit(limit)
    .for('update', { skipLocked: true });
  return db
    .update(deliveries)
    .set({
      attempts: sql`${deliveries.attempts} + 1`,
      nextAttemptAt: sql`now() + make_interval(secs => ${leaseMs / 1000})`,
    })
    .where(inArray(deliveries.id, due))
    .returning();
}

/** Why nothing goes to this address on this channel any more, or null. A complaint stops only non-critical mail. */
export async function suppressionOf(
  db: Database | Transaction,
  addressHash: string,
  channel: Channel,
  critical: boolean,
): Promise<string | null> {
  const [row] = await db
    .select({ reason: suppressedAddresses.reason })
    .from(suppressedAddresses)
    .where(and(eq(suppressedAddresses.addressHash, addressHash), eq(suppressedAddresses.channel, channel)));
  if (!row || (critical && row.reason === 'COMPLAINT')) return null;
  return row.reason;
}

/** Mails this address was sent within the last hour (whatever happened to them after). */
export async function emailsSentWithinAnHour(
  db: Database | Transaction,
  addressHash: string,
): Promise<number> {
  const [row] = await db
    .select({ count: sql<number>`count(*)::int` })
    .from(deliveries)
    .where(
      and(
        eq(deliveries.addressHash, addressHash),
        eq(deliveries.channel, 'EMAIL'),
        isNotNull(deliveries.sentAt),
        sql`${deliveries.sentAt} > now() - interval '1 hour'`,
      ),
    );
  return row?.count ?? 0;
}

export async function recordAttempt(
  tx: Transaction,
  row: {
    deliveryId: string;
    attempt: number;
    transport: string;
    outcome: 'SENT' | 'TRANSIENT' | 'PERMANENT' | 'CAPTURED';
    detail: string;
  },
): Promise<void> {
  await tx.insert(deliveryAttempts).values(row).onConflictDoNothing();
}

/**
 * Records an outcome of the worker that claimed `claim`: nothing changes when the row was claimed
 * again since (its lease ran out and another worker took it over).
 */
export async function updateDelivery(
  tx: Transaction,
  claim: { id: string; attempts: number },
  set: Partial<typeof deliveries.$inferInsert>,
): Promise<void> {
  await tx
    .update(deliveries)
    .set(set)
    .where(
      and(
        eq(deliveries.id, claim.id),
        eq(deliveries.attempts, claim.attempts),
        eq(deliveries.status, 'QUEUED'),
      ),
    );
}

/** Stops further sends to the address on the channel; the first reason recorded stays. */
export async function suppressAddress(
  tx: Transaction,
  row: { addressHash: string; channel: Channel; reason: string; deliveryId: string },
): Promise<void> {
  await tx.insert(suppressedAddresses).values(row).onConflictDoNothing();
}

export async function deliveryById(db: Database | Transaction, id: string): Promise<DeliveryRow | null> {
  const [row] = await db.select().from(deliveries).where(eq(deliveries.id, id));
  return row ?? null;
}
