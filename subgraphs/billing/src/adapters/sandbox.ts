import { createHash } from 'node:crypto';
import type { CardSummary } from '../db/schema.ts';
import {
  type ChargeOutcome,
  type ChargeRequest,
  FAILURE_MESSAGES,
  type PaymentProviderAdapter,
  type RefundOutcome,
  type RefundRequest,
  TransientProviderError,
} from './provider.ts';

// A provider that lives in this process: deterministic by token, named like Stripe's test payment
// methods, and idempotent by key as a real provider is. For development, tests and TEST-mode API
// keys; it moves no money. Its state is per process (module-level), so a restart forgets it.

const CARDS: Record<string, CardSummary> = {
  tok_visa: { brand: 'visa', last4: '4242', expMonth: 12, expYear: 2034 },
  tok_mastercard: { brand: 'mastercard', last4: '4444', expMonth: 12, expYear: 2034 },
};

/** Where the buyer would go to authenticate a 3-D Secure card; nothing answers there. */
export const SANDBOX_ACTION_URL = 'https://sandbox.bilten.invalid/3ds/';

/** How long `tok_timeout` makes the caller wait before giving up, as a slow network would. */
const TIMEOUT_AFTER_MS = 20;

interface SandboxPayment {
  paymentId: string;
  orderId: string;
  amount: number;
  currency: string;
  card: CardSummary;
  captured: boolean;
  refunded: number;
}

const ledger = {
  /** Calls seen per idempotency key (transient failures included). */
  calls: new Map<string, number>(),
  /** The answer given to each idempotency key: the same key answers the same outcome. */
  outcomes: new Map<string, ChargeOutcome>(),
  payments: new Map<string, SandboxPayment>(),
  refunds: new Map<string, RefundOutcome>(),
  /** Every charge made (money taken), in order. */
  charges: [] as Array<{ paymentId: string; orderId: string; amount: number }>,
};

/** What the Sandbox charged, for tests: by our payment id or by order. */
export const sandboxCharges = (of: { paymentId?: string; orderId?: string }) =>
  ledger.charges.filter(
    (charge) =>
      (!of.paymentId || charge.paymentId === of.paymentId) && (!of.orderId || charge.orderId === of.orderId),
  ).length;

const providerIdOf = (prefix: string, key: string) =>
  `${prefix}_${createHash('sha256').update(key).digest('hex').slice(0, 24)}`;

function abortable(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

function capture(payment: SandboxPayment) {
  if (payment.captured) return;
  payment.captured = true;
  ledger.charges.push({ paymentId: payment.paymentId, orderId: payment.orderId, amount: payment.amount });
}

const failed = (code: 'CARD_DECLINED' | 'INSUFFICIENT_FUNDS' | 'INVALID_PAYMENT_METHOD', id: string | null) =>
  ({
    status: 'FAILED',
    providerPaymentId: id,
    failureCode: code,
    providerMessage: `sandbox: ${FAILURE_MESSAGES[code]}`,
  }) as const;

function decide(request: ChargeRequest, providerPaymentId: string): ChargeOutcome {
  const token = request.paymentMethodToken;
  const payment = (card: CardSummary): SandboxPayment => ({
    paymentId: request.paymentId,
    orderId: request.orderId,
    amount: request.amount.amount,
    currency: request.amount.currency,
    card,
    captured: false,
    refunded: 0,
  });
  const card = CARDS[token === 'tok_transientTwice' ? 'tok_visa' : token];
  if (card) {
    const charged = payment(card);
    ledger.payments.set(providerPaymentId, charged);
    capture(charged);
    return { status: 'SUCCEEDED', providerPaymentId, card };
  }
  if (token === 'tok_threeDSecureRequired') {
    ledger.payments.set(providerPaymentId, payment(CARDS.tok_visa!));
    return {
      status: 'REQUIRES_ACTION',
      providerPaymentId,
      nextAction: {
        type: 'REDIRECT_TO_URL',
        url: `${SANDBOX_ACTION_URL}${providerPaymentId}`,
        clientSecret: null,
      },
    };
  }
  if (token === 'tok_chargeDeclined') return failed('CARD_DECLINED', providerPaymentId);
  if (token === 'tok_chargeDeclinedInsufficientFunds') return failed('INSUFFICIENT_FUNDS', providerPaymentId);
  return failed('INVALID_PAYMENT_METHOD', null);
}

export function createSandboxAdapter(): PaymentProviderAdapter {
  return {
    name: 'SANDBOX',

    async charge(request, signal) {
      const key = request.idempotencyKey;
      const calls = (ledger.calls.get(key) ?? 0) + 1;
      ledger.calls.set(key, calls);
      if (request.paymentMethodToken === 'tok_timeout') {
        await abortable(TIMEOUT_AFTER_MS, signal);
        throw new TransientProviderError('sandbox: timed out');
      }
      if (request.paymentMethodToken === 'tok_transientTwice' && calls <= 2)
        throw new TransientProviderError(`sandbox: transient failure ${calls} of 2`);
      const known = ledger.outcomes.get(key);
      if (known) return known;
      const outcome = decide(request, providerIdOf('sbx_pay', key));
      ledger.outcomes.set(key, outcome);
      return outcome;
    },

    async confirm(providerPaymentId) {
      const payment = ledger.payments.get(providerPaymentId);
      if (!payment) return failed('INVALID_PAYMENT_METHOD', providerPaymentId);
      capture(payment);
      return { status: 'SUCCEEDED', providerPaymentId, card: payment.card };
    },

    async refund(request: RefundRequest) {
      const known = ledger.refunds.get(request.refundId);
      if (known) return known;
      const payment = ledger.payments.get(request.providerPaymentId);
      const left = payment?.captured ? payment.amount - payment.refunded : 0;
      const outcome: RefundOutcome =
        payment && request.amount.amount <= left && request.amount.currency === payment.currency
          ? { status: 'SUCCEEDED', providerRefundId: providerIdOf('sbx_re', request.refundId) }
          : {
              status: 'FAILED',
              failureCode: 'REFUND_FAILED',
              providerMessage: `sandbox: cannot refund ${request.amount.amount}, ${left} left`,
            };
      if (payment && outcome.status === 'SUCCEEDED') payment.refunded += request.amount.amount;
      ledger.refunds.set(request.refundId, outcome);
      return outcome;
    },

    // The Sandbox moves no money, so there is nothing to reconcile: an empty list, whatever its
    // in-memory ledger holds (which a restart forgets anyway).
    async listTransactions() {
      return [];
    },

    // No credentials: the Sandbox is always ready.
    async checkCredentials() {
      return true;
    },
  };
}
