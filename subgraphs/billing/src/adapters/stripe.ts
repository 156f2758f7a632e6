import Stripe from 'stripe';
import type { CardSummary } from '../db/schema.ts';
import {
  type ChargeOutcome,
  type FailureCode,
  type PaymentProviderAdapter,
  type ProviderTransaction,
  type RefundOutcome,
  TransientProviderError,
} from './provider.ts';

export interface StripeAdapterOptions {
  secretKey: string;
  /** Another API host (the tests' fake server); Stripe's own by default. */
  host?: string;
  port?: number;
  protocol?: 'http' | 'https';
  /** Per request: past it the SDK gives up and billing retries with the same idempotency key. */
  timeoutMs: number;
}

/** The client both the adapter and the webhook route use. */
export function createStripeClient(options: StripeAdapterOptions): Stripe {
  return new Stripe(options.secretKey, {
    // Billing retries itself, inside its deadline and with the same idempotency key.
    maxNetworkRetries: 0,
    timeout: options.timeoutMs,
    telemetry: false,
    ...(options.host ? { host: options.host } : {}),
    ...(options.port ? { port: options.port } : {}),
    ...(options.protocol ? { protocol: options.protocol } : {}),
  });
}

/**
 * Stripe behind billing's port: PaymentIntents confirmed at once with the client's payment
 * method, 3-D Secure handed back as the next action, refunds against the intent. Every call that
 * changes something carries an idempotency key, so a retry after a timeout is never a second
 * charge or refund.
 */
export function createStripeAdapter(options: StripeAdapterOptions): PaymentProviderAdapter {
  const stripe = createStripeClient(options);
  return {
    name: 'STRIPE',

    async charge(request, signal) {
      try {
        const intent = await untilAborted(
          stripe.paymentIntents.create(
            {
              amount: request.amount.amount,
              currency: request.amount.currency.toLowerCase(),
              payment_method: request.paymentMethodToken,
              confirm: true,
              // No redirect-only methods, so no return_url is required (3-D Secure still comes
              // back as a next action).
              automatic_payment_methods: { enabled: true, allow_redirects: 'never' },
              metadata: { paymentId: request.paymentId, orderId: request.orderId },
              expand: ['latest_charge'],
            },
            { idempotencyKey: request.idempotencyKey },
          ),
          signal,
        );
        return chargeOutcome(intent);
      } catch (err) {
        return chargeFailure(err);
      }
    },

    async confirm(providerPaymentId, _idempotencyKey, signal) {
      // Where the intent stands after the buyer's action: reading changes nothing, so no key.
      try {
        const intent = await untilAborted(
          stripe.paymentIntents.retrieve(providerPaymentId, { expand: ['latest_charge'] }),
          signal,
        );
        return chargeOutcome(intent);
      } catch (err) {
        return chargeFailure(err, providerPaymentId);
      }
    },

    async refund(request, signal): Promise<RefundOutcome> {
      try {
        const refund = await untilAborted(
          stripe.refunds.create(
            {
              payment_intent: request.providerPaymentId,
              amount: request.amount.amount,
              metadata: { refundId: request.refundId },
            },
            { idempotencyKey: request.refundId },
          ),
          signal,
        );
        if (refund.status === 'succeeded') return { status: 'SUCCEEDED', providerRefundId: refund.id };
        if (refund.status === 'failed' || refund.status === 'canceled') {
          return {
            status: 'FAILED',
            failureCode: 'REFUND_FAILED',
            providerMessage: `refund ${refund.id} ${refund.status}: ${refund.failure_reason ?? 'no reason'}`,
          };
        }
        // pending / requires_action: settled later, by webhook (refund.updated).
        return { status: 'PENDING', providerRefundId: refund.id };
      } catch (err) {
        throwIfTransient(err);
        return { status: 'FAILED', failureCode: 'REFUND_FAILED', providerMessage: describe(err) };
      }
    },

    // Intents and refunds created in the range, every page (the SDK's auto-pagination follows
    // `has_more` / `starting_after`). Listing changes nothing, so no key; errors are thrown.
    async listTransactions({ from, to }, signal): Promise<ProviderTransaction[]> {
      const created = { gte: Math.floor(from.getTime() / 1000), lt: Math.ceil(to.getTime() / 1000) };
      const listed: ProviderTransaction[] = [];
      const listing = async () => {
        for await (const intent of stripe.paymentIntents.list({ created, limit: 100 })) {
          if (signal.aborted) break;
          listed.push({
            kind: 'CHARGE',
            providerId: intent.id,
            providerPaymentId: intent.id,
            amount: { amount: intent.amount, currency: intent.currency.toUpperCase() },
            status: intentStatus(intent.status),
            createdAt: new Date(intent.created * 1000),
          });
        }
        for await (const refund of stripe.refunds.list({ created, limit: 100 })) {
          if (signal.aborted) break;
          const intent = refund.payment_intent;
          if (!intent) continue; // a refund of a bare charge: not one billing makes
          listed.push({
            kind: 'REFUND',
            providerId: refund.id,
            providerPaymentId: typeof intent === 'string' ? intent : intent.id,
            amount: { amount: refund.amount, currency: refund.currency.toUpperCase() },
            status:
              refund.status === 'succeeded'
                ? 'SUCCEEDED'
                : refund.status === 'failed' || refund.status === 'canceled'
                  ? 'FAILED'
                  : 'PENDING',
            createdAt: new Date(refund.created * 1000),
          });
        }
        return listed;
      };
      return untilAborted(listing(), signal);
    },

    // Reading the balance changes nothing and needs a valid secret key.
    async checkCredentials(signal) {
      try {
        await untilAborted(stripe.balance.retrieve(), signal);
        return true;
      } catch (err) {
        throwIfTransient(err);
        if (err instanceof Stripe.errors.StripeError) return false;
        throw err;
      }
    },
  };
}

