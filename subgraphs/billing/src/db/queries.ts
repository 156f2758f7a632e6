import type { Database } from '@bilten/platform';
import { asc, inArray } from 'drizzle-orm';
import { type PaymentRow, payments } from './schema.ts';

export async function insertPayment(db: Database, row: typeof payments.$inferInsert): Promise<PaymentRow> {
  const [payment] = await db.insert(payments).values(row).returning();
  return payment!;
}

export const paymentsByIds = (db: Database, ids: string[]) =>
  db.select().from(payments).where(inArray(payments.id, ids));

export const paymentsByOrderIds = (db: Database, orderIds: string[]) =>
  db.select().from(payments).where(inArray(payments.orderId, orderIds)).orderBy(asc(payments.id));
