import type { Database, Transaction } from '@bilten/platform';
import { and, arrayContains, count, desc, eq, inArray, lt, lte, sql } from 'drizzle-orm';
import {
  type WebhookDeliveryRow,
  type WebhookEndpointRow,
  webhookDeliveries,
  webhookDeliveryAttempts,
  webhookEndpoints,
} from './schema.ts';

/** The channel NOTIFY wakes the webhook worker on. */
export const WEBHOOK_DELIVERIES_CHANNEL = 'messaging_webhook_deliveries';

// ---------------------------------------------------------------- endpoints

/**
 * Inserts the endpoint unless its organization already has `limit`; the organization's advisory
 * lock (until commit) keeps concurrent creations from all passing the count.
 */
export async function insertEndpointWithin(
  tx: Transaction,
  row: typeof webhookEndpoints.$inferInsert,
  limit: number,
): Promise<WebhookEndpointRow | null> {
  await tx.execute(
    sql`select pg_advisory_xact_lock(hashtextextended(${`webhook_endpoints:${row.organizationId}`}, 0))`,
  );
  const [existing] = await tx
    .select({ count: count() })
    .from(webhookEndpoints)
    .where(eq(webhookEndpoints.organizationId, row.organizationId));
  if ((existing?.count ?? 0) >= limit) return null;
  const [inserted] = await tx.insert(webhookEndpoints).values(row).returning();
  return inserted!;
}

export async function endpointById(
  db: Database | Transaction,
  id: string,
): Promise<WebhookEndpointRow | undefined> {
  const [row] = await db.select().from(webhookEndpoints).where(eq(webhookEndpoints.id, id));
  return row;
}

export async function lockEndpoint(tx: Transaction, id: string): Promise<WebhookEndpointRow | undefined> {
  const [row] = await tx.select().from(webhookEndpoints).where(eq(webhookEndpoints.id, id)).for('update');
  return row;
}

export const endpointsByIds = (db: Database | Transaction, ids: string[]) =>
  ids.length
    ? db.select().from(webhookEndpoints).where(inArray(webhookEndpoints.id, ids))
    : Promise.resolve([]);

/** An organization's endpoints, newest first (at most 20 of them). */
export const endpointsOfOrganization = (db: Database | Transaction, organizationId: string) =>
  db
    .select()
    .from(webhookEndpoints)
    .where(eq(webhookEndpoints.organizationId, organizationId))
    .orderBy(desc(webhookEndpoints.id));

export async function updateEndpoint(
  tx: Transaction,
  id: string,
  set: Partial<typeof webhookEndpoints.$inferInsert>,
): Promise<WebhookEndpointRow | undefined> {
  const [row] = await tx
    .update(webhookEndpoints)
    .set({ ...set, updatedAt: new Date() })
    .where(eq(webhookEndpoints.id, id))
    .returning();
  return row;
}

/** Deletes the endpoint and, with it, its delivery log. */
export async function deleteEndpoint(tx: Transaction, id: string): Promise<void> {
  await tx.delete(webhookEndpoints).where(eq(webhookEndpoints.id, id));
}

/** The organization's enabled endpoints that receive `eventType`. */
export const subscribedEndpoints = (tx: Transaction, organizationId: string, eventType: string) =>
  tx
    .select({ id: webhookEndpoints.id })
    .from(webhookEndpoints)
    .where(
      and(
        eq(webhookEndpoints.organizationId, organizationId),
        eq(webhookEndpoints.enabled, true),
        arrayContains(webhookEndpoints.eventTypes, [eventType]),
      ),
    );

// ---------------------------------------------------------------- deliveries

/** Inserts the rows, skipping any already made of the same source event for the same endpoint; returns how many were new. */
export async function insertWebhookDeliveries(
  tx: Transaction,
  rows: Array<typeof webhookDeliveries.$inferInsert>,
): Promise<number> {
  if (!rows.length) return 0;
  const inserted = await tx
    .insert(webhookDeliveries)
    .values(rows)
    .onConflictDoNothing({
      target: [webhookDeliveries.sourceEventId, webhookDeliveries.endpointId],
      where: sql`replay_of is null`,
    })
    .returning({ id: webhookDeliveries.id });
  return inserted.length;
}

