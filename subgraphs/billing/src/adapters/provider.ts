import type { CardSummary, NextAction, PaymentProviderName } from '../db/schema.ts';

// The one port every payment provider is reached through (Stripe, Braintree, Sandbox). Domain code
// (domain/payments.ts, domain/refunds.ts) speaks only these types; each adapter maps its SDK's
// answers and errors onto them, so a failure reaches the buyer as a stable code and a safe message
// and the provider's own words stay in the logs.

export interface Money {
  /** Minor units. */
  amount: number;
  currency: string;
}

export interface ChargeRequest {
  /** Ours: also the base of every idempotency key sent to the provider for this payment. */
  paymentId: string;
  orderId: string;
  amount: Money;
  /** The client's token for a payment method (Stripe `pm_…`/`tok_…`, Braintree nonce, Sandbox `tok_…`). */
  paymentMethodToken: string;
  /** Sent with every provider call of this payment: a retry is never a second charge. */
  idempotencyKey: string;
  buyerEmail: string;
}

/** The stable failure codes of payments and refunds, whatever the provider said. */
export const FAILURE_CODES = [
  'CARD_DECLINED',
  'INSUFFICIENT_FUNDS',
  'EXPIRED_CARD',
  'INCORRECT_CVC',
  'AUTHENTICATION_FAILED',
  'PROCESSING_ERROR',
  'PROVIDER_UNAVAILABLE',
  'INVALID_PAYMENT_METHOD',
  'REFUND_FAILED',
] as const;
export type FailureCode = (typeof FAILURE_CODES)[number];

/** What the buyer reads for each code: clear, and never a provider's internals. */
export const FAILURE_MESSAGES: Record<FailureCode, string> = {
  CARD_DECLINED: 'Your card was declined. Try another card.',
  INSUFFICIENT_FUNDS: 'Your card has insufficient funds. Try another card.',
  EXPIRED_CARD: 'Your card has expired. Try another card.',
  INCORRECT_CVC: "Your card's security code is incorrect. Check it and try again.",
  AUTHENTICATION_FAILED: 'We could not authenticate your card. Try again or use another card.',
  PROCESSING_ERROR: 'The payment could not be processed. Try again in a moment.',
  PROVIDER_UNAVAILABLE: 'The payment service is not answering right now. Try again in a moment.',
  INVALID_PAYMENT_METHOD: 'This payment method cannot be used. Try another one.',
  REFUND_FAILED: 'The refund could not be made. We will look into it.',
};

export type ChargeOutcome =
  | { status: 'SUCCEEDED'; providerPaymentId: string; card: CardSummary | null }
  | { status: 'REQUIRES_ACTION'; providerPaymentId: string; nextAction: NextAction }
  | {
      status: 'FAILED';
      providerPaymentId: string | null;
      failureCode: FailureCode;
      /** The provider's own words, for the logs only. */
      providerMessage: string;
    };

export interface RefundRequest {
  /** Ours (orders' refundId or billing's): the idempotency key of the provider call. */
  refundId: string;
  providerPaymentId: string;
  amount: Money;
}

export type RefundOutcome =
  | { status: 'SUCCEEDED' | 'PENDING'; providerRefundId: string }
  | { status: 'FAILED'; failureCode: FailureCode; providerMessage: string };

/** One charge or refund as the provider's list API shows it, for reconciliation (domain/reconciliation.ts). */
export interface ProviderTransaction {
  kind: 'CHARGE' | 'REFUND';
  /** The provider's id of this transaction (a refund's own id for a REFUND). */
  providerId: string;
  /** The charge: the transaction itself for a CHARGE, the refunded charge for a REFUND. */
  providerPaymentId: string;
  amount: Money;
  /** The provider's state in billing's words; requires-action and processing states are PENDING. */
  status: 'SUCCEEDED' | 'PENDING' | 'FAILED';
  createdAt: Date;
}

/**
 * A failure worth retrying with the same idempotency key (network, timeout, 5xx, 429): the
 * provider may or may not have acted, and the key makes the retry safe either way.
 */
export class TransientProviderError extends Error {
  override readonly name = 'TransientProviderError';
}

export interface PaymentProviderAdapter {
  readonly name: PaymentProviderName;
  /** Charges (or starts charging) the payment method. Throws TransientProviderError to be retried. */
  charge(request: ChargeRequest, signal: AbortSignal): Promise<ChargeOutcome>;
  /** After the buyer's action (3-D Secure): where the payment stands now. */
  confirm(providerPaymentId: string, idempotencyKey: string, signal: AbortSignal): Promise<ChargeOutcome>;
  refund(request: RefundRequest, signal: AbortSignal): Promise<RefundOutcome>;
  /** Every charge and refund created in [from, to), all pages (reconciliation). Throws when unreachable. */
  listTransactions(range: { from: Date; to: Date }, signal: AbortSignal): Promise<ProviderTransaction[]>;
  /**
   * Whether the provider accepts this adapter's credentials (a cheap authenticated read): false
   * when it refuses them; throws TransientProviderError when it cannot be asked.
   */
  checkCredentials(signal: AbortSignal): Promise<boolean>;
}

/**
 * A provider's notification (webhook), verified and translated by its adapter: what billing
 * applies (domain/provider-events.ts), once per `eventId`.
 */
export type ProviderEvent = { provider: PaymentProviderName; eventId: string } & (
  | { kind: 'PAYMENT_SUCCEEDED'; providerPaymentId: string; card: CardSummary | null }
  | { kind: 'PAYMENT_FAILED'; providerPaymentId: string; failureCode: FailureCode; providerMessage: string }
  | { kind: 'REFUND_SUCCEEDED'; providerPaymentId: string; providerRefundId: string; amount: Money }
  | { kind: 'REFUND_FAILED'; providerPaymentId: string; providerRefundId: string; providerMessage: string }
  | { kind: 'DISPUTE_OPENED'; providerPaymentId: string; amount: Money; reason: string }
  /** Verified, but nothing billing acts on (recorded so a redelivery is still answered 200). */
  | { kind: 'IGNORED'; type: string }
);
