import { brandContextTable, eventTables, personKeyTable, usageTables } from '@bilten/platform';
import { sql } from 'drizzle-orm';
import {
  boolean,
  index,
  integer,
  jsonb,
  pgSchema,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';

export const messaging = pgSchema('messaging');

/** Outbox, inbox and consumer positions: this subgraph's side of exactly-once events. */
export const eventStore = eventTables(messaging);
export const { outbox, outboxSequences, inbox, consumerPositions } = eventStore;
/** Hourly usage rollups per organization and the jumps announced (issue 19, platform usage.ts). */
export const usage = usageTables(messaging);
export const { usageHourly, usageJumps } = usage;

/** Each organization's brand as branding last published it: what this service renders with. */
export const brandContexts = brandContextTable(messaging);

/**
 * Each person's data key (issue 18, per-person keys): a user's keyed by their user id, a guest's
 * (an order's buyer or a ticket's holder without an account) by the blind index of their address.
 * Addresses, phone numbers and display names are sealed under it (db/person-keys.ts).
 */
export const personKeys = personKeyTable(messaging);

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
    /** The rendered texts, sealed under the recipient's key, bound to the row (NOTIFICATION_COLUMNS). */
    subjectSealed: text('subject_sealed').notNull(),
    bodySealed: text('body_sealed').notNull(),
    readAt: timestamp('read_at', { withTimezone: true }),
    seenAt: timestamp('seen_at', { withTimezone: true }),
    archivedAt: timestamp('archived_at', { withTimezone: true }),
    /** The domain event a workflow made it from: one notification per recipient and event, whatever redelivers. */
    sourceEventId: uuid('source_event_id'),
    /** A key of KINDS; null for notifications sent before workflows (and `sendNotification`'s). */
    kind: text(),
    /** Where the notification leads (the event, the order), when it leads somewhere. */
    url: text(),
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

export type SealedNotificationRow = typeof notifications.$inferSelect;

/** A notification as it is shown (and the GraphQL `Notification`): its texts opened (db/notification-texts.ts). */
export type NotificationRow = Omit<SealedNotificationRow, 'subjectSealed' | 'bodySealed'> & {
  subject: string;
  body: string;
};

/** Where notifications keep their texts: what their sealed values are bound to (`columnAad`). */
export const NOTIFICATION_COLUMNS = {
  subject: { schema: 'messaging', table: 'notifications', column: 'subject_sealed', key: 'id' },
  body: { schema: 'messaging', table: 'notifications', column: 'body_sealed', key: 'id' },
} as const;

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
  /** The language of the user's notifications (`en`, `bs`); null: English. */
  locale: text(),
  /** For SMS: an E.164 number, sealed under the user's key bound to the user (PHONE_COLUMN). */
  phoneSealed: text('phone_sealed'),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
});

export type PreferencesRow = typeof notificationPreferences.$inferSelect;

/**
 * The user's consents for Bilten's own purposes (MARKETING_EMAIL, MARKETING_PUSH, ANALYTICS), as
 * identity last published them (consentChanged): identity holds the record, this copy answers every
 * delivery. `changed_at` keeps an older event from overwriting a newer answer.
 */
export const consents = messaging.table(
  'consents',
  {
    userId: uuid('user_id').notNull(),
    purpose: text().notNull(),
    granted: boolean().notNull(),
    textVersion: text('text_version').notNull(),
    /** Only for consents carried over from `notification_preferences.marketing_consent_*`. */
    legacySource: text('legacy_source'),
    changedAt: timestamp('changed_at', { withTimezone: true }).notNull(),
  },
  (table) => [primaryKey({ columns: [table.userId, table.purpose] })],
);

export type ConsentCopyRow = typeof consents.$inferSelect;

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
 * identity). The address and name are sealed under the user's own key, bound to the row
 * (RECIPIENT_EMAIL_COLUMN, DISPLAY_NAME_COLUMN); `email_set_at` is when identity set it, so an older event never
 * overwrites a newer address whatever order they arrive in.
 */
export const recipients = messaging.table('recipients', {
  userId: uuid('user_id').primaryKey(),
  emailSealed: text('email_sealed').notNull(),
  emailSetAt: timestamp('email_set_at', { withTimezone: true }).notNull(),
  /** From the registration, sealed; null until it arrives (an address change can come first). */
  displayNameSealed: text('display_name_sealed'),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
});

