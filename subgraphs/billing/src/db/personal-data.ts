import type { Transaction } from '@bilten/platform';
import { and, asc, eq, inArray, isNotNull, ne, or, sql } from 'drizzle-orm';
import { orderCharges, payments, receipts, refunds } from './schema.ts';

// The SQL of a user's privacy requests (domain/personal-data.ts says what and why).

/** The orders the account bought, as billing has them, oldest first. */
export const orderChargesOfUser = (tx: Transaction, userId: string) =>
  tx
    .select()
    .from(orderCharges)
    .where(eq(orderCharges.buyerId, userId))
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

const lowerEquals = (column: typeof orderCharges.buyerEmail | typeof receipts.buyerEmail, email: string) =>
  sql`lower(${column}) = ${email.trim().toLowerCase()}`;

/** The orders the account bought or, as a guest, were bought under the address. */
const chargesOf = (subject: { userId: string; email: string }) =>
  or(eq(orderCharges.buyerId, subject.userId), lowerEquals(orderCharges.buyerEmail, subject.email));

const orderIdsOf = (tx: Transaction, subject: { userId: string; email: string }) =>
  tx.select({ id: orderCharges.orderId }).from(orderCharges).where(chargesOf(subject));

/**
 * The person's receipts and credit notes (of their orders, or made out to the address) with the
 * buyer's name and address replaced. Run before the orders lose the address guest orders are found by.
 */
export async function anonymizeReceiptsOf(
  tx: Transaction,
  subject: { userId: string; email: string },
  marker: { name: string; email: string },
): Promise<number> {
  const rows = await tx
    .update(receipts)
    .set({ buyerName: marker.name, buyerEmail: marker.email })
    .where(
      and(
        or(
          inArray(receipts.orderId, orderIdsOf(tx, subject)),
          lowerEquals(receipts.buyerEmail, subject.email),
        ),
        ne(receipts.buyerEmail, marker.email),
      ),
    )
    .returning({ id: receipts.id });
  return rows.length;
}

/**
 * The stored payment-method tokens of the person's settled payments, deleted; how many of an
 * unsettled one (PENDING, REQUIRES_ACTION) stay, since the stale-payment sweep asks the provider with it.
 */
export async function deletePaymentTokensOf(
  tx: Transaction,
  subject: { userId: string; email: string },
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
export async function anonymizeOrderChargesOf(
  tx: Transaction,
  subject: { userId: string; email: string },
  marker: { name: string; email: string },
): Promise<number> {
  const rows = await tx
    .update(orderCharges)
    .set({ buyerName: marker.name, buyerEmail: marker.email })
    .where(and(chargesOf(subject), ne(orderCharges.buyerEmail, marker.email)))
    .returning({ id: orderCharges.orderId });
  return rows.length;
}
