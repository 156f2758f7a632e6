import { eventTables } from '@bilten/platform';
import { index, pgSchema, text, timestamp, uuid } from 'drizzle-orm/pg-core';

export const messaging = pgSchema('messaging');

/** Outbox, inbox and consumer positions: this subgraph's side of exactly-once events. */
export const eventStore = eventTables(messaging);
export const { outbox, outboxSequences, inbox, consumerPositions } = eventStore;

export const notificationChannel = messaging.enum('notification_channel', ['IN_APP', 'EMAIL']);

export const notifications = messaging.table(
  'notifications',
  {
    id: uuid().primaryKey(),
    recipientId: uuid('recipient_id').notNull(),
    channel: notificationChannel().notNull(),
    subject: text().notNull(),
    body: text().notNull(),
    readAt: timestamp('read_at', { withTimezone: true }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [index('notifications_recipient_id_id_idx').on(table.recipientId, table.id.desc())],
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
