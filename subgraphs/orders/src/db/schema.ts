import { eventTables } from '@bilten/platform';
import { sql } from 'drizzle-orm';
import { check, index, integer, pgSchema, timestamp, uuid } from 'drizzle-orm/pg-core';

export const orders = pgSchema('orders');

/** Outbox, inbox and consumer positions: this subgraph's side of exactly-once events. */
export const eventStore = eventTables(orders);
export const { outbox, outboxSequences, inbox, consumerPositions } = eventStore;

export const orderStatus = orders.enum('order_status', ['PENDING', 'PAID', 'CANCELLED', 'REFUNDED']);

export const orderRecords = orders.table(
  'orders',
  {
    id: uuid().primaryKey(),
    buyerId: uuid('buyer_id').notNull(),
    eventId: uuid('event_id').notNull(),
    ticketTypeId: uuid('ticket_type_id').notNull(),
    quantity: integer().notNull(),
    status: orderStatus().notNull().default('PENDING'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [
    index('orders_buyer_id_idx').on(table.buyerId),
    index('orders_event_id_idx').on(table.eventId),
    check('orders_quantity_positive', sql`${table.quantity} > 0`),
  ],
);

export type OrderRow = typeof orderRecords.$inferSelect;
