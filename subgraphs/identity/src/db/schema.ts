import { eventTables } from '@bilten/platform';
import { pgSchema, text, timestamp, uuid } from 'drizzle-orm/pg-core';

export const identity = pgSchema('identity');

/** Outbox, inbox and consumer positions: this subgraph's side of exactly-once events. */
export const eventStore = eventTables(identity);
export const { outbox, outboxSequences, inbox, consumerPositions } = eventStore;

export const users = identity.table('users', {
  id: uuid().primaryKey(),
  /** Normalized (NFKC, trimmed, lower case): the unique index is the source of truth. */
  email: text().notNull().unique(),
  displayName: text('display_name').notNull(),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
});

export const organizations = identity.table('organizations', {
  id: uuid().primaryKey(),
  name: text().notNull(),
  slug: text().notNull().unique(),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
});

export type UserRow = typeof users.$inferSelect;
export type OrganizationRow = typeof organizations.$inferSelect;
