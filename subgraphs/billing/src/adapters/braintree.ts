import braintree from 'braintree';
import type { CardSummary } from '../db/schema.ts';
import {
  type ChargeOutcome,
  type ChargeRequest,
  type FailureCode,
  type Money,
  type PaymentProviderAdapter,
  type ProviderTransaction,
  type RefundOutcome,
  type RefundRequest,
  TransientProviderError,
} from './provider.ts';

// Braintree behind the port (provider.ts), with the `braintree` SDK's XML gateway API.
//
// Braintree has no idempotency keys, so retries are made safe by search: every sale carries our
// payment id as its `orderId`, and `charge` first searches for a transaction with that orderId.
// A retry after a lost answer (timeout, 5xx after the sale was made) finds the first sale and
// answers its outcome instead of selling again; only when none is found is a sale sent. A refund
// carries our refund id as its `orderId` likewise. The one window left is Braintree's own: a sale
// still being processed when the retry's search runs is not found yet. Billing retries with
// backoff, which makes that window small, and `payments_one_live_per_order` keeps it to this one
// payment.

export interface BraintreeAdapterOptions {
  merchantId: string;
  publicKey: string;
  privateKey: string;
  environment: braintree.Environment;
  /** Per HTTP request to Braintree; past it the call throws TransientProviderError. */
  timeoutMs: number;
  /**
   * Merchant account per currency (a Braintree merchant account settles in one currency). Unset:
   * every sale goes to the default merchant account, whose currency must be the orders'. Set: a
   * currency without an account is refused before any call, never charged in another currency.
   */
  merchantAccounts?: Record<string, string>;
}

/** `EUR:bilten_eur,USD:bilten_usd` → { EUR: 'bilten_eur', USD: 'bilten_usd' }. */
export function parseMerchantAccounts(value: string | undefined): Record<string, string> | undefined {
  if (!value?.trim()) return undefined;
  return Object.fromEntries(
    value.split(',').map((pair) => {
      const [currency = '', account = ''] = pair.split(':').map((part) => part.trim());
      return [currency.toUpperCase(), account];
    }),
  );
}

/** `sandbox`, `production`, or an http(s) URL (a local fake in tests) → the SDK's Environment. */
export function braintreeEnvironment(value: string): braintree.Environment {
  if (value === 'sandbox') return braintree.Environment.Sandbox;
  if (value === 'production') return braintree.Environment.Production;
  const url = new URL(value);
  const ssl = url.protocol === 'https:';
  const port = url.port || (ssl ? '443' : '80');
  return new braintree.Environment(url.hostname, port, url.origin, ssl, url.hostname, port);
}

/** Minor units ↔ Braintree's decimal strings, by the currency's exponent (JPY 0, KWD 3, EUR 2). */
function exponentOf(currency: string): number {
  try {
    return (
      new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits ??
      2
    );
  } catch {
    return 2;
  }
}

export function toDecimal({ amount, currency }: Money): string {
  const exponent = exponentOf(currency);
  if (exponent === 0) return String(amount);
  const digits = String(amount).padStart(exponent + 1, '0');
  return `${digits.slice(0, -exponent)}.${digits.slice(-exponent)}`;
}

export function toMinor(decimal: string, currency: string): number {
  const exponent = exponentOf(currency);
  const [whole = '0', fraction = ''] = decimal.trim().split('.');
  return Number(whole) * 10 ** exponent + Number(fraction.padEnd(exponent, '0').slice(0, exponent) || '0');
}

/** The SDK's transaction, as far as we read it. */
export interface BraintreeTransaction {
  id: string;
  status: string;
  type: string;
  amount: string;
  currencyIsoCode?: string;
  orderId?: string | null;
  processorResponseCode?: string | null;
  processorResponseText?: string | null;
  gatewayRejectionReason?: string | null;
  refundedTransactionId?: string | null;
  refundIds?: string[] | null;
  /** A Date, or its ISO text, depending on how the SDK parsed the answer. */
  createdAt?: Date | string;
  creditCard?: {
    cardType?: string | null;
    last4?: string | null;
    expirationMonth?: string | null;
    expirationYear?: string | null;
  } | null;
}

