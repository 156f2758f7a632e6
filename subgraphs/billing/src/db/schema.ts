import { eventTables } from '@bilten/platform';
import { sql } from 'drizzle-orm';
import {
  check,
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

export const billing = pgSchema('billing');

/** Outbox, inbox and consumer positions: this subgraph's side of exactly-once events. */
export const eventStore = eventTables(billing);
export const { outbox, outboxSequences, inbox, consumerPositions } = eventStore;

// ---------------------------------------------------------------- what orders asks to charge

/**
 * Billing's copy of each order waiting for payment (`bilten.orders.order.created`): the amount is
 * orders', never a client's; who may pay it is the buyer's account, or a guest's token (its hash).
 */
export const orderCharges = billing.table('order_charges', {
  orderId: uuid('order_id').primaryKey(),
  eventId: uuid('event_id').notNull(),
  organizationId: uuid('organization_id').notNull(),
  /** The signed-in buyer; null for a guest. */
  buyerId: uuid('buyer_id'),
  /** SHA-256 (hex) of the guest's reservation token; null for a signed-in buyer. */
  guestTokenHash: text('guest_token_hash'),
  buyerEmail: text('buyer_email').notNull(),
  amount: integer().notNull(),
  currency: text().notNull(),
  /** Unpaid by then, orders expires the order: no new payment starts after it. */
  expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
  /** The event's refund policy when the order was made: `requestRefund` grants by it. */
  refundPolicy: jsonb('refund_policy').$type<RefundPolicy>().notNull(),
  eventStartsAt: timestamp('event_starts_at', { withTimezone: true }).notNull(),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
});

export type OrderChargeRow = typeof orderCharges.$inferSelect;

export interface RefundPolicy {
  kind: 'FULL_UNTIL' | 'PARTIAL' | 'NONE';
  daysBeforeStart: number | null;
  percent: number | null;
}

// ---------------------------------------------------------------- payments

export const PAYMENT_PROVIDERS = ['STRIPE', 'BRAINTREE', 'SANDBOX'] as const;
export const paymentProvider = billing.enum('payment_provider', PAYMENT_PROVIDERS);
export type PaymentProviderName = (typeof PAYMENT_PROVIDERS)[number];

/**
 * PENDING while the provider is asked; REQUIRES_ACTION while the buyer must act (3-D Secure);
 * then SUCCEEDED or FAILED. Refunds do not change it (see `refunded_amount` and refunds).
 */
export const PAYMENT_STATUSES = ['PENDING', 'REQUIRES_ACTION', 'SUCCEEDED', 'FAILED'] as const;
export const paymentStatus = billing.enum('payment_status', PAYMENT_STATUSES);
export type PaymentStatus = (typeof PAYMENT_STATUSES)[number];

/** What may be kept of a card: never its number or CVC (PCI DSS SAQ A). */
export interface CardSummary {
  brand: string;
  last4: string;
  expMonth: number;
  expYear: number;
}

/** What the buyer must do next for a REQUIRES_ACTION payment (e.g. 3-D Secure). */
export interface NextAction {
  type: 'REDIRECT_TO_URL' | 'USE_SDK';
  url: string | null;
  /** For the provider's client SDK (Stripe's PaymentIntent client secret). */
  clientSecret: string | null;
}

/**
 * One attempt to pay an order. The unique partial index `payments_one_live_per_order` lets an
 * order have at most one payment that is not FAILED: of concurrent attempts one row is inserted
 * and the others find it, so an order is charged at most once; after a failure the buyer may try
 * again with another method.
 */
export const payments = billing.table(
  'payments',
  {
    id: uuid().primaryKey(),
    orderId: uuid('order_id').notNull(),
    provider: paymentProvider().notNull(),
    status: paymentStatus().notNull().default('PENDING'),
    amount: integer().notNull(),
    currency: text().notNull(),
    /** The client's key for this attempt: the same key answers the same payment. */
    idempotencyKey: text('idempotency_key').notNull(),
    /** The provider's id (Stripe PaymentIntent, Braintree transaction), once it answered. */
    providerPaymentId: text('provider_payment_id'),
    failureCode: text('failure_code'),
    /** Safe for the buyer ("Your card was declined. Try another card."); provider details are logged only. */
    failureMessage: text('failure_message'),
    nextAction: jsonb('next_action').$type<NextAction>(),
    card: jsonb().$type<CardSummary>(),
    /** The payment-method token, sealed (platform encryption, key id inside); never a card number. */
    paymentMethodTokenSealed: text('payment_method_token_sealed'),
    refundedAmount: integer('refunded_amount').notNull().default(0),
    /** Provider calls made for it (retries included). */
    attempts: integer().notNull().default(0),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [
    index('payments_order_id_idx').on(table.orderId),
    uniqueIndex('payments_order_idempotency_key').on(table.orderId, table.idempotencyKey),
    uniqueIndex('payments_one_live_per_order').on(table.orderId).where(sql`${table.status} <> 'FAILED'`),
    uniqueIndex('payments_provider_payment_id').on(table.provider, table.providerPaymentId),
    check('payments_amount_positive', sql`${table.amount} > 0`),
    check('payments_refunded_within', sql`${table.refundedAmount} between 0 and ${table.amount}`),
  ],
);

export type PaymentRow = typeof payments.$inferSelect;

/** Where the payment-method tokens are, encrypted with the platform key ring, bound to their payment. */
export const PAYMENT_TOKEN_COLUMN = {
  schema: 'billing',
  table: 'payments',
  column: 'payment_method_token_sealed',
} as const;

// ---------------------------------------------------------------- refunds

export const REFUND_STATUSES = ['PENDING', 'SUCCEEDED', 'FAILED'] as const;
export const refundStatus = billing.enum('refund_status', REFUND_STATUSES);

/** Money given back on a payment, through its provider, once per `id` however often it is asked. */
export const refunds = billing.table(
  'refunds',
  {
    /** Orders' refundId for the refunds it asks, else billing's own. */
    id: uuid().primaryKey(),
    paymentId: uuid('payment_id')
      .notNull()
      .references(() => payments.id),
    orderId: uuid('order_id').notNull(),
    amount: integer().notNull(),
    currency: text().notNull(),
    reason: text().notNull(),
    status: refundStatus().notNull().default('PENDING'),
    providerRefundId: text('provider_refund_id'),
    failureCode: text('failure_code'),
    failureMessage: text('failure_message'),
    /** Who asked: a user id, or null when orders asked (a cancellation, a late payment). */
    requestedBy: uuid('requested_by'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [
    index('refunds_payment_id_idx').on(table.paymentId),
    index('refunds_order_id_idx').on(table.orderId),
    check('refunds_amount_positive', sql`${table.amount} > 0`),
  ],
);

export type RefundRow = typeof refunds.$inferSelect;

// ---------------------------------------------------------------- provider webhooks

/** Every provider notification handled, by the provider's own event id: a redelivery does nothing. */
export const webhookEvents = billing.table(
  'webhook_events',
  {
    provider: paymentProvider().notNull(),
    eventId: text('event_id').notNull(),
    kind: text().notNull(),
    receivedAt: timestamp('received_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [primaryKey({ columns: [table.provider, table.eventId] })],
);
