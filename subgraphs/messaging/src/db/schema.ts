import { eventTables } from '@bilten/platform';
import { sql } from 'drizzle-orm';
import { index, jsonb, pgSchema, primaryKey, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';

export const messaging = pgSchema('messaging');

/** Outbox, inbox and consumer positions: this subgraph's side of exactly-once events. */
export const eventStore = eventTables(messaging);
export const { outbox, outboxSequences, inbox, consumerPositions } = eventStore;

export const notificationChannel = messaging.enum('notification_channel', [
  'IN_APP',
  'EMAIL',
  'WEB_PUSH',
  'SMS',
]);
export const notificationCategory = messaging.enum('notification_category', [
  'TRANSACTIONAL',
  'EVENT_UPDATES',
  'ANNOUNCEMENTS',
  'MARKETING',
  'ACCOUNT_SECURITY',
]);
export type Channel = (typeof notificationChannel.enumValues)[number];
export type Category = (typeof notificationCategory.enumValues)[number];

export const notifications = messaging.table(
  'notifications',
  {
    id: uuid().primaryKey(),
    recipientId: uuid('recipient_id').notNull(),
    channel: notificationChannel().notNull(),
    category: notificationCategory().notNull().default('ANNOUNCEMENTS'),
    subject: text().notNull(),
    body: text().notNull(),
    readAt: timestamp('read_at', { withTimezone: true }),
    seenAt: timestamp('seen_at', { withTimezone: true }),
    archivedAt: timestamp('archived_at', { withTimezone: true }),
    /** The domain event a workflow made it from: one notification per recipient and event, whatever redelivers. */
    sourceEventId: uuid('source_event_id'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [
    index('notifications_recipient_id_id_idx').on(table.recipientId, table.id.desc()),
    // unreadCount and the unread filter read only these rows.
    index('notifications_unread_idx')
      .on(table.recipientId, table.id.desc())
      .where(sql`read_at is null and archived_at is null`),
    uniqueIndex('notifications_source_event_recipient_idx').on(table.sourceEventId, table.recipientId),
  ],
);

export type NotificationRow = typeof notifications.$inferSelect;

/** One row per mail sent for an event: written in the consumer's transaction, so each event mails once. */
export const sentEmails = messaging.table('sent_emails', {
  eventId: uuid('event_id').primaryKey(),
  recipient: text().notNull(),
  template: text().notNull(),
  messageId: text('message_id').notNull(),
  sentAt: timestamp('sent_at', { withTimezone: true }).notNull().defaultNow(),
});

/** A channel setting of one category: `all`, and per channel an override (a channel without one inherits `all`). */
export interface CategorySetting {
  all: boolean;
  channels: Partial<Record<Channel, boolean>>;
}

/** One row per user who changed anything; a user without one has the defaults (domain/preferences.ts). */
export const notificationPreferences = messaging.table('notification_preferences', {
  userId: uuid('user_id').primaryKey(),
  /** Only categories the user set; the others keep their defaults. */
  categories: jsonb().$type<Partial<Record<Category, CategorySetting>>>().notNull().default({}),
  /** IANA name, validated on the way in. */
  timezone: text(),
  /** `HH:MM` local times in `timezone`; both or neither. */
  quietHoursStart: text('quiet_hours_start'),
  quietHoursEnd: text('quiet_hours_end'),
  /** MARKETING can be on only with this recorded: when and where the user agreed. */
  marketingConsentAt: timestamp('marketing_consent_at', { withTimezone: true }),
  marketingConsentSource: text('marketing_consent_source'),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
});

export type PreferencesRow = typeof notificationPreferences.$inferSelect;

export const follows = messaging.table(
  'follows',
  {
    userId: uuid('user_id').notNull(),
    organizationId: uuid('organization_id').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [
    primaryKey({ columns: [table.userId, table.organizationId] }),
    // The fan-out walks an organization's followers in user-id order, a batch at a time.
    index('follows_organization_id_user_id_idx').on(table.organizationId, table.userId),
  ],
);
/** An organization as messaging knows it: its id (identity owns the rest). */
export interface OrganizationRef {
  id: string;
}

/**
 * The address book: where to mail each user, fed by identity's events (messaging never asks
 * identity). The address is encrypted with the platform key ring, bound to its user
 * (RECIPIENT_EMAIL_COLUMN); `email_set_at` is when identity set it, so an older event never
 * overwrites a newer address whatever order they arrive in.
 */
export const recipients = messaging.table('recipients', {
  userId: uuid('user_id').primaryKey(),
  emailSealed: text('email_sealed').notNull(),
  emailSetAt: timestamp('email_set_at', { withTimezone: true }).notNull(),
  /** From the registration; null until it arrives (an address change can come first). */
  displayName: text('display_name'),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
});

export type RecipientRow = typeof recipients.$inferSelect;

/** Where the recipients' addresses are, for `npm run keys:rotate`. */
export const RECIPIENT_EMAIL_COLUMN = {
  schema: 'messaging',
  table: 'recipients',
  column: 'email_sealed',
  key: 'user_id',
} as const;

/**
 * Organizations as identity last published them: whom a follower mail is from, and which ones can
 * be followed (those messaging has heard of and that are not closed).
 */
export const organizationNames = messaging.table('organization_names', {
  organizationId: uuid('organization_id').primaryKey(),
  /** Null while only the closure has arrived (identity's events reach each consumer in its own time). */
  name: text(),
  /** When identity set this name: an older event never overwrites a newer one. */
  namedAt: timestamp('named_at', { withTimezone: true }),
  /** Identity closed it: nobody can follow it any more. */
  closedAt: timestamp('closed_at', { withTimezone: true }),
});