export type RecipientRow = typeof recipients.$inferSelect;

/** Where the recipients' addresses are: what their sealed values are bound to (`columnAad`). */
export const RECIPIENT_EMAIL_COLUMN = {
  schema: 'messaging',
  table: 'recipients',
  column: 'email_sealed',
  key: 'user_id',
} as const;

export const DISPLAY_NAME_COLUMN = {
  schema: 'messaging',
  table: 'recipients',
  column: 'display_name_sealed',
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
  /** A test-mode organization or sandbox: its mails, pushes and SMS are captured (test_messages), never sent. */
  testMode: boolean('test_mode').notNull().default(false),
});

/** Where the users' phone numbers are: what their sealed values are bound to (`columnAad`). */
export const PHONE_COLUMN = {
  schema: 'messaging',
  table: 'notification_preferences',
  column: 'phone_sealed',
  key: 'user_id',
} as const;

export const deliveryStatus = messaging.enum('delivery_status', [
  /** Waiting for its next attempt (`next_attempt_at`): new, retrying, or held by quiet hours. */
  'QUEUED',
  /** The transport accepted it (SMTP 250, push service 201, SMS provider's id). */
  'SENT',
  /** The provider reported it reached the recipient (webhook). */
  'DELIVERED',
  'OPENED',
  'CLICKED',
  /** Permanent: the address bounced; later sends to it are SUPPRESSED. */
  'BOUNCED',
  /** The recipient marked it as spam; later non-critical mail to the address is SUPPRESSED. */
  'COMPLAINED',
  /** Gave up: attempts exhausted or a permanent error (a critical one falls back to another channel). */
  'FAILED',
  /** Not sent: the address is suppressed (bounce, complaint, invalid number). */
  'SUPPRESSED',
  /** Not sent: a test-mode organization's message, kept in test_messages for `testMessages`. */
  'CAPTURED',
]);
export type DeliveryStatus = (typeof deliveryStatus.enumValues)[number];

/**
 * One message to one recipient on one channel other than IN_APP (stored in `notifications`): the
 * queue the delivery worker drains and the record engagement updates. Unique per source event,
 * recipient and channel, so a redelivered event enqueues nothing twice. What is sent is rendered
 * when it is sent, from `data_sealed` (the template's variables, which can hold link tokens),
 * encrypted with the key ring bound to the row; the address is sealed under its person's key
 * (DELIVERY_COLUMNS).
 */