const CHARGED = new Set([
  'authorizing',
  'authorized',
  'submitted_for_settlement',
  'settlement_pending',
  'settling',
  'settled',
  'settlement_confirmed',
]);
/** Not settled yet: a refund is a void (whole amount only); Braintree refunds settled money only. */
const VOIDABLE = new Set(['authorized', 'submitted_for_settlement', 'settlement_pending']);
const REFUNDABLE = new Set(['settling', 'settled', 'settlement_confirmed']);

/** Processor response codes (2000–3000) with a code of their own; other declines are CARD_DECLINED. */
const PROCESSOR_CODES: Record<string, FailureCode> = {
  '2000': 'CARD_DECLINED', // Do Not Honor
  '2001': 'INSUFFICIENT_FUNDS',
  '2004': 'EXPIRED_CARD',
  '2005': 'INVALID_PAYMENT_METHOD', // Invalid Credit Card Number
  '2010': 'INCORRECT_CVC', // Card Issuer Declined CVV
  '3000': 'PROVIDER_UNAVAILABLE', // Processor Network Unavailable – Try Again
};

// The SDK exports its error types; @types/braintree does not declare them.
const { errorTypes } = braintree as unknown as {
  errorTypes: Record<
    | 'serverError'
    | 'serviceUnavailableError'
    | 'tooManyRequestsError'
    | 'gatewayTimeoutError'
    | 'requestTimeoutError'
    | 'unexpectedError',
    string
  >;
};

/** Errors after which Braintree may or may not have acted: retry (the orderId search makes it safe). */
const TRANSIENT_ERRORS = new Set<string>([
  errorTypes.serverError,
  errorTypes.serviceUnavailableError,
  errorTypes.tooManyRequestsError,
  errorTypes.gatewayTimeoutError,
  errorTypes.requestTimeoutError,
  // The SDK's timeouts and socket errors ("Request timed out", "Unexpected request error").
  errorTypes.unexpectedError,
]);

export function cardOf(transaction: BraintreeTransaction): CardSummary | null {
  const card = transaction.creditCard;
  if (!card?.last4) return null;
  return {
    brand: card.cardType ?? 'Unknown',
    last4: card.last4,
    expMonth: Number(card.expirationMonth) || 0,
    expYear: Number(card.expirationYear) || 0,
  };
}

/** Where a sale stands, in the port's words. */
export function chargeOutcomeOf(transaction: BraintreeTransaction): ChargeOutcome {
  if (CHARGED.has(transaction.status))
    return { status: 'SUCCEEDED', providerPaymentId: transaction.id, card: cardOf(transaction) };
  const failed = (failureCode: FailureCode, providerMessage: string): ChargeOutcome => ({
    status: 'FAILED',
    providerPaymentId: transaction.id,
    failureCode,
    providerMessage,
  });
  switch (transaction.status) {
    case 'processor_declined':
      return failed(
        PROCESSOR_CODES[transaction.processorResponseCode ?? ''] ?? 'CARD_DECLINED',
        `processor declined ${transaction.processorResponseCode}: ${transaction.processorResponseText}`,
      );
    case 'gateway_rejected':
      return failed(
        transaction.gatewayRejectionReason === 'three_d_secure'
          ? 'AUTHENTICATION_FAILED'
          : transaction.gatewayRejectionReason === 'cvv'
            ? 'INCORRECT_CVC'
            : 'CARD_DECLINED',
        `gateway rejected: ${transaction.gatewayRejectionReason}`,
      );
    case 'settlement_declined':
      return failed('CARD_DECLINED', 'settlement declined');
    default:
      return failed('PROCESSING_ERROR', `transaction ${transaction.status}`);
  }
}

interface SdkError extends Error {
  type?: string;
}

const errorType = (error: unknown) => (error as SdkError)?.type ?? 'unknown';

