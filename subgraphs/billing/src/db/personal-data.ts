import type { Transaction } from '@bilten/platform';
import { and, asc, eq, inArray, isNotNull, ne, or, sql } from 'drizzle-orm';
import { erasedBuyer } from './buyers.ts';
import { orderCharges, payments, receipts, refunds } from './schema.ts';

// The SQL of a user's privacy requests (domain/personal-data.ts says what and why).

/**
 * Who a request is about: the account, and the blind indexes (under every configured key) of the
 * address whose guest orders count as theirs; none when that address is not proven.
 */
export interface Subject {
  userId: string;
  emailIndexes: string[];
}

/** The orders the account bought or, as a guest, were bought under the address. */
const chargesOf = (subject: Subject) =>
  subject.emailIndexes.length
    ? or(
        eq(orderCharges.buyerId, subject.userId),
        inArray(orderCharges.buyerEmailIndex, subject.emailIndexes),
      )
    : eq(orderCharges.buyerId, subject.userId);

const orderIdsOf = (tx: Transaction, subject: Subject) =>
  tx.select({ id: orderCharges.orderId }).from(orderCharges).where(chargesOf(subject));

/** The person's orders as billing has them, oldest first. */
export const orderChargesOf = (tx: Transaction, subject: Subject) =>
  tx
    .select()
    .from(orderCharges)
    .where(chargesOf(subject))
    .orderBy(asc(orderCharges.createdAt), asc(orderCharges.orderId));

export const paymentsOfOrders = (tx: Transaction, orderIds: string[]) =>
  orderIds.length
    ? tx.select().from(payments).where(inArray(payments.orderId, orderIds)).orderBy(asc(payments.createdAt))
    : Promise.resolve([]);

export const refundsOfOrders = (tx: Transaction, orderIds: string[]) =>
  orderIds.length
    ? tx.select().from(refunds).where(inArray(refunds.orderId, orderIds)).orderBy(asc(refunds.createdAt))
    : Promise.resolve([]);

export const receiptsOfOrders = (tx: Transaction, orderIds: string[]) =>
  orderIds.length
    ? tx.select().from(receipts).where(inArray(receipts.orderId, orderIds)).orderBy(asc(receipts.issuedAt))
    : Promise.resolve([]);

/**
 * The person's receipts and credit notes (of their orders, or made out to the address) with the
 * buyer's name and address replaced by the markers and the index dropped. Run before the orders
 * lose the index guest orders are found by.
 */
export async function anonymizeReceiptsOf(tx: Transaction, subject: Subject): Promise<number> {
  const erased = erasedBuyer();
  const theirs = or(
    inArray(receipts.orderId, orderIdsOf(tx, subject)),
    inArray(receipts.buyerEmailIndex, subject.emailIndexes),
  );
  const rows = await tx
    .update(receipts)
    .set(erased)
    .where(and(theirs, ne(receipts.buyerEmailSealed, erased.buyerEmailSealed)))
    .returning({ id: receipts.id });
  return rows.length;
}

/**
 * The stored payment-method tokens of the person's settled payments, deleted; how many of an
 * unsettled one (PENDING, REQUIRES_ACTION) stay, since the stale-payment sweep asks the provider with it.
 */
export async function deletePaymentTokensOf(
  tx: Transaction,
  subject: Subject,
): Promise<{ deleted: number; unsettledKept: number }> {
  const theirs = and(
    inArray(payments.orderId, orderIdsOf(tx, subject)),
    isNotNull(payments.paymentMethodTokenSealed),
  );
  const rows = await tx
    .update(payments)
    .set({ paymentMethodTokenSealed: null, updatedAt: sql`now()` })
    .where(and(theirs, inArray(payments.status, ['SUCCEEDED', 'FAILED'])))
    .returning({ id: payments.id });
  const [kept] = await tx.select({ count: sql<number>`count(*)::int` }).from(payments).where(theirs);
  return { deleted: rows.length, unsettledKept: kept?.count ?? 0 };
}

/** Billing's copies of the person's orders with the buyer's name and address replaced; amounts stay. */
export async function anonymizeOrderChargesOf(tx: Transaction, subject: Subject): Promise<number> {
  const erased = erasedBuyer();
  const rows = await tx
    .update(orderCharges)
    .set(erased)
    .where(and(chargesOf(subject), ne(orderCharges.buyerEmailSealed, erased.buyerEmailSealed)))
    .returning({ id: orderCharges.orderId });
  return rows.length;
}
