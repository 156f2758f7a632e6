import type { Database, Transaction } from '@bilten/platform';
import { and, asc, eq, inArray, sql } from 'drizzle-orm';
import {
  type OrderChargeRow,
  orderCharges,
  type ReceiptKind,
  type ReceiptRow,
  receiptCounters,
  receipts,
} from './schema.ts';

type Db = Database | Transaction;

export async function receiptById(db: Db, id: string): Promise<ReceiptRow | undefined> {
  const [row] = await db.select().from(receipts).where(eq(receipts.id, id));
  return row;
}

export const receiptsByIds = (db: Db, ids: string[]) =>
  db.select().from(receipts).where(inArray(receipts.id, ids));

/** Receipts and credit notes of the orders, oldest first (by kind, then number). */
export const receiptsByOrderIds = (db: Db, orderIds: string[]) =>
  db
    .select()
    .from(receipts)
    .where(inArray(receipts.orderId, orderIds))
    .orderBy(asc(receipts.issuedAt), asc(receipts.sequence));

export const creditNotesByRefundIds = (db: Db, refundIds: string[]) =>
  db
    .select()
    .from(receipts)
    .where(and(inArray(receipts.refundId, refundIds), eq(receipts.kind, 'CREDIT_NOTE')));

/** The order's receipt (at most one: receipts_one_per_order). */
export async function receiptOfOrder(db: Db, orderId: string): Promise<ReceiptRow | undefined> {
  const [row] = await db
    .select()
    .from(receipts)
    .where(and(eq(receipts.orderId, orderId), eq(receipts.kind, 'RECEIPT')));
  return row;
}

/** The number of the organization's first receipt (receipts_sequence serves it), if any. */
export async function firstReceiptNumber(db: Db, organizationId: string): Promise<string | undefined> {
  const [row] = await db
    .select({ number: receipts.number })
    .from(receipts)
    .where(and(eq(receipts.organizationId, organizationId), eq(receipts.kind, 'RECEIPT')))
    .orderBy(asc(receipts.year), asc(receipts.sequence))
    .limit(1);
  return row?.number;
}

/**
 * The order's contents, locked until the caller's transaction ends: who issues the order's receipt
 * holds it, so two payments of one order succeeding at once queue here and the second finds the
 * receipt before it takes a number.
 */
export async function orderChargeForUpdate(
  tx: Transaction,
  orderId: string,
): Promise<OrderChargeRow | undefined> {
  const [row] = await tx.select().from(orderCharges).where(eq(orderCharges.orderId, orderId)).for('update');
  return row;
}

/**
 * The next number of the organization's receipts or credit notes of the year. The counter row stays
 * locked until the caller's transaction ends and a rollback gives the number back: gapless.
 */
export async function takeReceiptNumber(
  tx: Transaction,
  organizationId: string,
  kind: ReceiptKind,
  year: number,
): Promise<number> {
  const [row] = await tx
    .insert(receiptCounters)
    .values({ organizationId, kind, year, lastNumber: 1 })
    .onConflictDoUpdate({
      target: [receiptCounters.organizationId, receiptCounters.kind, receiptCounters.year],
      set: { lastNumber: sql`${receiptCounters.lastNumber} + 1` },
    })
    .returning({ lastNumber: receiptCounters.lastNumber });
  return row!.lastNumber;
}

export async function insertReceipt(tx: Transaction, row: typeof receipts.$inferInsert): Promise<ReceiptRow> {
  const [receipt] = await tx.insert(receipts).values(row).returning();
  return receipt!;
}
