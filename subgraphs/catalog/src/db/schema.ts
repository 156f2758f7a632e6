import { eventTables } from '@bilten/platform';
import { sql } from 'drizzle-orm';
import { check, index, integer, pgSchema, text, timestamp, uuid } from 'drizzle-orm/pg-core';

export const catalog = pgSchema('catalog');

/** Outbox, inbox and consumer positions: this subgraph's side of exactly-once events. */
export const eventStore = eventTables(catalog);
export const { outbox, outboxSequences, inbox, consumerPositions } = eventStore;

export const eventStatus = catalog.enum('event_status', ['DRAFT', 'PUBLISHED', 'CANCELLED', 'ENDED']);

export const events = catalog.table(
  'events',
  {
    id: uuid().primaryKey(),
    organizationId: uuid('organization_id').notNull(),
    title: text().notNull(),
    description: text(),
    startsAt: timestamp('starts_at', { withTimezone: true }).notNull(),
    endsAt: timestamp('ends_at', { withTimezone: true }).notNull(),
    timezone: text().notNull(),
    currency: text().notNull(),
    status: eventStatus().notNull().default('DRAFT'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [
    index('events_organization_id_idx').on(table.organizationId),
    check('events_ends_after_start', sql`${table.endsAt} > ${table.startsAt}`),
  ],
);

export const ticketTypes = catalog.table(
  'ticket_types',
  {
    id: uuid().primaryKey(),
    eventId: uuid('event_id')
      .notNull()
      .references(() => events.id, { onDelete: 'cascade' }),
    name: text().notNull(),
    priceAmount: integer('price_amount').notNull(),
    priceCurrency: text('price_currency').notNull(),
    capacity: integer().notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [
    index('ticket_types_event_id_idx').on(table.eventId),
    check('ticket_types_price_not_negative', sql`${table.priceAmount} >= 0`),
    check('ticket_types_capacity_positive', sql`${table.capacity} > 0`),
  ],
);

export type EventRow = typeof events.$inferSelect;
export type TicketTypeRow = typeof ticketTypes.$inferSelect;
