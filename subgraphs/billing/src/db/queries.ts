import type { Database, Transaction } from '@bilten/platform';
import { and, asc, desc, eq, inArray, lt, ne, sql } from 'drizzle-orm';
import {
  type OrderChargeRow,
  orderCharges,
  type PaymentProviderName,
  type PaymentRow,
  payments,
  type RefundRow,
  refunds,
  webhookEvents,
} from './schema.ts';

type Db = Database | Transaction;

// ---------------------------------------------------------------- order charges

/** Orders' figures win: a redelivered or corrected `orderCreated` rewrites the copy. */
export async function upsertOrderCharge(tx: Db, row: typeof orderCharges.$inferInsert): Promise<void> {
  const { orderId: _, ...update } = row;
  await tx.insert(orderCharges).values(row).onConflictDoUpdate({ target: orderCharges.orderId, set: update });
}

export async function orderCharge(db: Db, orderId: string): Promise<OrderChargeRow | undefined> {
  const [row] = await db.select().from(orderCharges).where(eq(orderCharges.orderId, orderId));
  return row;
}

export const orderChargesByIds = (db: Db, orderIds: string[]) =>
  db.select().from(orderCharges).where(inArray(orderCharges.orderId, orderIds));

// ---------------------------------------------------------------- payments

/** The new attempt, or nothing when the order has a live payment or the key was used (both unique). */
export async function insertPaymentIfFree(
  db: Db,
  row: typeof payments.$inferInsert,
): Promise<PaymentRow | undefined> {
  const [payment] = await db.insert(payments).values(row).onConflictDoNothing().returning();
  return payment;
}

export async function paymentByKey(db: Db, orderId: string, idempotencyKey: string) {
  const [row] = await db
    .select()
    .from(payments)
    .where(and(eq(payments.orderId, orderId), eq(payments.idempotencyKey, idempotencyKey)));
  return row;
}

/** The order's payment that is not FAILED, if any (at most one: payments_one_live_per_order). */
export async function livePayment(db: Db, orderId: string): Promise<PaymentRow | undefined> {
  const [row] = await db
    .select()
    .from(payments)
    .where(and(eq(payments.orderId, orderId), ne(payments.status, 'FAILED')));
  return row;
}

export async function paymentById(db: Db, id: string): Promise<PaymentRow | undefined> {
  const [row] = await db.select().from(payments).where(eq(payments.id, id));
  return row;
}

export const paymentsByIds = (db: Db, ids: string[]) =>
  db.select().from(payments).where(inArray(payments.id, ids));

/** Oldest first: ids are UUIDv7, so their order is their creation order. */
export const paymentsByOrderIds = (db: Db, orderIds: string[]) =>
  db.select().from(payments).where(inArray(payments.orderId, orderIds)).orderBy(asc(payments.id));

/**
 * Applies what the provider said, only while the payment is still open (PENDING or
 * REQUIRES_ACTION): of a webhook and a request racing, one changes it and publishes, the other
 * finds nothing to change.
 */
export async function updateOpenPayment(
  tx: Transaction,
  where: { id: string } | { provider: PaymentProviderName; providerPaymentId: string },
  set: Partial<typeof payments.$inferInsert>,
  attempts = 0,
): Promise<PaymentRow | undefined> {
  const target =
    'id' in where
      ? eq(payments.id, where.id)
      : and(eq(payments.provider, where.provider), eq(payments.providerPaymentId, where.providerPaymentId));
  const [row] = await tx
    .update(payments)
    .set({ ...set, attempts: sql`${payments.attempts} + ${attempts}`, updatedAt: sql`now()` })
    .where(and(target, inArray(payments.status, ['PENDING', 'REQUIRES_ACTION'])))
    .returning();
  return row;
}

export async function paymentByProviderId(db: Db, provider: PaymentProviderName, providerPaymentId: string) {
  const [row] = await db
    .select()
    .from(payments)
    .where(and(eq(payments.provider, provider), eq(payments.providerPaymentId, providerPaymentId)));
  return row;
}

/** The latest SUCCEEDED payment of the order with money left to give back, locked. */
export async function refundablePayment(tx: Transaction, orderId: string): Promise<PaymentRow | undefined> {
  const [row] = await tx
    .select()
    .from(payments)
    .where(
      and(
        eq(payments.orderId, orderId),
        eq(payments.status, 'SUCCEEDED'),
        lt(payments.refundedAmount, payments.amount),
      ),
    )
    .orderBy(desc(payments.id))
    .limit(1)
    .for('update');
  return row;
}

