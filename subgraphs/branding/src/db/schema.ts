import { eventTables } from '@bilten/platform';
import { pgSchema, text, timestamp, uuid } from 'drizzle-orm/pg-core';

export const branding = pgSchema('branding');

/** Outbox, inbox and consumer positions: this subgraph's side of exactly-once events. */
export const eventStore = eventTables(branding);
export const { outbox, outboxSequences, inbox, consumerPositions } = eventStore;

export const brandKits = branding.table('brand_kits', {
  id: uuid().primaryKey(),
  /** One kit per organization; the unique index makes the creation event idempotent. */
  organizationId: uuid('organization_id').notNull().unique(),
  primaryColor: text('primary_color').notNull(),
  accentColor: text('accent_color').notNull(),
  logoUrl: text('logo_url'),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
});

export type BrandKitRow = typeof brandKits.$inferSelect;
