import { brandContextTable, eventTables, personKeyTable } from '@bilten/platform';
import { sql } from 'drizzle-orm';
import {
  boolean,
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

/** Each organization's brand as branding last published it: what this service renders with. */
export const brandContexts = brandContextTable(billing);

/** Each buyer's data key (issue 18): user ids for signed-in buyers, the blind index of a guest's address. */
export const personKeys = personKeyTable(billing);

// ---------------------------------------------------------------- what orders asks to charge

/**
 * Billing's copy of each order waiting for payment (`bilten.orders.order.created`): the amount is
 * orders', never a client's; who may pay it is the buyer's account, or a guest's token (its hash).
 */
export const orderCharges = billing.table(
  'order_charges',
  {
    orderId: uuid('order_id').primaryKey(),
    eventId: uuid('event_id').notNull(),
    organizationId: uuid('organization_id').notNull(),
    /** The signed-in buyer; null for a guest. */
    buyerId: uuid('buyer_id'),
    /** SHA-256 (hex) of the guest's reservation token; null for a signed-in buyer. */
    guestTokenHash: text('guest_token_hash'),
    /** The buyer's address and name, sealed under the buyer's key (db/buyers.ts); markers once erased. */
    buyerEmailSealed: text('buyer_email_sealed').notNull(),
    buyerNameSealed: text('buyer_name_sealed').notNull().default(''),
    /** Blind index of the address: a guest's key (person id) and how erasure and export find guest orders; null once erased. */
    buyerEmailIndex: text('buyer_email_index'),
    /** What the receipt says was bought, as orders announced it (subtotal + fees + taxes = amount). */
    eventTitle: text('event_title').notNull().default(''),
    lines: jsonb().$type<OrderLine[]>().notNull().default([]),
    subtotal: integer().notNull().default(0),
    fees: integer().notNull().default(0),
    taxes: integer().notNull().default(0),
    taxBasisPoints: integer('tax_basis_points').notNull().default(0),
    amount: integer().notNull(),
    currency: text().notNull(),
    /** Unpaid by then, orders expires the order: no new payment starts after it. */
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
    /** The event's refund policy when the order was made: `requestRefund` grants by it. */
    refundPolicy: jsonb('refund_policy').$type<RefundPolicy>().notNull(),
    eventStartsAt: timestamp('event_starts_at', { withTimezone: true }).notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [index('order_charges_buyer_email_index_idx').on(table.buyerEmailIndex)],
);

export type OrderChargeRow = typeof orderCharges.$inferSelect;

/** One line of an order: a ticket type, how many, at what price (minor units, the order's currency). */
export interface OrderLine {
  ticketTypeId: string;
  name: string;
  quantity: number;
  unitAmount: number;
}

// ---------------------------------------------------------------- organizations

/**
 * Billing's copy of each organization (identity's organization events): the seller's name on
 * receipts, the slug that prefixes their numbers, and whether it takes Sandbox payments only.
 */
export const organizations = billing.table('organizations', {
  id: uuid().primaryKey(),
  name: text().notNull(),
  slug: text().notNull(),
  testMode: boolean('test_mode').notNull().default(false),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
});

export type OrganizationRow = typeof organizations.$inferSelect;

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
    /** The organization's own account it was charged through (provider_accounts); null: the platform's. */
    providerAccountId: uuid('provider_account_id'),
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

// ---------------------------------------------------------------- organizations' own provider accounts

/**
 * An organization's own Stripe or Braintree account: its credentials as JSON, sealed with the
 * platform key ring and bound to the row (never returned once stored). Removing one keeps the row
 * (`removed_at`) so payments made through it can still be confirmed and refunded.
 */
export const providerAccounts = billing.table(
  'provider_accounts',
  {
    id: uuid().primaryKey(),
    organizationId: uuid('organization_id').notNull(),
    provider: paymentProvider().notNull(),
    credentialsSealed: text('credentials_sealed').notNull(),
    /** The last 4 characters of the key, to tell accounts apart. */
    keyHint: text('key_hint').notNull(),
    updatedBy: uuid('updated_by'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
    removedAt: timestamp('removed_at', { withTimezone: true }),
  },
  (table) => [
    uniqueIndex('provider_accounts_one_live')
      .on(table.organizationId, table.provider)
      .where(sql`${table.removedAt} is null`),
  ],
);

export type ProviderAccountRow = typeof providerAccounts.$inferSelect;

/** Where the organizations' provider credentials are, sealed with the platform key ring. */
export const PROVIDER_CREDENTIALS_COLUMN = {
  schema: 'billing',
  table: 'provider_accounts',
  column: 'credentials_sealed',
} as const;

// ---------------------------------------------------------------- receipts and credit notes

export const RECEIPT_KINDS = ['RECEIPT', 'CREDIT_NOTE'] as const;
export const receiptKind = billing.enum('receipt_kind', RECEIPT_KINDS);
export type ReceiptKind = (typeof RECEIPT_KINDS)[number];

/**
 * The last number issued per organization, kind and year. Taken with `insert … on conflict do
 * update … returning` in the transaction that inserts the receipt: the row stays locked until it
 * commits, and a rollback gives the number back, so numbers are gapless.
 */
export const receiptCounters = billing.table(
  'receipt_counters',
  {
    organizationId: uuid('organization_id').notNull(),
    kind: receiptKind().notNull(),
    year: integer().notNull(),
    lastNumber: integer('last_number').notNull(),
  },
  (table) => [primaryKey({ columns: [table.organizationId, table.kind, table.year] })],
);

export interface ReceiptLine {
  description: string;
  quantity: number;
  unitAmount: number;
  amount: number;
}

/**
 * A receipt (one per order, for the payment that paid it) or a credit note (one per succeeded
 * refund of that payment): a frozen copy of what it says, never updated.
 */
export const receipts = billing.table(
  'receipts',
  {
    id: uuid().primaryKey(),
    organizationId: uuid('organization_id').notNull(),
    orderId: uuid('order_id').notNull(),
    kind: receiptKind().notNull(),
    /** e.g. SEVDAH-2026-000123 (receipt) or SEVDAH-CN-2026-000007 (credit note). */
    number: text().notNull(),
    year: integer().notNull(),
    sequence: integer().notNull(),
    paymentId: uuid('payment_id')
      .notNull()
      .references(() => payments.id),
    /** The refund a credit note is for; null for a receipt. */
    refundId: uuid('refund_id').references(() => refunds.id),
    /** The receipt a credit note corrects; null for a receipt. */
    creditedReceiptId: uuid('credited_receipt_id'),
    issuedAt: timestamp('issued_at', { withTimezone: true }).notNull().defaultNow(),
    sellerName: text('seller_name').notNull(),
    /** The signed-in buyer (their key seals the buyer fields); null for a guest. */
    buyerId: uuid('buyer_id'),
    /** Sealed under the buyer's key like the order's copy (db/buyers.ts); markers once erased. */
    buyerNameSealed: text('buyer_name_sealed').notNull(),
    buyerEmailSealed: text('buyer_email_sealed').notNull(),
    /** Blind index of the address: a guest's person id, and how erasure finds guest receipts; null once erased. */
    buyerEmailIndex: text('buyer_email_index'),
    eventTitle: text('event_title').notNull(),
    lines: jsonb().$type<ReceiptLine[]>().notNull(),
    currency: text().notNull(),
    subtotal: integer().notNull(),
    fees: integer().notNull(),
    taxes: integer().notNull(),
    taxBasisPoints: integer('tax_basis_points').notNull(),
    total: integer().notNull(),
  },
  (table) => [
    uniqueIndex('receipts_number_per_organization').on(table.organizationId, table.number),
    uniqueIndex('receipts_sequence').on(table.organizationId, table.kind, table.year, table.sequence),
    uniqueIndex('receipts_one_per_order').on(table.orderId).where(sql`${table.kind} = 'RECEIPT'`),
    uniqueIndex('receipts_one_per_refund').on(table.refundId),
    index('receipts_order_id_idx').on(table.orderId),
    index('receipts_buyer_email_index_idx').on(table.buyerEmailIndex),
    check('receipts_total_adds_up', sql`${table.subtotal} + ${table.fees} + ${table.taxes} = ${table.total}`),
  ],
);

export type ReceiptRow = typeof receipts.$inferSelect;