/** An intent's state for reconciliation: settled one way or the other, or still under way. */
function intentStatus(status: Stripe.PaymentIntent.Status): ProviderTransaction['status'] {
  if (status === 'succeeded') return 'SUCCEEDED';
  // Declined (back to requires_payment_method) or given up.
  if (status === 'requires_payment_method' || status === 'canceled') return 'FAILED';
  return 'PENDING';
}

/** The SDK takes no AbortSignal: billing's deadline ends the wait (the key makes a retry safe). */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted)
    return Promise.reject(new TransientProviderError('Stripe call aborted: deadline passed'));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new TransientProviderError('Stripe call aborted: deadline passed'));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}

/** A PaymentIntent's state as billing's outcome. Exported for the webhook translation. */
export function chargeOutcome(intent: Stripe.PaymentIntent): ChargeOutcome {
  switch (intent.status) {
    case 'succeeded':
      return { status: 'SUCCEEDED', providerPaymentId: intent.id, card: cardOf(intent) };
    case 'requires_action': {
      const redirect = intent.next_action?.redirect_to_url?.url;
      return {
        status: 'REQUIRES_ACTION',
        providerPaymentId: intent.id,
        nextAction: redirect
          ? { type: 'REDIRECT_TO_URL', url: redirect, clientSecret: intent.client_secret }
          : { type: 'USE_SDK', url: null, clientSecret: intent.client_secret },
      };
    }
    case 'requires_payment_method':
    case 'canceled': {
      const error = intent.last_payment_error;
      return {
        status: 'FAILED',
        providerPaymentId: intent.id,
        failureCode: error ? failureCodeOf(error) : 'PROCESSING_ERROR',
        providerMessage: error
          ? `${error.type}/${error.code ?? '-'}/${error.decline_code ?? '-'}: ${error.message ?? ''}`
          : `payment intent ${intent.status}`,
      };
    }
    default:
      // processing, requires_confirmation, requires_capture: not settled yet. Asking again (same
      // key) or the webhook settles it; the domain's deadline bounds the waiting.
      throw new TransientProviderError(`Stripe payment intent ${intent.id} is ${intent.status}`);
  }
}