export async function insertWebhookDelivery(
  tx: Transaction,
  row: typeof webhookDeliveries.$inferInsert,
): Promise<WebhookDeliveryRow> {
  const [inserted] = await tx.insert(webhookDeliveries).values(row).returning();
  return inserted!;
}

/** Wakes the webhook workers when the transaction commits (NOTIFY is transactional). */
export async function notifyWebhookWorkers(tx: Transaction): Promise<void> {
  await tx.execute(sql`select pg_notify(${WEBHOOK_DELIVERIES_CHANNEL}, '')`);
}

/**
 * Claims up to `limit` due PENDING deliveries in one statement: counts the attempt and pushes
 * `next_attempt_at` out by `leaseMs`, so other workers skip them (SKIP LOCKED) and a worker that
 * dies mid-send leaves them to be claimed again when the lease ends.
 */
export function claimDueWebhookDeliveries(
  db: Database,
  { limit, leaseMs }: { limit: number; leaseMs: number },
): Promise<WebhookDeliveryRow[]> {
  const due = db
    .select({ id: webhookDeliveries.id })
    .from(webhookDeliveries)
    .where(and(eq(webhookDeliveries.status, 'PENDING'), lte(webhookDeliveries.nextAttemptAt, sql`now()`)))
    .orderBy(webhookDeliveries.nextAttemptAt)
    .limit(limit)
    .for('update', { skipLocked: true });
  return db
    .update(webhookDeliveries)
    .set({
      attempts: sql`${webhookDeliveries.attempts} + 1`,
      nextAttemptAt: sql`now() + make_interval(secs => ${leaseMs / 1000})`,
    })
    .where(inArray(webhookDeliveries.id, due))
    .returning();
}

export async function recordWebhookAttempt(
  tx: Transaction,
  row: typeof webhookDeliveryAttempts.$inferInsert,
): Promise<void> {
  await tx.insert(webhookDeliveryAttempts).values(row).onConflictDoNothing();
}

/**
 * Records an outcome of the worker that claimed `claim`: nothing changes when the row was claimed
 * again since (its lease ran out and another worker took it over). Answers whether it changed.
 */
export async function updateClaimedDelivery(
  tx: Transaction,
  claim: { id: string; attempts: number },
  set: Partial<typeof webhookDeliveries.$inferInsert>,
): Promise<boolean> {
  const updated = await tx
    .update(webhookDeliveries)
    .set(set)
    .where(
      and(
        eq(webhookDeliveries.id, claim.id),
        eq(webhookDeliveries.attempts, claim.attempts),
        eq(webhookDeliveries.status, 'PENDING'),
      ),
    )
    .returning({ id: webhookDeliveries.id });
  return updated.length > 0;
}

/** Ends every PENDING delivery of the endpoint (it was disabled or is gone). */
export async function failPendingDeliveriesOf(tx: Transaction, endpointId: string, reason: string) {
  await tx
    .update(webhookDeliveries)
    .set({ status: 'FAILED', nextAttemptAt: null, lastError: reason })
    .where(and(eq(webhookDeliveries.endpointId, endpointId), eq(webhookDeliveries.status, 'PENDING')));
}

export async function webhookDeliveryById(
  db: Database | Transaction,
  id: string,
): Promise<WebhookDeliveryRow | undefined> {
  const [row] = await db.select().from(webhookDeliveries).where(eq(webhookDeliveries.id, id));
  return row;
}

/** A page of the endpoint's deliveries, newest first, before `beforeId`. */
export const webhookDeliveryPage = (
  db: Database | Transaction,
  endpointId: string,
  limit: number,
  beforeId?: string,
) =>
  db
    .select()
    .from(webhookDeliveries)
    .where(
      and(
        eq(webhookDeliveries.endpointId, endpointId),
        beforeId ? lt(webhookDeliveries.id, beforeId) : undefined,
      ),
    )
    .orderBy(desc(webhookDeliveries.id))
    .limit(limit);
