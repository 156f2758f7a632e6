import { auditTable, eventTables } from '@bilten/platform';
import { getTableColumns, sql } from 'drizzle-orm';
import {
  bigint,
  boolean,
  check,
  customType,
  doublePrecision,
  index,
  integer,
  jsonb,
  pgSchema,
  primaryKey,
  text,
  timestamp,
  uuid,
} from 'drizzle-orm/pg-core';

export const catalog = pgSchema('catalog');

/** Outbox, inbox and consumer positions: this subgraph's side of exactly-once events. */
export const eventStore = eventTables(catalog);
export const { outbox, outboxSequences, inbox, consumerPositions } = eventStore;

/** Who changed what, written by every mutation in its own transaction. */
export const auditLog = auditTable(catalog);

const tsvector = customType<{ data: string }>({ dataType: () => 'tsvector' });

export const eventStatus = catalog.enum('event_status', ['DRAFT', 'PUBLISHED', 'CANCELLED', 'ENDED']);
export const EVENT_VISIBILITIES = ['PUBLIC', 'UNLISTED'] as const;
export const eventVisibility = catalog.enum('event_visibility', EVENT_VISIBILITIES);
export const REFUND_POLICY_KINDS = ['FULL_UNTIL', 'PARTIAL', 'NONE'] as const;
export const refundPolicyKind = catalog.enum('refund_policy_kind', REFUND_POLICY_KINDS);
export const EVENT_CATEGORIES = [
  'MUSIC',
  'NIGHTLIFE',
  'THEATRE',
  'COMEDY',
  'FILM',
  'ARTS',
  'SPORTS',
  'FOOD_AND_DRINK',
  'CONFERENCE',
  'WORKSHOP',
  'FESTIVAL',
  'FAMILY',
  'COMMUNITY',
  'OTHER',
] as const;
export const eventCategory = catalog.enum('event_category', EVENT_CATEGORIES);

/** The largest PostgreSQL `int`: prices and version numbers are stored as such. */
export const MAX_INT = 2_147_483_647;