export const deliveries = messaging.table(
  'deliveries',
  {
    id: uuid().primaryKey(),
    /** A key of KINDS (domain/delivery-rules.ts). */
    kind: text().notNull(),
    category: notificationCategory().notNull(),
    critical: boolean().notNull(),
    channel: notificationChannel().notNull(),
    /** Rendered at send time with the kind's template, in `locale`. */
    locale: text().notNull().default('en'),
    /** The domain event (or, for fan-outs and fallbacks, a UUID derived from it) this delivery is for. */
    sourceEventId: uuid('source_event_id').notNull(),
    /** Null for guests (an order's buyer without an account, a ticket's new holder). */
    recipientId: uuid('recipient_id'),
    /**
     * EMAIL: the address; SMS: the number; WEB_PUSH: the subscription's id. Sealed under the
     * recipient's key, or for a guest under the key of `address_index` (DELIVERY_COLUMNS).
     */
    addressSealed: text('address_sealed').notNull(),
    /** A guest's person id: the blind index of the address; null for an account's delivery. */
    addressIndex: text('address_index'),
    /** HMAC of the normalized address (addressHash): suppression, the hourly limit, stats, without decrypting. */
    addressHash: text('address_hash').notNull(),
    dataSealed: text('data_sealed').notNull(),
    /** For stats: the organization and event a delivery is about, when it is about one. */
    organizationId: uuid('organization_id'),
    eventId: uuid('event_id'),
    /** The delivery of another channel that gave up, when this one is its fallback. */
    fallbackOf: uuid('fallback_of'),
    status: deliveryStatus().notNull().default('QUEUED'),
    attempts: integer().notNull().default(0),
    nextAttemptAt: timestamp('next_attempt_at', { withTimezone: true }).notNull().defaultNow(),
    lastError: text('last_error'),
    /** Which transport sent it (`smtp`, `smtp-fallback`, `web-push`, `sms-http`, `log`). */
    transport: text(),
    /** The Message-ID (email) or the provider's id (SMS): what webhooks name it by. */
    providerMessageId: text('provider_message_id'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    sentAt: timestamp('sent_at', { withTimezone: true }),
    deliveredAt: timestamp('delivered_at', { withTimezone: true }),
    openedAt: timestamp('opened_at', { withTimezone: true }),
    clickedAt: timestamp('clicked_at', { withTimezone: true }),
    /** When it bounced, was complained about, failed or was suppressed. */
    endedAt: timestamp('ended_at', { withTimezone: true }),
  },
  (table) => [
    uniqueIndex('deliveries_source_recipient_channel_idx').on(
      table.sourceEventId,
      table.addressHash,
      table.channel,
    ),
    // The worker's claim: due QUEUED rows, oldest first.
    index('deliveries_due_idx').on(table.nextAttemptAt).where(sql`status = 'QUEUED'`),
    index('deliveries_provider_message_id_idx').on(table.providerMessageId),
    index('deliveries_address_hash_created_at_idx').on(table.addressHash, table.createdAt),
    index('deliveries_organization_id_created_at_idx').on(table.organizationId, table.createdAt),
  ],
);
export type DeliveryRow = typeof deliveries.$inferSelect;

/** Where deliveries keep the address (per-person key) and link tokens (key ring, `npm run keys:rotate`). */
export const DELIVERY_COLUMNS = [
  { schema: 'messaging', table: 'deliveries', column: 'address_sealed', key: 'id' },
  { schema: 'messaging', table: 'deliveries', column: 'data_sealed', key: 'id' },
] as const;

/** Each attempt of a delivery: when, through which transport, and what came back. */
export const deliveryAttempts = messaging.table(
  'delivery_attempts',
  {
    deliveryId: uuid('delivery_id')
      .notNull()
      .references(() => deliveries.id, { onDelete: 'cascade' }),
    attempt: integer().notNull(),
    transport: text().notNull(),
    /** SENT, CAPTURED (test mode), or the error class: TRANSIENT (retried) or PERMANENT. */
    outcome: text().notNull(),
    /** The provider's answer, one line, without personal data. */
    detail: text(),
    at: timestamp({ withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [primaryKey({ columns: [table.deliveryId, table.attempt] })],
);

/**
 * Addresses nothing more goes to (by `address_hash`): a hard bounce, a spam complaint, a number
 * the SMS provider calls invalid. A changed address has another hash, so it is mailed again.
 */
export const suppressedAddresses = messaging.table(
  'suppressed_addresses',
  {
    addressHash: text('address_hash').notNull(),
    channel: notificationChannel().notNull(),
    /** BOUNCE, COMPLAINT or INVALID_NUMBER. */
    reason: text().notNull(),
    /** The delivery that reported it. */
    deliveryId: uuid('delivery_id'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [primaryKey({ columns: [table.addressHash, table.channel] })],
);

/** A browser's Web Push subscription (PushSubscription.toJSON()); a 404/410 from its service removes it. */
export const pushSubscriptions = messaging.table(
  'push_subscriptions',
  {
    id: uuid().primaryKey(),
    userId: uuid('user_id').notNull(),
    /** The push service's URL for this browser: unique, so registering it again updates it. */
    endpoint: text().notNull().unique(),
    p256dh: text().notNull(),
    auth: text().notNull(),
    userAgent: text('user_agent'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    lastUsedAt: timestamp('last_used_at', { withTimezone: true }),
  },
  (table) => [index('push_subscriptions_user_id_idx').on(table.userId)],
);
export type PushSubscriptionRow = typeof pushSubscriptions.$inferSelect;

/**
 * Orders as messaging knows them, from orders' and billing's events: who to tell about an order
 * (payment failed, refund issued) and, once paid and until refunded or cancelled, the ticket holders
 * of its event (rescheduled, cancelled, reminders, announcements). A transferred ticket's new
 * holder is a row of its own, keyed by the new ticket's id.
 */
export const orderBook = messaging.table(
  'order_book',
  {
    /** The order's id, or for a transferred ticket the new ticket's id. */
    id: uuid().primaryKey(),
    orderId: uuid('order_id').notNull(),
    eventId: uuid('event_id').notNull(),
    organizationId: uuid('organization_id').notNull(),
    /** The buyer's (or new holder's) account, when they have one. */
    userId: uuid('user_id'),
    /** Sealed under the account's key, or a guest's (`email_index`), bound to the row (ORDER_BOOK_EMAIL_COLUMN). */
    emailSealed: text('email_sealed').notNull(),
    /** Blind index of the address: a guest's person id, and how erasure finds guest rows; null only until sealed. */
    emailIndex: text('email_index'),
    /** The buyer's (or holder's) name, sealed like the address (ORDER_BOOK_NAME_COLUMN). */
    nameSealed: text('name_sealed').notNull(),
    eventTitle: text('event_title').notNull(),
    totalAmount: integer('total_amount').notNull(),
    currency: text().notNull(),
    /** Set when paid (or, for a transfer, received): a ticket holder from then on. */
    holdingSince: timestamp('holding_since', { withTimezone: true }),
    /** Refunded in full, cancelled, or transferred away: no longer a holder. */
    releasedAt: timestamp('released_at', { withTimezone: true }),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [
    index('order_book_order_id_idx').on(table.orderId),
    index('order_book_email_index_idx').on(table.emailIndex),
    // The holders of an event, walked in id order a batch at a time.
    index('order_book_holders_idx')
      .on(table.eventId, table.id)
      .where(sql`holding_since is not null and released_at is null`),
  ],
);
export type OrderBookRow = typeof orderBook.$inferSelect;

export const ORDER_BOOK_EMAIL_COLUMN = {
  schema: 'messaging',
  table: 'order_book',
  column: 'email_sealed',
  key: 'id',
} as const;

export const ORDER_BOOK_NAME_COLUMN = { ...ORDER_BOOK_EMAIL_COLUMN, column: 'name_sealed' } as const;

/**
 * Published events as catalog last told messaging: what reminders and announcements need (title,
 * start, organization) and when the reminder of the current start went out.
 */
export const eventSchedules = messaging.table(
  'event_schedules',
  {
    eventId: uuid('event_id').primaryKey(),
    organizationId: uuid('organization_id').notNull(),
    title: text().notNull(),
    startsAt: timestamp('starts_at', { withTimezone: true }).notNull(),
    timezone: text().notNull(),
    /** A one-line place: the venue's name and city, or "online". */
    place: text().notNull(),
    cancelledAt: timestamp('cancelled_at', { withTimezone: true }),
    /** The start the last reminder was for; a reschedule makes it differ, so it is reminded again. */
    remindedFor: timestamp('reminded_for', { withTimezone: true }),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [
    // The reminder sweep: upcoming, not cancelled.
    index('event_schedules_starts_at_idx').on(table.startsAt).where(sql`cancelled_at is null`),
  ],
);

/** What an organizer's ADMIN sent to an event's ticket holders (sendAnnouncement). */
export const announcements = messaging.table(
  'announcements',
  {
    id: uuid().primaryKey(),
    eventId: uuid('event_id').notNull(),
    organizationId: uuid('organization_id').notNull(),
    postedBy: uuid('posted_by').notNull(),
    subject: text().notNull(),
    body: text().notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [index('announcements_event_id_idx').on(table.eventId)],
);

/**
 * What a test-mode organization (or sandbox) would have sent: rendered by the delivery worker as
 * for real, kept instead of handed to a transport, readable through `testMessages` so an
 * integrator can test a whole flow without a mailbox. Kept 7 days.
 */
export const testMessages = messaging.table(
  'test_messages',
  {
    id: uuid().primaryKey(),
    organizationId: uuid('organization_id').notNull(),
    deliveryId: uuid('delivery_id')
      .notNull()
      .unique()
      .references(() => deliveries.id, { onDelete: 'cascade' }),
    kind: text().notNull(),
    channel: notificationChannel().notNull(),
    /** The address, number or push subscription it was for (test data, shown to the organization). */
    recipient: text().notNull(),
    /** Email: subject; push: title; SMS: null. */
    subject: text(),
    text: text().notNull(),
    html: text(),
    capturedAt: timestamp('captured_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [
    index('test_messages_organization_id_captured_at_idx').on(table.organizationId, table.capturedAt),
  ],
);
export type TestMessageRow = typeof testMessages.$inferSelect;

/**
 * An organization's outbound webhook endpoint (domain/webhook-endpoints.ts): where its domain
 * events go, signed per Standard Webhooks. The secret is encrypted bound to the row
 * (WEBHOOK_SECRET_COLUMNS); after a rotation the previous one keeps signing, as a second
 * signature, until `previous_secret_expires_at`.
 */
export const webhookEndpoints = messaging.table(
  'webhook_endpoints',
  {
    id: uuid().primaryKey(),
    organizationId: uuid('organization_id').notNull(),
    url: text().notNull(),
    description: text(),
    /** Keys of WEBHOOK_EVENT_TYPES (domain/webhook-events.ts). */
    eventTypes: text('event_types').array().notNull(),
    /** False once the endpoint answered 410 Gone (or was turned off); nothing more is sent. */
    enabled: boolean().notNull().default(true),
    disabledReason: text('disabled_reason'),
    secretSealed: text('secret_sealed').notNull(),
    previousSecretSealed: text('previous_secret_sealed'),
    previousSecretExpiresAt: timestamp('previous_secret_expires_at', { withTimezone: true }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [index('webhook_endpoints_organization_id_id_idx').on(table.organizationId, table.id.desc())],
);
export type WebhookEndpointRow = typeof webhookEndpoints.$inferSelect;

/** Where webhook endpoints keep their signing secrets, for `npm run keys:rotate`. */
export const WEBHOOK_SECRET_COLUMNS = [
  { schema: 'messaging', table: 'webhook_endpoints', column: 'secret_sealed', key: 'id' },
  { schema: 'messaging', table: 'webhook_endpoints', column: 'previous_secret_sealed', key: 'id' },
] as const;

export const webhookDeliveryStatus = messaging.enum('webhook_delivery_status', [
  'PENDING',
  'DELIVERED',
  'FAILED',
]);

/**
 * One message to one endpoint: the queue the webhook worker drains and the endpoint's delivery log.
 * Unique per source event and endpoint (replays aside), so a redelivered domain event enqueues
 * once; a replay is a row of its own with the same `message_id` and payload. The payload holds ids,
 * statuses and amounts, nothing personal, so it is stored as sent.
 */
export const webhookDeliveries = messaging.table(
  'webhook_deliveries',
  {
    id: uuid().primaryKey(),
    endpointId: uuid('endpoint_id')
      .notNull()
      .references(() => webhookEndpoints.id, { onDelete: 'cascade' }),
    organizationId: uuid('organization_id').notNull(),
    /** The domain event it is made from. */
    sourceEventId: uuid('source_event_id').notNull(),
    /** The delivery this one replays, for a replay. */
    replayOf: uuid('replay_of'),
    /** `webhook-id`: `msg_` and the source event's id, the same on every attempt and replay. */
    messageId: text('message_id').notNull(),
    eventType: text('event_type').notNull(),
    payload: text().notNull(),
    status: webhookDeliveryStatus().notNull().default('PENDING'),
    attempts: integer().notNull().default(0),
    /** When PENDING: the next attempt (or, while one runs, the end of its lease); null once ended. */
    nextAttemptAt: timestamp('next_attempt_at', { withTimezone: true }).defaultNow(),
    lastResponseStatus: integer('last_response_status'),
    lastError: text('last_error'),
    lastDurationMs: integer('last_duration_ms'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    deliveredAt: timestamp('delivered_at', { withTimezone: true }),
  },
  (table) => [
    uniqueIndex('webhook_deliveries_source_endpoint_idx')
      .on(table.sourceEventId, table.endpointId)
      .where(sql`replay_of is null`),
    // The worker's claim: due PENDING rows, oldest first.
    index('webhook_deliveries_due_idx').on(table.nextAttemptAt).where(sql`status = 'PENDING'`),
    // The delivery log: an endpoint's deliveries, newest first.
    index('webhook_deliveries_endpoint_id_id_idx').on(table.endpointId, table.id.desc()),
  ],
);
export type WebhookDeliveryRow = typeof webhookDeliveries.$inferSelect;

/** Each attempt of a webhook delivery: what the endpoint answered (or why nothing was), and how long it took. */
export const webhookDeliveryAttempts = messaging.table(
  'webhook_delivery_attempts',
  {
    deliveryId: uuid('delivery_id')
      .notNull()
      .references(() => webhookDeliveries.id, { onDelete: 'cascade' }),
    attempt: integer().notNull(),
    responseStatus: integer('response_status'),
    error: text(),
    durationMs: integer('duration_ms').notNull(),
    at: timestamp({ withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [primaryKey({ columns: [table.deliveryId, table.attempt] })],
);
