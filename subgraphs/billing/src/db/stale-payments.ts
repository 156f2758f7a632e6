import type { Database } from '@bilten/platform';
import { and, asc, eq, inArray, isNull, lt, sql } from 'drizzle-orm';
import { type PaymentRow, payments, type RefundRow, refunds } from './schema.ts';

const olderThan = (seconds: number) => sql`now() - make_interval(secs => ${seconds})`;

/**
 * Claims up to `limit` payments PENDING and untouched for `staleSeconds`: their `updated_at` is set
 * to now in the claiming statement, so they are not stale again for `staleSeconds`. Rows another
 * replica is claiming at the same moment are skipped (SKIP LOCKED), and once it committed they
 * are fresh: two sweeps never ask about one payment at once.
 */
export function claimStalePayments(db: Database, staleSeconds: number, limit: number): Promise<PaymentRow[]> {
  const stale = db
    .select({ id: payments.id })
    .from(payments)
    .where(and(eq(payments.status, 'PENDING'), lt(payments.updatedAt, olderThan(staleSeconds))))
    .orderBy(asc(payments.updatedAt))
    .limit(limit)
    .for('update', { skipLocked: true });
  return db
    .update(payments)
    .set({ updatedAt: sql`now()` })
    .where(and(inArray(payments.id, stale), eq(payments.status, 'PENDING')))
    .returning();
}

/**
 * Claims refunds PENDING without the provider's id (its answer was never heard) and untouched for
 * `staleSeconds`, as claimStalePayments does. A PENDING refund with the provider's id waits for
 * the provider's webhook instead.
 */
export function claimStaleRefunds(db: Database, staleSeconds: number, limit: number): Promise<RefundRow[]> {
  const stale = db
    .select({ id: refunds.id })
    .from(refunds)
    .where(
      and(
        eq(refunds.status, 'PENDING'),
        isNull(refunds.providerRefundId),
        lt(refunds.updatedAt, olderThan(staleSeconds)),
      ),
    )
    .orderBy(asc(refunds.updatedAt))
    .limit(limit)
    .for('update', { skipLocked: true });
  return db
    .update(refunds)
    .set({ updatedAt: sql`now()` })
    .where(and(inArray(refunds.id, stale), eq(refunds.status, 'PENDING')))
    .returning();
}