/** Brand, last 4 and expiry from the (expanded) latest charge: all billing may keep of a card. */
export function cardOf(intent: Stripe.PaymentIntent): CardSummary | null {
  const charge = intent.latest_charge;
  const card = typeof charge === 'object' && charge ? charge.payment_method_details?.card : undefined;
  if (!card?.last4) return null;
  return {
    brand: card.brand ?? 'unknown',
    last4: card.last4,
    expMonth: card.exp_month,
    expYear: card.exp_year,
  };
}

/** Stripe's decline and error codes as billing's stable ones. */
export function failureCodeOf(error: { type?: string; code?: string; decline_code?: string }): FailureCode {
  const codes = [error.decline_code, error.code];
  if (codes.includes('insufficient_funds')) return 'INSUFFICIENT_FUNDS';
  if (codes.includes('expired_card')) return 'EXPIRED_CARD';
  if (codes.includes('incorrect_cvc') || codes.includes('invalid_cvc')) return 'INCORRECT_CVC';
  if (codes.includes('authentication_required') || codes.includes('payment_intent_authentication_failure')) {
    return 'AUTHENTICATION_FAILED';
  }
  if (error.type === 'card_error') return 'CARD_DECLINED';
  if (error.code === 'resource_missing' || error.code === 'payment_method_unexpected_state') {
    return 'INVALID_PAYMENT_METHOD';
  }
  return 'PROCESSING_ERROR';
}

function isTransient(err: unknown): boolean {
  if (err instanceof TransientProviderError) return true;
  if (err instanceof Stripe.errors.StripeConnectionError) return true; // network, timeout
  if (err instanceof Stripe.errors.StripeRateLimitError) return true; // 429
  if (err instanceof Stripe.errors.StripeError) {
    const status = err.statusCode ?? 0;
    // 5xx; 409: a request with the same key is still running at Stripe.
    return status >= 500 || status === 409 || (err instanceof Stripe.errors.StripeAPIError && status === 0);
  }
  return false;
}

function throwIfTransient(err: unknown): void {
  if (err instanceof TransientProviderError) throw err;
  if (isTransient(err)) throw new TransientProviderError(describe(err), { cause: err });
}

/** A card error or a refused request, as a failed outcome; transient failures are thrown. */
function chargeFailure(err: unknown, providerPaymentId: string | null = null): ChargeOutcome {
  throwIfTransient(err);
  if (err instanceof Stripe.errors.StripeError) {
    const intent = err.payment_intent;
    return {
      status: 'FAILED',
      providerPaymentId: intent?.id ?? providerPaymentId,
      failureCode: failureCodeOf({
        type: err.rawType,
        code: err.code,
        decline_code: err.decline_code,
      }),
      providerMessage: describe(err),
    };
  }
  throw err; // a bug of ours, not a provider's answer
}

/** For the logs only: the provider's words, never shown to buyers. */
function describe(err: unknown): string {
  if (err instanceof Stripe.errors.StripeError) {
    return `${err.type}${err.statusCode ? ` ${err.statusCode}` : ''} ${err.code ?? '-'}/${err.decline_code ?? '-'}: ${err.message}`;
  }
  return err instanceof Error ? err.message : String(err);
}

/** The STRIPE adapter when a secret key is configured (server.ts registers it). */
export function stripeAdapterFromConfig(config: {
  STRIPE_SECRET_KEY?: string;
  STRIPE_API_HOST?: string;
  STRIPE_API_PORT?: number;
  STRIPE_API_PROTOCOL?: 'http' | 'https';
  PAYMENT_DEADLINE_MS: number;
}): PaymentProviderAdapter | undefined {
  if (!config.STRIPE_SECRET_KEY) return undefined;
  return createStripeAdapter({
    secretKey: config.STRIPE_SECRET_KEY,
    host: config.STRIPE_API_HOST,
    port: config.STRIPE_API_PORT,
    protocol: config.STRIPE_API_PROTOCOL,
    // A few tries fit in one payment's deadline.
    timeoutMs: Math.max(1_000, Math.floor(config.PAYMENT_DEADLINE_MS / 3)),
  });
}