/** One SDK call under our deadline: transient failures and the deadline become TransientProviderError. */
async function call<T>(signal: AbortSignal, operation: () => Promise<T>): Promise<T> {
  if (signal.aborted) throw new TransientProviderError('braintree: the deadline passed before the call');
  let onAbort = () => {};
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(new TransientProviderError('braintree: the deadline passed during the call'));
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([
      operation().catch((error: unknown) => {
        if (TRANSIENT_ERRORS.has(errorType(error)))
          throw new TransientProviderError(`braintree ${errorType(error)}: ${(error as Error).message}`);
        throw error;
      }),
      aborted,
    ]);
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

/** The SDK's TransactionSearch, as far as we use it (@types/braintree does not declare it). */
interface TransactionSearch {
  orderId(): { is(value: string): void };
  createdAt(): { between(min: Date, max: Date): void };
}

type SaleResult = {
  success: boolean;
  message?: string;
  transaction?: BraintreeTransaction;
};

export function createBraintreeAdapter(options: BraintreeAdapterOptions): PaymentProviderAdapter {
  const gateway = new braintree.BraintreeGateway({
    environment: options.environment,
    merchantId: options.merchantId,
    publicKey: options.publicKey,
    privateKey: options.privateKey,
  });
  // The SDK's per-request socket timeout (60 s by default); it then rejects as unexpectedError.
  (gateway as unknown as { config: { timeout: number } }).config.timeout = options.timeoutMs;
  const transactions = gateway.transaction as unknown as {
    sale(attributes: Record<string, unknown>): Promise<SaleResult>;
    find(id: string): Promise<BraintreeTransaction>;
    refund(id: string, options: { amount: string; orderId: string }): Promise<SaleResult>;
    void(id: string): Promise<SaleResult>;
    search(build: (search: TransactionSearch) => void): NodeJS.ReadableStream;
  };

  /** Every transaction the search finds (the SDK asks for the ids, then fetches them page by page). */
  const searchAll = (build: (search: TransactionSearch) => void) =>
    new Promise<BraintreeTransaction[]>((resolve, reject) => {
      const found: BraintreeTransaction[] = [];
      const stream = transactions.search(build);
      stream.on('data', (transaction: BraintreeTransaction) => {
        if (transaction) found.push(transaction);
      });
      stream.on('error', reject);
      stream.on('end', () => resolve(found));
    });

  /** Every transaction whose orderId is `orderId` (ours: a payment or refund id). */
  const byOrderId = (orderId: string) => searchAll((search) => search.orderId().is(orderId));

  /** Of earlier sales for this payment, the one that charged, else the latest. */
  const earlierSale = (found: BraintreeTransaction[]) => {
    const sales = found.filter((transaction) => transaction.type === 'sale');
    return sales.find((transaction) => CHARGED.has(transaction.status)) ?? sales.at(-1);
  };

  const find = async (id: string, signal: AbortSignal) => {
    try {
      return await call(signal, () => transactions.find(id));
    } catch (error) {
      if (error instanceof TransientProviderError) throw error;
      return { error: errorType(error) };
    }
  };

  return {
    name: 'BRAINTREE',

    async charge(request: ChargeRequest, signal: AbortSignal): Promise<ChargeOutcome> {
      const currency = request.amount.currency.toUpperCase();
      const merchantAccountId = options.merchantAccounts?.[currency];
      if (options.merchantAccounts && !merchantAccountId)
        return {
          status: 'FAILED',
          providerPaymentId: null,
          failureCode: 'PROCESSING_ERROR',
          providerMessage: `no Braintree merchant account for ${currency}`,
        };
      try {
        const earlier = earlierSale(await call(signal, () => byOrderId(request.paymentId)));
        if (earlier) return chargeOutcomeOf(earlier);
        const result = await call(signal, () =>
          transactions.sale({
            amount: toDecimal(request.amount),
            paymentMethodNonce: request.paymentMethodToken,
            orderId: request.paymentId,
            ...(merchantAccountId ? { merchantAccountId } : {}),
            options: { submitForSettlement: true },
          }),
        );
        // Declines and rejections come back unsuccessful but with their transaction.
        if (result.transaction) return chargeOutcomeOf(result.transaction);
        return {
          status: 'FAILED',
          providerPaymentId: null,
          failureCode: 'INVALID_PAYMENT_METHOD',
          providerMessage: `validation failed: ${result.message ?? 'no message'}`,
        };
      } catch (error) {
        if (error instanceof TransientProviderError) throw error;
        // Credentials, configuration, a malformed answer: nothing a retry fixes.
        return {
          status: 'FAILED',
          providerPaymentId: null,
          failureCode: 'PROCESSING_ERROR',
          providerMessage: `braintree ${errorType(error)}`,
        };
      }
    },

    // 3-D Secure happens in Braintree's client SDK before the nonce exists, so there is nothing to
    // confirm: re-reading the transaction tells where it stands.
    async confirm(providerPaymentId: string, _idempotencyKey: string, signal: AbortSignal) {
      const found = await find(providerPaymentId, signal);
      if ('error' in found)
        return {
          status: 'FAILED',
          providerPaymentId,
          failureCode: 'PROCESSING_ERROR',
          providerMessage: `braintree find: ${found.error}`,
        };
      return chargeOutcomeOf(found);
    },

    // Not yet settled → void (the whole amount only; a partial refund must wait for settlement);
    // settled or settling → refund, with our refund id as the credit's orderId so a retry finds it.
    async refund(request: RefundRequest, signal: AbortSignal): Promise<RefundOutcome> {
      const failed = (providerMessage: string): RefundOutcome => ({
        status: 'FAILED',
        failureCode: 'REFUND_FAILED',
        providerMessage,
      });
      const original = await find(request.providerPaymentId, signal);
      if ('error' in original) return failed(`braintree find: ${original.error}`);
      const whole = request.amount.amount === toMinor(original.amount, request.amount.currency);
      try {
        if (original.status === 'voided')
          // A void whose answer was lost: done already.
          return whole
            ? { status: 'SUCCEEDED', providerRefundId: original.id }
            : failed('transaction already voided');
        if (VOIDABLE.has(original.status)) {
          if (!whole) return failed(`partial refund of an unsettled transaction (${original.status})`);
          const result = await call(signal, () => transactions.void(original.id));
          if (result.success || result.transaction?.status === 'voided')
            return { status: 'SUCCEEDED', providerRefundId: original.id };
          return failed(`void refused: ${result.message ?? 'no message'}`);
        }
        if (!REFUNDABLE.has(original.status))
          return failed(`transaction ${original.status} cannot be refunded`);
        if (original.refundIds?.length) {
          const earlier = (await call(signal, () => byOrderId(request.refundId))).find(
            (transaction) => transaction.type === 'credit',
          );
          if (earlier) return refundOutcomeOf(earlier);
        }
        const result = await call(signal, () =>
          transactions.refund(original.id, { amount: toDecimal(request.amount), orderId: request.refundId }),
        );
        if (result.transaction) return refundOutcomeOf(result.transaction);
        return failed(`refund refused: ${result.message ?? 'no message'}`);
      } catch (error) {
        if (error instanceof TransientProviderError) throw error;
        return failed(`braintree ${errorType(error)}`);
      }
    },

    // Sales and credits created in the range. Braintree's range is inclusive, so the end is
    // filtered here; a voided sale is listed as its charge and a refund of the whole amount under
    // the sale's own id, as billing records a void (refund() above).
    async listTransactions({ from, to }, signal): Promise<ProviderTransaction[]> {
      const found = await call(signal, () => searchAll((search) => search.createdAt().between(from, to)));
      return found.flatMap((transaction): ProviderTransaction[] => {
        const createdAt = new Date(String(transaction.createdAt));
        if (createdAt < from || createdAt >= to) return [];
        const currency = (transaction.currencyIsoCode ?? 'EUR').toUpperCase();
        const amount = { amount: toMinor(transaction.amount, currency), currency };
        const status = transactionStatus(transaction.status);
        if (transaction.type === 'credit')
          return transaction.refundedTransactionId
            ? [
                {
                  kind: 'REFUND',
                  providerId: transaction.id,
                  providerPaymentId: transaction.refundedTransactionId,
                  amount,
                  status,
                  createdAt,
                },
              ]
            : []; // a credit not refunding a sale: not one billing makes
        const charge: ProviderTransaction = {
          kind: 'CHARGE',
          providerId: transaction.id,
          providerPaymentId: transaction.id,
          amount,
          status: transaction.status === 'voided' ? 'SUCCEEDED' : status,
          createdAt,
        };
        if (transaction.status !== 'voided') return [charge];
        return [charge, { ...charge, kind: 'REFUND', status: 'SUCCEEDED' }];
      });
    },

    // A client token is the cheapest authenticated call; it changes nothing.
    async checkCredentials(signal) {
      try {
        await call(signal, () => gateway.clientToken.generate({}));
        return true;
      } catch (error) {
        if (error instanceof TransientProviderError) throw error;
        return false; // authenticationError, authorizationError, notFoundError (another merchant id)
      }
    },
  };
}

/** A transaction's status for reconciliation: accepted (charged or credited), declined, or under way. */
function transactionStatus(status: string): ProviderTransaction['status'] {
  if (CHARGED.has(status)) return 'SUCCEEDED';
  return status === 'authorization_expired' ||
    status === 'processor_declined' ||
    status === 'gateway_rejected' ||
    status === 'settlement_declined' ||
    status === 'failed'
    ? 'FAILED'
    : 'PENDING';
}

/**
 * A refund (credit) Braintree accepted is SUCCEEDED: it settles with the next batch, and the rare
 * one that fails then arrives as a `refund_failed` webhook.
 */
function refundOutcomeOf(credit: BraintreeTransaction): RefundOutcome {
  if (CHARGED.has(credit.status)) return { status: 'SUCCEEDED', providerRefundId: credit.id };
  return { status: 'FAILED', failureCode: 'REFUND_FAILED', providerMessage: `refund ${credit.status}` };
}

interface BraintreeEnv {
  BRAINTREE_MERCHANT_ID?: string;
  BRAINTREE_PUBLIC_KEY?: string;
  BRAINTREE_PRIVATE_KEY?: string;
  BRAINTREE_ENVIRONMENT: string;
}

/** The account the configuration names, or none unless merchant id and both keys are set. */
function braintreeCredentials(config: BraintreeEnv) {
  const {
    BRAINTREE_MERCHANT_ID: merchantId,
    BRAINTREE_PUBLIC_KEY: publicKey,
    BRAINTREE_PRIVATE_KEY: privateKey,
  } = config;
  if (!merchantId || !publicKey || !privateKey) return undefined;
  return {
    merchantId,
    publicKey,
    privateKey,
    environment: braintreeEnvironment(config.BRAINTREE_ENVIRONMENT),
  };
}

/**
 * The adapter this configuration asks for, if any. One HTTP request may take a third of the
 * payment deadline, so a timed-out call leaves room for a retry.
 */
export function braintreeAdapterFromConfig(
  config: BraintreeEnv & { BRAINTREE_MERCHANT_ACCOUNTS?: string; PAYMENT_DEADLINE_MS: number },
): PaymentProviderAdapter | undefined {
  const credentials = braintreeCredentials(config);
  if (!credentials) return undefined;
  return createBraintreeAdapter({
    ...credentials,
    timeoutMs: Math.max(1_000, Math.floor(config.PAYMENT_DEADLINE_MS / 3)),
    merchantAccounts: parseMerchantAccounts(config.BRAINTREE_MERCHANT_ACCOUNTS),
  });
}

/** A gateway for webhooks only (parsing needs the keys, not the network). */
export function braintreeGatewayFromConfig(config: BraintreeEnv): braintree.BraintreeGateway | undefined {
  const credentials = braintreeCredentials(config);
  return credentials && new braintree.BraintreeGateway(credentials);
}
