import { sql } from 'drizzle-orm';
import {
  bigint,
  index,
  integer,
  jsonb,
  type PgSchema,
  primaryKey,
  text,
  timestamp,
  uuid,
} from 'drizzle-orm/pg-core';

/**
 * The tables behind exactly-once events, created in each subgraph's own schema:
 * - outbox: events written in the same transaction as the state change, until relayed;
 * - outbox_sequences: the last sequence number given to each aggregate's events;
 * - inbox: event ids each consumer has applied, written in the same transaction as the effect;
 * - consumer_positions: for ordered consumers, the last sequence applied per aggregate.
 */
export function eventTables(schema: PgSchema) {
  const outbox = schema.table(
    'outbox',
    {
      id: uuid().primaryKey(),
      type: text().notNull(),
      version: integer().notNull(),
      aggregateType: text('aggregate_type').notNull(),
      aggregateId: text('aggregate_id').notNull(),
      sequence: bigint({ mode: 'number' }).notNull(),
      occurredAt: timestamp('occurred_at', { withTimezone: true }).notNull(),
      correlationId: text('correlation_id'),
      traceparent: text(),
      payload: jsonb().notNull(),
      sentAt: timestamp('sent_at', { withTimezone: true }),
      attempts: integer().notNull().default(0),
      lastError: text('last_error'),
    },
    (table) => [
      index('outbox_unsent_idx').on(table.occurredAt, table.id).where(sql`${table.sentAt} is null`),
      index('outbox_sent_at_idx').on(table.sentAt),
    ],
  );
  const outboxSequences = schema.table(
    'outbox_sequences',
    {
      aggregateType: text('aggregate_type').notNull(),
      aggregateId: text('aggregate_id').notNull(),
      lastSequence: bigint('last_sequence', { mode: 'number' }).notNull(),
    },
    (table) => [primaryKey({ columns: [table.aggregateType, table.aggregateId] })],
  );
  const inbox = schema.table(
    'inbox',
    {
      consumer: text().notNull(),
      eventId: uuid('event_id').notNull(),
      handledAt: timestamp('handled_at', { withTimezone: true }).notNull().defaultNow(),
    },
    (table) => [
      primaryKey({ columns: [table.consumer, table.eventId] }),
      index('inbox_handled_at_idx').on(table.handledAt),
    ],
  );
  const consumerPositions = schema.table(
    'consumer_positions',
    {
      consumer: text().notNull(),
      aggregateType: text('aggregate_type').notNull(),
      aggregateId: text('aggregate_id').notNull(),
      lastSequence: bigint('last_sequence', { mode: 'number' }).notNull(),
    },
    (table) => [primaryKey({ columns: [table.consumer, table.aggregateType, table.aggregateId] })],
  );
  return { outbox, outboxSequences, inbox, consumerPositions };
}

export type EventTables = ReturnType<typeof eventTables>;
