import { eventTables } from '@bilten/platform';
import { sql } from 'drizzle-orm';
import { check, index, integer, pgSchema, text, timestamp, uuid } from 'drizzle-orm/pg-core';

export const billing = pgSchema('billing');

/** Outbox, inbox and consumer positions: this subgraph's side of exactly-once events. */
export const eventStore = eventTables(billing);
export const { outbox, outboxSequences, inbox, consumerPositions } = eventStore;

export const paymentProvider = billing.enum('payment_provider', ['STRIPE', 'BRAINTREE']);
export const paymentStatus = billing.enum('payment_status', ['PENDING', 'SUCCEEDED', 'FAILED', 'REFUNDED']);

export const payments = billing.table(
  'payments',
  {
    id: uuid().primaryKey(),
    orderId: uuid('order_id').notNull(),
    amount: integer().notNull(),
    currency: text().notNull(),
    provider: paymentProvider().notNull(),
    status: paymentStatus().notNull().default('PENDING'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [
    index('payments_order_id_idx').on(table.orderId),
    check('payments_amount_not_negative', sql`${table.amount} >= 0`),
  ],
);

export type PaymentRow = typeof payments.$inferSelect;