export async function addRefunded(tx: Transaction, paymentId: string, amount: number): Promise<void> {
  await tx
    .update(payments)
    .set({ refundedAmount: sql`${payments.refundedAmount} + ${amount}`, updatedAt: sql`now()` })
    .where(eq(payments.id, paymentId));
}

// ---------------------------------------------------------------- refunds

/** The refund, or nothing when one with this id was asked before. */
export async function insertRefundIfNew(
  tx: Transaction,
  row: typeof refunds.$inferInsert,
): Promise<RefundRow | undefined> {
  const [refund] = await tx.insert(refunds).values(row).onConflictDoNothing().returning();
  return refund;
}

export async function updateRefund(
  tx: Transaction,
  id: string,
  set: Partial<typeof refunds.$inferInsert>,
): Promise<void> {
  await tx
    .update(refunds)
    .set({ ...set, updatedAt: sql`now()` })
    .where(eq(refunds.id, id));
}

/** A refund by the provider's id (of a payment through that provider), locked for its update. */
export async function openRefundByProviderId(
  tx: Transaction,
  provider: PaymentProviderName,
  providerRefundId: string,
): Promise<RefundRow | undefined> {
  const [row] = await tx
    .select()
    .from(refunds)
    .where(
      and(
        eq(refunds.providerRefundId, providerRefundId),
        inArray(
          refunds.paymentId,
          tx.select({ id: payments.id }).from(payments).where(eq(payments.provider, provider)),
        ),
      ),
    )
    .for('update');
  return row;
}

// ---------------------------------------------------------------- refunds by request

/** The order's SUCCEEDED payment (at most one: payments_one_live_per_order), locked while refunding. */
export async function succeededPaymentForUpdate(
  tx: Transaction,
  orderId: string,
): Promise<PaymentRow | undefined> {
  const [row] = await tx
    .select()
    .from(payments)
    .where(and(eq(payments.orderId, orderId), eq(payments.status, 'SUCCEEDED')))
    .orderBy(desc(payments.id))
    .limit(1)
    .for('update');
  return row;
}

/**
 * What the payment's refunds hold: SUCCEEDED and PENDING (a PENDING one may still go through), so
 * a new refund checked under the payment's lock can never take the total past what was paid.
 */
export async function committedRefunds(tx: Db, paymentId: string): Promise<number> {
  const [row] = await tx
    .select({ total: sql<string>`coalesce(sum(${refunds.amount}), 0)` })
    .from(refunds)
    .where(and(eq(refunds.paymentId, paymentId), inArray(refunds.status, ['PENDING', 'SUCCEEDED'])));
  return Number(row?.total ?? 0);
}

export async function refundById(db: Db, id: string): Promise<RefundRow | undefined> {
  const [row] = await db.select().from(refunds).where(eq(refunds.id, id));
  return row;
}

/** Applies the provider's answer to a refund still PENDING; nothing when it was settled meanwhile. */
export async function settlePendingRefund(
  tx: Transaction,
  id: string,
  set: Partial<typeof refunds.$inferInsert>,
): Promise<RefundRow | undefined> {
  const [row] = await tx
    .update(refunds)
    .set({ ...set, updatedAt: sql`now()` })
    .where(and(eq(refunds.id, id), eq(refunds.status, 'PENDING')))
    .returning();
  return row;
}

/** Oldest first. */
export const refundsOfPayment = (db: Db, paymentId: string) =>
  db
    .select()
    .from(refunds)
    .where(eq(refunds.paymentId, paymentId))
    .orderBy(asc(refunds.createdAt), asc(refunds.id));

export const refundsOfOrder = (db: Db, orderId: string) =>
  db
    .select()
    .from(refunds)
    .where(eq(refunds.orderId, orderId))
    .orderBy(asc(refunds.createdAt), asc(refunds.id));

// ---------------------------------------------------------------- provider events

/** False when the provider's event was handled before. */
export async function recordWebhookEvent(
  tx: Transaction,
  row: typeof webhookEvents.$inferInsert,
): Promise<boolean> {
  const inserted = await tx
    .insert(webhookEvents)
    .values(row)
    .onConflictDoNothing()
    .returning({ eventId: webhookEvents.eventId });
  return inserted.length > 0;
}
