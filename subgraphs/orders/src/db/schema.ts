import { brandContextTable, eventTables, personKeyTable, usageTables } from '@bilten/platform';
import { sql } from 'drizzle-orm';
import {
  boolean,
  check,
  foreignKey,
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

export const orders = pgSchema('orders');

/** Outbox, inbox and consumer positions: this subgraph's side of exactly-once events. */
export const eventStore = eventTables(orders);
export const { outbox, outboxSequences, inbox, consumerPositions } = eventStore;
/** Hourly usage rollups per organization and the jumps announced (issue 19, platform usage.ts). */
export const usage = usageTables(orders);
export const { usageHourly, usageJumps } = usage;

/** Each organization's brand as branding last published it: what this service renders with. */
export const brandContexts = brandContextTable(orders);

/**
 * Each person's data key (issue 18): buyers' and attendees' names and addresses are sealed under
 * it (db/person-data.ts). A person is a user id, or a guest's email index.
 */
export const personKeys = personKeyTable(orders);

// Orders are defined after reservations, which they point at.

// ---------------------------------------------------------------- the copy of catalog's offers

export const offerStatus = orders.enum('offer_status', ['DRAFT', 'PUBLISHED', 'CANCELLED', 'ENDED']);

export interface RefundPolicy {
  kind: 'FULL_UNTIL' | 'PARTIAL' | 'NONE';
  daysBeforeStart: number | null;
  percent: number | null;
}

/**
 * What selling one event needs, as catalog last announced it (`bilten.catalog.event.offer_changed`).
 * Its row is also the event's inventory lock: every hold takes it FOR UPDATE (see reservations.ts).
 */
export const offers = orders.table(
  'offers',
  {
    eventId: uuid('event_id').primaryKey(),
    organizationId: uuid('organization_id').notNull(),
    title: text().notNull(),
    status: offerStatus().notNull(),
    startsAt: timestamp('starts_at', { withTimezone: true }).notNull(),
    endsAt: timestamp('ends_at', { withTimezone: true }).notNull(),
    timezone: text().notNull(),
    currency: text().notNull(),
    /** Seats shared by all ticket types. */
    capacity: integer().notNull(),
    refundPolicy: jsonb('refund_policy').$type<RefundPolicy>().notNull(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [check('offers_capacity_positive', sql`${table.capacity} > 0`)],
);

export const offerTicketTypes = orders.table(
  'offer_ticket_types',
  {
    id: uuid().primaryKey(),
    eventId: uuid('event_id')
      .notNull()
      .references(() => offers.eventId),
    name: text().notNull(),
    /** In the offer's currency, minor units. */
    priceAmount: integer('price_amount').notNull(),
    capacity: integer().notNull(),
    salesStartAt: timestamp('sales_start_at', { withTimezone: true }),
    salesEndAt: timestamp('sales_end_at', { withTimezone: true }),
    minPerOrder: integer('min_per_order').notNull(),
    maxPerOrder: integer('max_per_order').notNull(),
    /** Most tickets one buyer may hold or buy of this type; null: no limit. */
    maxPerBuyer: integer('max_per_buyer'),
    transferable: boolean().notNull(),
    hidden: boolean().notNull(),
    /** Tickets of this type sold for good (checkout, from the next step of the orders issue). */
    sold: integer().notNull().default(0),
    /** Left out of the latest snapshot but named by holds or sales, which keep counting: not on sale. */
    withdrawn: boolean().notNull().default(false),
  },
  (table) => [
    index('offer_ticket_types_event_id_idx').on(table.eventId),
    check('offer_ticket_types_sold_not_negative', sql`${table.sold} >= 0`),
  ],
);

export type OfferRow = typeof offers.$inferSelect;
export type OfferTicketTypeRow = typeof offerTicketTypes.$inferSelect;

// ---------------------------------------------------------------- reservations

/**
 * HELD and CHECKED_OUT holds count against stock until `expires_at`; PURCHASED ones count as
 * `sold` on their ticket types instead (see order-payments.ts).
 */
export const RESERVATION_STATUSES = ['HELD', 'RELEASED', 'EXPIRED', 'CHECKED_OUT', 'PURCHASED'] as const;
export const reservationStatus = orders.enum('reservation_status', RESERVATION_STATUSES);

/**
 * Tickets held for one buyer. A hold counts against stock while `status in ('HELD', 'CHECKED_OUT')
 * and expires_at > now`; marking it EXPIRED afterwards is housekeeping that stock never waits for.
 */
export const reservations = orders.table(
  'reservations',
  {
    id: uuid().primaryKey(),
    /** The signed-in buyer; null for a guest, who proves ownership with the guest token instead. */
    buyerId: uuid('buyer_id'),
    /** SHA-256 (hex) of the guest token handed out with a guest's hold; null for signed-in buyers. */
    guestTokenHash: text('guest_token_hash'),
    /**
     * SHA-256 (hex) of the client address a guest hold came from: guests are capped per address
     * and event (GUEST_HOLDS_PER_ADDRESS), on every replica alike. Null for signed-in buyers.
     */
    guestClientKey: text('guest_client_key'),
    /**
     * The signed-in buyer's key for this request (`reserveTickets(input: { idempotencyKey })`): a
     * retry after a lost answer gets the same hold instead of a second one.
     */
    idempotencyKey: text('idempotency_key'),
    /** Set when the hold is a waiting-list offer (waiting-list.ts): the entry it was made for. */
    waitingListEntryId: uuid('waiting_list_entry_id'),
    eventId: uuid('event_id')
      .notNull()
      .references(() => offers.eventId),
    status: reservationStatus().notNull().default('HELD'),
    /** The offer's currency when reserved: the items' prices are in it. */
    currency: text().notNull(),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [
    // Counting an event's holds reads only the ones not released or marked expired (purchased
    // ones stay in it, but behind the scans: their expiry is past). Named by the values it drops,
    // since PostgreSQL refuses enum values in the migration that adds them.
    index('reservations_live_idx')
      .on(table.eventId, table.expiresAt)
      .where(sql`${table.status} not in ('RELEASED', 'EXPIRED')`),
    index('reservations_buyer_id_idx').on(table.buyerId),
    uniqueIndex('reservations_buyer_idempotency_key')
      .on(table.buyerId, table.idempotencyKey)
      .where(sql`${table.idempotencyKey} is not null`),
    index('reservations_guest_client_idx')
      .on(table.eventId, table.guestClientKey)
      .where(sql`${table.guestClientKey} is not null`),
    check('reservations_one_owner', sql`(${table.buyerId} is null) <> (${table.guestTokenHash} is null)`),
  ],
);

export const reservationItems = orders.table(
  'reservation_items',
  {
    reservationId: uuid('reservation_id').notNull(),
    ticketTypeId: uuid('ticket_type_id').notNull(),
    quantity: integer().notNull(),
    /** The ticket type's price when reserved, in the reservation's currency. */
    unitPriceAmount: integer('unit_price_amount').notNull(),
  },
  (table) => [
    primaryKey({ columns: [table.reservationId, table.ticketTypeId] }),
    foreignKey({ columns: [table.reservationId], foreignColumns: [reservations.id] }).onDelete('cascade'),
    foreignKey({ columns: [table.ticketTypeId], foreignColumns: [offerTicketTypes.id] }),
    index('reservation_items_ticket_type_id_idx').on(table.ticketTypeId),
    check('reservation_items_quantity_positive', sql`${table.quantity} > 0`),
  ],
);

export type ReservationRow = typeof reservations.$inferSelect;
export type ReservationItemRow = typeof reservationItems.$inferSelect;

// ---------------------------------------------------------------- orders

export const ORDER_STATUSES = [
  'PENDING_PAYMENT',
  'PAID',
  'PARTIALLY_REFUNDED',
  'REFUNDED',
  'EXPIRED',
  'CANCELLED',
] as const;
export const orderStatus = orders.enum('order_status', ORDER_STATUSES);

/**
 * A checked-out reservation (one order per reservation: checkout's idempotency). Its lines are
 * the reservation's items; amounts are in the reservation's currency, minor units.
 */
export const orderRecords = orders.table(
  'orders',
  {
    id: uuid().primaryKey(),
    reservationId: uuid('reservation_id')
      .notNull()
      .unique()
      .references(() => reservations.id),
    /** The signed-in buyer; null for a guest checkout (the reservation's guest token owns it). */
    buyerId: uuid('buyer_id'),
    eventId: uuid('event_id').notNull(),
    organizationId: uuid('organization_id').notNull(),
    /** Stored as last changed; a PENDING_PAYMENT order past `expires_at` reads EXPIRED (orders.ts). */
    status: orderStatus().notNull().default('PENDING_PAYMENT'),
    currency: text().notNull(),
    subtotalAmount: integer('subtotal_amount').notNull(),
    feesAmount: integer('fees_amount').notNull(),
    taxesAmount: integer('taxes_amount').notNull(),
    totalAmount: integer('total_amount').notNull(),
    refundedAmount: integer('refunded_amount').notNull().default(0),
    /** Billing's payment that paid it (null for a free order): any other payment of it is refunded. */
    paidPaymentId: uuid('paid_payment_id'),
    // Sealed under the buyer (db/person-data.ts): the user id, or for a guest the email index.
    buyerNameSealed: text('buyer_name_sealed').notNull(),
    buyerEmailSealed: text('buyer_email_sealed').notNull(),
    /** The blind index of the buyer's email: a guest's person id, and what per-buyer limits count by. Null until sealed. */
    buyerEmailIndex: text('buyer_email_index'),
    /** Names for the tickets, in order, as sealed JSON (`[{ "name": … }]`). */
    attendeesSealed: text('attendees_sealed').notNull(),
    /** The reservation's expiry: unpaid by then, the order is EXPIRED. */
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [
    index('orders_buyer_id_idx').on(table.buyerId, table.id),
    index('orders_event_id_idx').on(table.eventId),
    // Per-buyer limits count a guest's earlier purchases by email.
    index('orders_buyer_email_index_idx').on(table.buyerEmailIndex, table.eventId),
    check('orders_amounts_not_negative', sql`${table.totalAmount} >= 0 and ${table.refundedAmount} >= 0`),
  ],
);

export type OrderRow = typeof orderRecords.$inferSelect;
export type OrderStatus = OrderRow['status'];

// ---------------------------------------------------------------- tickets

/**
 * Ed25519 keys that sign tickets (adapters/ticket-keys.ts). The newest one whose `activates_at`
 * has come signs; every older one stays, since the tickets it signed stay valid until their event.
 */
export const ticketSigningKeys = orders.table('ticket_signing_keys', {
  kid: text().primaryKey(),
  publicJwk: jsonb('public_jwk').notNull(),
  /** AES-256-GCM: base64url of iv ‖ tag ‖ ciphertext of the private JWK (TICKET_KEY_ENCRYPTION_SECRET). */
  privateJwkEncrypted: text('private_jwk_encrypted').notNull(),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  /** Signing starts here; until then the key is only known to verifiers. */
  activatesAt: timestamp('activates_at', { withTimezone: true }).notNull().defaultNow(),
});

export type TicketSigningKeyRow = typeof ticketSigningKeys.$inferSelect;

export const TICKET_STATUSES = ['VALID', 'CHECKED_IN', 'VOID', 'TRANSFERRED'] as const;
export const ticketStatus = orders.enum('ticket_status', TICKET_STATUSES);

/** One admission, issued when its order is paid (order-payments.ts), with a signed payload for its QR code. */
export const tickets = orders.table(
  'tickets',
  {
    id: uuid().primaryKey(),
    orderId: uuid('order_id')
      .notNull()
      .references(() => orderRecords.id),
    eventId: uuid('event_id').notNull(),
    /** The event's organization, copied from the order: whose staff may check it in. */
    organizationId: uuid('organization_id').notNull(),
    ticketTypeId: uuid('ticket_type_id').notNull(),
    /** Whose key seals its personal data: the order's buyer, or its holder's email index once transferred. Null until sealed. */
    personId: text('person_id'),
    attendeeNameSealed: text('attendee_name_sealed').notNull(),
    status: ticketStatus().notNull().default('VALID'),
    /** Random, unique, inside the signed payload. */
    code: text().notNull().unique(),
    /** The signed payload (compact JWS) the QR code encodes, and the key that signed it. */
    signedPayload: text('signed_payload').notNull(),
    kid: text()
      .notNull()
      .references(() => ticketSigningKeys.kid),
    checkedInAt: timestamp('checked_in_at', { withTimezone: true }),
    checkedInGate: text('checked_in_gate'),
    /** Who holds it when it was transferred to them (transferTicket); null: the order's buyer. */
    holderEmailSealed: text('holder_email_sealed'),
    /** The blind index of the holder's email (the holder's person id); null: the order's buyer holds it. */
    holderEmailIndex: text('holder_email_index'),
    /** The ticket this one replaced by a transfer; its code is TRANSFERRED. */
    transferredFromId: uuid('transferred_from_id'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [
    index('tickets_order_id_idx').on(table.orderId),
    index('tickets_holder_email_index_idx').on(table.holderEmailIndex),
    index('tickets_event_id_idx').on(table.eventId, table.status),
    check(
      'tickets_checked_in_has_time',
      sql`${table.status} <> 'CHECKED_IN' or ${table.checkedInAt} is not null`,
    ),
  ],
);

export type TicketRow = typeof tickets.$inferSelect;
export type TicketStatus = TicketRow['status'];

// ---------------------------------------------------------------- event cancellations

export const CANCELLATION_STATUSES = ['RUNNING', 'DONE'] as const;
export const cancellationStatus = orders.enum('event_cancellation_status', CANCELLATION_STATUSES);

/**
 * The cancellation saga of one event (domain/cancellation.ts): one row per event, its counts raised
 * by each batch in the batch's own transaction, so a restart continues where it stopped.
 */
export const eventCancellations = orders.table('event_cancellations', {
  eventId: uuid('event_id').primaryKey(),
  organizationId: uuid('organization_id').notNull(),
  status: cancellationStatus().notNull().default('RUNNING'),
  holdsReleased: integer('holds_released').notNull().default(0),
  ordersCancelled: integer('orders_cancelled').notNull().default(0),
  refundsRequested: integer('refunds_requested').notNull().default(0),
  ticketsVoided: integer('tickets_voided').notNull().default(0),
  /** Batches committed so far. */
  batches: integer().notNull().default(0),
  startedAt: timestamp('started_at', { withTimezone: true }).notNull().defaultNow(),
  completedAt: timestamp('completed_at', { withTimezone: true }),
});

/** The refund the saga asked for each paid order: at most one per order, however often it runs. */
export const eventCancellationRefunds = orders.table(
  'event_cancellation_refunds',
  {
    orderId: uuid('order_id')
      .primaryKey()
      .references(() => orderRecords.id),
    eventId: uuid('event_id').notNull(),
    refundId: uuid('refund_id').notNull().unique(),
    /** In the order's currency, minor units: what was not refunded yet when asked. */
    amount: integer().notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [index('event_cancellation_refunds_event_id_idx').on(table.eventId)],
);

export type EventCancellationRow = typeof eventCancellations.$inferSelect;

// ---------------------------------------------------------------- refunds orders asked for

export const REFUND_REASONS = [
  'EVENT_CANCELLED',
  'CUSTOMER_REQUEST',
  'PAID_AFTER_EXPIRY',
  'DUPLICATE_PAYMENT',
] as const;
export const refundReason = orders.enum('refund_reason', REFUND_REASONS);

/**
 * Every refund orders asked billing for outside the cancellation saga (a payment after expiry or
 * cancellation, or a second payment of a paid order): billing's `refund.succeeded` with its id is recorded here, not as a refund of a
 * sale, since nothing was sold.
 */
export const refundRequests = orders.table(
  'refund_requests',
  {
    refundId: uuid('refund_id').primaryKey(),
    orderId: uuid('order_id')
      .notNull()
      .references(() => orderRecords.id),
    /** The payment refunded in full. */
    paymentId: uuid('payment_id').notNull().unique(),
    reason: refundReason().notNull(),
    amount: integer().notNull(),
    currency: text().notNull(),
    requestedAt: timestamp('requested_at', { withTimezone: true }).notNull().defaultNow(),
    /** When billing said the money went back. */
    refundedAt: timestamp('refunded_at', { withTimezone: true }),
  },
  (table) => [index('refund_requests_order_id_idx').on(table.orderId)],
);

// ---------------------------------------------------------------- fees and taxes

/**
 * An organization's fee and tax rules (checkout applies them; defaults are zero). Fees: a share of
 * the subtotal plus a fixed amount per ticket in the order's currency; taxes: a share of subtotal
 * plus fees. Shares in basis points (1/100 of a percent).
 */
export const organizationPricing = orders.table(
  'organization_pricing',
  {
    organizationId: uuid('organization_id').primaryKey(),
    feeBasisPoints: integer('fee_basis_points').notNull().default(0),
    /** Minor units per ticket, by currency code (`{"EUR": 50}`); a currency not named pays none. */
    feePerTicket: jsonb('fee_per_ticket').$type<Record<string, number>>().notNull().default({}),
    taxBasisPoints: integer('tax_basis_points').notNull().default(0),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [
    check(
      'organization_pricing_shares',
      sql`${table.feeBasisPoints} between 0 and 10000 and ${table.taxBasisPoints} between 0 and 10000`,
    ),
  ],
);

export type OrganizationPricingRow = typeof organizationPricing.$inferSelect;

// ---------------------------------------------------------------- waiting list

export const WAITING_LIST_STATUSES = ['WAITING', 'OFFERED', 'CLAIMED', 'LAPSED', 'LEFT'] as const;
export const waitingListStatus = orders.enum('waiting_list_status', WAITING_LIST_STATUSES);

/**
 * Buyers waiting for a sold-out event (or one ticket type of it), served in order of joining:
 * released stock becomes a hold of its own for the first who fits (OFFERED, `reservation_id`),
 * which they check out (CLAIMED) or let lapse (LAPSED, and the next in line is offered).
 */
export const waitingListEntries = orders.table(
  'waiting_list_entries',
  {
    id: uuid().primaryKey(),
    eventId: uuid('event_id')
      .notNull()
      .references(() => offers.eventId),
    /** Null: any ticket type of the event will do. */
    ticketTypeId: uuid('ticket_type_id'),
    userId: uuid('user_id').notNull(),
    /** Sealed under the user id (db/person-data.ts). */
    emailSealed: text('email_sealed').notNull(),
    quantity: integer().notNull(),
    status: waitingListStatus().notNull().default('WAITING'),
    /** The hold made for this entry when offered. */
    reservationId: uuid('reservation_id').references(() => reservations.id),
    offeredAt: timestamp('offered_at', { withTimezone: true }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [
    index('waiting_list_entries_queue_idx').on(table.eventId, table.status, table.id),
    index('waiting_list_entries_user_id_idx').on(table.userId),
    // One place in line per buyer and event.
    uniqueIndex('waiting_list_entries_one_per_user')
      .on(table.eventId, table.userId)
      .where(sql`${table.status} in ('WAITING', 'OFFERED')`),
    check('waiting_list_entries_quantity_positive', sql`${table.quantity} > 0`),
  ],
);

export type WaitingListEntryRow = typeof waitingListEntries.$inferSelect;

// ---------------------------------------------------------------- consents

/**
 * Buyers' ORGANIZER_SHARING consents as identity last published them (consentChanged, issue 18):
 * an organization sees a buyer's email only while the buyer's answer for it is granted.
 * `changed_at` keeps an older event from overwriting a newer answer.
 */
export const organizerSharingConsents = orders.table(
  'organizer_sharing_consents',
  {
    userId: uuid('user_id').notNull(),
    organizationId: uuid('organization_id').notNull(),
    granted: boolean().notNull(),
    textVersion: text('text_version').notNull(),
    changedAt: timestamp('changed_at', { withTimezone: true }).notNull(),
  },
  (table) => [primaryKey({ columns: [table.userId, table.organizationId] })],
);

export type OrganizerSharingConsentRow = typeof organizerSharingConsents.$inferSelect;
