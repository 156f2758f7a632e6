import type { Database } from '@bilten/platform';
import { inArray } from 'drizzle-orm';
import { type OrderRow, orderRecords } from './schema.ts';

export async function insertOrder(db: Database, row: typeof orderRecords.$inferInsert): Promise<OrderRow> {
  const [order] = await db.insert(orderRecords).values(row).returning();
  return order!;
}

export const ordersByIds = (db: Database, ids: string[]) =>
  db.select().from(orderRecords).where(inArray(orderRecords.id, ids));