export const events = catalog.table(
  'events',
  {
    id: uuid().primaryKey(),
    organizationId: uuid('organization_id').notNull(),
    title: text().notNull(),
    /** Markdown as the organizer wrote it (already proven to render to nothing unsafe). */
    description: text(),
    /** The description rendered and sanitized once at write time, what clients display. */
    descriptionHtml: text('description_html'),
    category: eventCategory().notNull().default('OTHER'),
    tags: text().array().notNull().default(sql`'{}'::text[]`),
    imageIds: uuid('image_ids').array().notNull().default(sql`'{}'::uuid[]`),
    startsAt: timestamp('starts_at', { withTimezone: true }).notNull(),
    endsAt: timestamp('ends_at', { withTimezone: true }).notNull(),
    timezone: text().notNull(),
    venueName: text('venue_name'),
    venueAddress: text('venue_address'),
    venueCity: text('venue_city'),
    venueCountry: text('venue_country'),
    venueLatitude: doublePrecision('venue_latitude'),
    venueLongitude: doublePrecision('venue_longitude'),
    onlineUrl: text('online_url'),
    currency: text().notNull(),
    /** Seats shared by all ticket types; orders enforce it at sale time. */
    capacity: integer().notNull(),
    refundPolicy: refundPolicyKind('refund_policy').notNull().default('NONE'),
    refundDaysBeforeStart: integer('refund_days_before_start'),
    refundPercent: integer('refund_percent'),
    visibility: eventVisibility().notNull().default('PUBLIC'),
    status: eventStatus().notNull().default('DRAFT'),
    /**
     * Of a test-mode organization (a sandbox): shown to its own members and keys only. Copied from
     * `test_mode_organizations` when the event is written, so public lists filter on the row itself.
     */
    testMode: boolean('test_mode').notNull().default(false),
    /** Bumped by every change; `updateEvent` must name the version it saw. */
    version: integer().notNull().default(1),
    /** Tickets sold so far, kept by orders' events; guards currency changes and hard deletion. */
    ticketsSold: integer('tickets_sold').notNull().default(0),
    /** Cheapest and dearest ticket type customers can see, kept by every ticket-type change. */
    minPrice: integer('min_price'),
    maxPrice: integer('max_price'),
    /** Title (A), place (B) and description (C), language-neutral: names and cities are not English. */
    searchVector: tsvector('search_vector').generatedAlwaysAs(
      sql`setweight(to_tsvector('simple'::regconfig, title), 'A') || setweight(to_tsvector('simple'::regconfig, coalesce(venue_name, '') || ' ' || coalesce(venue_city, '')), 'B') || setweight(to_tsvector('simple'::regconfig, coalesce(description, '')), 'C')`,
    ),
    /** Occurrences of one recurring event share a series id (the first occurrence's id). */
    seriesId: uuid('series_id'),
    publishedAt: timestamp('published_at', { withTimezone: true }),
    cancelledAt: timestamp('cancelled_at', { withTimezone: true }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [
    index('events_organization_id_idx').on(table.organizationId, table.id),
    index('events_series_id_idx').on(table.seriesId),
    // Words with the filters people add to them ("concert" in BA, in Sarajevo, music only): one GIN
    // scan intersects them all (btree_gin), where a B-tree bitmap of the whole country cost more
    // than the words. Any subset of the columns can use it, so it also serves country alone.
    index('events_search_idx').using(
      'gin',
      table.searchVector,
      table.venueCountry,
      table.category,
      sql`lower(${table.venueCity})`,
    ),
    index('events_listed_starts_at_idx')
      .on(table.startsAt, table.id)
      .where(sql`status = 'PUBLISHED' and visibility = 'PUBLIC' and not test_mode`),
    index('events_min_price_idx').on(table.minPrice, table.id),
    index('events_city_starts_at_idx').on(sql`lower(${table.venueCity})`, table.startsAt),
    // "Music in Sarajevo from next week", the common public search: the page in order, the count
    // without reading the events of the city's other categories.
    index('events_listed_city_category_starts_at_idx')
      .on(sql`lower(${table.venueCity})`, table.category, table.startsAt)
      .where(sql`status = 'PUBLISHED' and visibility = 'PUBLIC' and not test_mode`),
    // Near searches ask for a box of longitudes × latitudes: a GiST index answers both at once.
    // The public's use a covering, partial copy of it, `events_listed_venue_point_idx`, written in
    // migration 0009 by hand (drizzle cannot declare INCLUDE columns; 0015 leaves test mode out of it).
    index('events_venue_point_idx').using(
      'gist',
      sql`point(${table.venueLongitude}, ${table.venueLatitude})`,
    ),
    check('events_ends_after_start', sql`${table.endsAt} > ${table.startsAt}`),
    check('events_capacity_positive', sql`${table.capacity} > 0`),
    check('events_tickets_sold_not_negative', sql`${table.ticketsSold} >= 0`),
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
    salesStartAt: timestamp('sales_start_at', { withTimezone: true }),
    salesEndAt: timestamp('sales_end_at', { withTimezone: true }),
    minPerOrder: integer('min_per_order').notNull().default(1),
    maxPerOrder: integer('max_per_order').notNull().default(10),
    /** Most tickets of this type one buyer may hold or buy for the event (anti-scalping); null: no limit. */
    maxPerBuyer: integer('max_per_buyer'),
    transferable: boolean().notNull().default(true),
    hidden: boolean().notNull().default(false),
    sortOrder: integer('sort_order').notNull().default(0),
    /** Tickets of this type sold so far, kept by orders' events; its capacity cannot go below it. */
    ticketsSold: integer('tickets_sold').notNull().default(0),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [
    index('ticket_types_event_id_idx').on(table.eventId),
    check('ticket_types_price_not_negative', sql`${table.priceAmount} >= 0`),
    check('ticket_types_capacity_positive', sql`${table.capacity} > 0`),
    check('ticket_types_tickets_sold_not_negative', sql`${table.ticketsSold} >= 0`),
    check(
      'ticket_types_per_order_bounds',
      sql`${table.minPerOrder} >= 1 and ${table.maxPerOrder} >= ${table.minPerOrder}`,
    ),
    check(
      'ticket_types_per_buyer_bounds',
      sql`${table.maxPerBuyer} is null or ${table.maxPerBuyer} >= ${table.minPerOrder}`,
    ),
  ],
);

/**
 * Every plain word (3–40 letters or digits) of every event that has been listed: the dictionary
 * typos are corrected against ("cocnert" → "concert"), a few thousand short rows where comparing
 * the query with every title by trigrams read thousands of events. Filled by triggers on `events`
 * (migration 0007), so every way an event is written feeds it. Words of events cancelled or
 * changed since stay: they match nothing a caller sees, and no cursor or answer names them.
 */
export const searchWords = catalog.table(
  'search_words',
  {
    word: text().primaryKey(),
    /** In order of arrival: a cursor names the dictionary its first page was corrected with. */
    id: bigint({ mode: 'number' }).notNull().generatedAlwaysAsIdentity(),
  },
  // GIN, not GiST: the KNN order of a trigram GiST index walked most of a 200,000-word
  // dictionary (94 ms), where `%` through GIN reads the few words sharing trigrams (0.4 ms).
  (table) => [index('search_words_word_trigram_idx').using('gin', table.word.op('gin_trgm_ops'))],
);

/**
 * Organizations whose closure catalog carried out: no event is created in them any more (identity
 * removes their members too, but this closes the moment in between).
 */
export const closedOrganizations = catalog.table('closed_organizations', {
  organizationId: uuid('organization_id').primaryKey(),
  closureId: uuid('closure_id').notNull(),
  closedAt: timestamp('closed_at', { withTimezone: true }).notNull().defaultNow(),
});

/**
 * Test-mode organizations and sandboxes, as identity announced them (`organizationCreated`): their
 * events are theirs alone. An organization never leaves test mode, so a row is never removed.
 */
export const testModeOrganizations = catalog.table('test_mode_organizations', {
  organizationId: uuid('organization_id').primaryKey(),
  /** For a sandbox: the live organization it belongs to. */
  sandboxOf: uuid('sandbox_of'),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
});

/** Every state an event has been in: a snapshot after each change and the diff that led to it. */
export const eventVersions = catalog.table(
  'event_versions',
  {
    eventId: uuid('event_id')
      .notNull()
      .references(() => events.id, { onDelete: 'cascade' }),
    version: integer().notNull(),
    action: text().notNull(),
    snapshot: jsonb().notNull(),
    diff: jsonb().notNull(),
    actorId: uuid('actor_id'),
    requestId: text('request_id'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [primaryKey({ columns: [table.eventId, table.version] })],
);

/** Every column but the search vector, which only search reads (and which can be large). */
export const { searchVector: _searchVector, ...eventColumns } = getTableColumns(events);
export type EventRow = Omit<typeof events.$inferSelect, 'searchVector'>;
export type TicketTypeRow = typeof ticketTypes.$inferSelect;
export type EventVersionRow = typeof eventVersions.$inferSelect;
export type { AuditRow } from '@bilten/platform';

/** An organization as catalog knows it: its id (identity owns the rest). */
export type OrganizationRef = { id: string };
