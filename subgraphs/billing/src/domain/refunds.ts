import { refundFailed } from '@bilten/contracts/billing';
import { refundRequested } from '@bilten/contracts/orders';
import type { People } from '@bilten/platform';
import {
  DomainError,
  type EventConsumer,
  type Logger,
  moneyInput,
  mutationRule,
  type Outbox,
  requireUser,
  type Transaction,
  type UserError,
  uuidInput,
} from '@bilten/platform';
import { v5 as uuidv5, v7 as uuidv7 } from 'uuid';
import { z } from 'zod';
import { FAILURE_MESSAGES, type RefundOutcome } from '../adapters/provider.ts';
import type { PaymentProviders } from '../adapters/providers.ts';
import type { ReceiptLinks } from '../adapters/receipt-links.ts';
import type { Context } from '../context.ts';
import {
  committedRefunds,
  insertRefundIfNew,
  orderCharge,
  refundablePayment,
  refundById,
  refundsOfOrder,
  refundsOfPayment,
  settlePendingRefund,
  succeededPaymentForUpdate,
} from '../db/queries.ts';
import type { OrderChargeRow, PaymentRow, RefundRow } from '../db/schema.ts';
import { isOrgAdmin, mayPay, maySeePayments } from './access.ts';
import { withRetries } from './provider-calls.ts';
import type { ReceiptDeps } from './receipts.ts';
import { refundByPolicy } from './refund-policy.ts';
import { completeRefund } from './settlements.ts';

// ---------------------------------------------------------------- the provider step, shared

export interface RefundDeps extends ReceiptDeps {
  providers: PaymentProviders;
  deadlineMs: number;
}

/** Runs `fn` in the transaction that records the provider's answer. */
type Recorder = <T>(fn: (tx: Transaction) => Promise<T>) => Promise<T>;

/** The provider could not be reached within the deadline: the refund may or may not have happened. */
export interface Unreachable {
  unreachable: true;
  error: unknown;
}

/** `bilten.billing.refund.failed`, with the refund it was about. */
const publishRefundFailed = (tx: Transaction, outbox: Outbox, refund: RefundRow) =>
  outbox.publish(tx, refundFailed, refund.id, {
    refundId: refund.id,
    orderId: refund.orderId,
    amount: { amount: refund.amount, currency: refund.currency },
    failureCode: refund.failureCode ?? 'REFUND_FAILED',
  });

/**
 * Asks the payment's provider for a PENDING refund (the refund id is the idempotency key, retried
 * within the deadline as payments are) and records the answer in `record`'s transaction: SUCCEEDED
 * completes it (settlements.ts: refunded_amount, refundSucceeded, its credit note); PENDING waits for the
 * provider's webhook (provider-events.ts); FAILED is kept with a safe message, the provider's words
 * logged only. Unreachable is the caller's to handle: nothing is recorded then.
 */
export async function sendRefund(
  deps: RefundDeps,
  payment: PaymentRow,
  refund: RefundRow,
  record: Recorder,
): Promise<RefundRow | Unreachable> {
  const fail = (providerMessage: string) =>
    record(async (tx) => {
      deps.log.error({ refundId: refund.id, paymentId: payment.id, providerMessage }, 'REFUND_FAILED');
      const settled = await settlePendingRefund(tx, refund.id, {
        status: 'FAILED',
        failureCode: 'REFUND_FAILED',
        failureMessage: FAILURE_MESSAGES.REFUND_FAILED,
      });
      if (settled) await publishRefundFailed(tx, deps.outbox, settled);
      return settled;
    });
  const adapter = await deps.providers.forPayment(payment);
  if (!adapter || !payment.providerPaymentId)
    return (await fail(`${payment.provider} is not configured`)) ?? refund;
  const providerPaymentId = payment.providerPaymentId;
  const amount = { amount: refund.amount, currency: refund.currency };
  let outcome: RefundOutcome;
  try {
    const result = await withRetries(deps.deadlineMs, (signal) =>
      adapter.refund({ refundId: refund.id, providerPaymentId, amount }, signal),
    );
    if (!result.ok) return { unreachable: true, error: result.error };
    outcome = result.value;
  } catch (error) {
    // An adapter's bug or an error it did not map: as for a timeout, the refund's fate is unknown.
    return { unreachable: true, error };
  }
  if (outcome.status === 'FAILED') return (await fail(outcome.providerMessage)) ?? refund;
  const { status, providerRefundId } = outcome;
  return record(async (tx) => {
    const settled = await settlePendingRefund(tx, refund.id, {
      status,
      providerRefundId,
      failureCode: null,
      failureMessage: null,
    });
    if (!settled) return (await refundById(tx, refund.id)) ?? refund;
    if (status === 'SUCCEEDED') await completeRefund(tx, deps, settled);
    return settled;
  });
}

/** Minor units → "12.50 EUR" for messages, with the currency's own number of decimals. */
function formatMoney(amount: number, currency: string): string {
  let digits = 2;
  try {
    digits =
      new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits ??
      2;
  } catch {
    // An unknown code: cents, as most currencies.
  }
  return `${(amount / 10 ** digits).toFixed(digits)} ${currency}`;
}

// ---------------------------------------------------------------- orders' refundRequested

/**
 * Refunds orders asks for (a cancelled event, a refund by policy, a payment that came too late or
 * twice), once per refundId. The contract names no payment: the refund is of the order's latest
 * SUCCEEDED payment not yet refunded in full, which for PAID_AFTER_EXPIRY and DUPLICATE_PAYMENT is
 * the payment that caused it (it is the latest).
 *
 * The provider is called inside the consumer's transaction (the kit gives the handler one): it
 * holds a connection and the payment's row lock for the call's duration (PAYMENT_DEADLINE_MS at
 * most). Safe on redelivery: the call's idempotency key is the refundId, so a transaction that
 * rolls back after the provider acted is answered the same refund when the event comes again.
 */
export function refundConsumer(
  log: Logger,
  outbox: Outbox,
  deps: {
    providers: () => PaymentProviders;
    deadlineMs: number;
    receiptLinks: ReceiptLinks;
    buyerKeys: People;
  },
): EventConsumer<typeof refundRequested.payload> {
  return {
    name: 'refunds',
    event: refundRequested,
    async handle({ payload }, tx) {
      const { orderId, refundId, amount, reason } = payload;
      if (await refundById(tx, refundId)) return;
      const payment = await refundablePayment(tx, orderId);
      if (!payment || amount.amount <= 0)
        return void log.error({ ...payload }, 'refund asked for an order with nothing to refund');
      // Refunds by request (refundOrder, requestRefund) count while PENDING too.
      const left = payment.amount - (await committedRefunds(tx, payment.id));
      const fits = amount.currency === payment.currency && amount.amount <= left;
      const refund = await insertRefundIfNew(tx, {
        id: refundId,
        paymentId: payment.id,
        orderId,
        amount: amount.amount,
        currency: amount.currency,
        reason,
        ...(fits
          ? {}
          : {
              status: 'FAILED' as const,
              failureCode: 'REFUND_FAILED',
              failureMessage: FAILURE_MESSAGES.REFUND_FAILED,
            }),
      });
      if (!refund) return;
      if (!fits) await publishRefundFailed(tx, outbox, refund);
      if (!fits)
        return void log.error(
          {
            refundId,
            paymentId: payment.id,
            providerMessage: `asked ${amount.amount} ${amount.currency}, ${left} left`,
          },
          'REFUND_FAILED',
        );
      const sent = await sendRefund(
        {
          providers: deps.providers(),
          deadlineMs: deps.deadlineMs,
          receiptLinks: deps.receiptLinks,
          buyerKeys: deps.buyerKeys,
          outbox,
          log,
        },
        payment,
        refund,
        (fn) => fn(tx),
      );
      // Unreachable: the event is retried later (same refundId, same provider key).
      if ('unreachable' in sent) throw sent.error;
    },
  };
}

// ---------------------------------------------------------------- refundOrder, requestRefund

type RefundContext = Pick<
  Context,
  | 'db'
  | 'viewer'
  | 'outbox'
  | 'log'
  | 'providers'
  | 'paymentDeadlineMs'
  | 'ledgerDb'
  | 'receiptLinks'
  | 'buyerKeys'
>;

interface RefundResult {
  refund: RefundRow | null;
  errors: UserError[];
}

const invalid = (errors: UserError[]): RefundResult => ({ refund: null, errors });
const refusal = (code: UserError['code'], message: string, field?: string[]): RefundResult =>
  invalid([{ code, message, ...(field ? { field } : {}) }]);

// One message for an unknown order and one the caller may not refund: a stranger learns nothing.
const UNKNOWN_ORDER = 'No order with this id.';
const UNPAID = 'This order has no completed payment to refund.';
const NOTHING_LEFT = 'Everything paid for this order has been refunded already.';

/**
 * Reserves a refund under the payment's row lock (taken by the caller) and commits it PENDING,
 * then asks the provider outside any transaction (a slow provider holds no connection or lock),
 * recording its answer on the ledger database. When the provider cannot be reached the refund
 * stays PENDING with PROVIDER_UNAVAILABLE: it may have happened, so it keeps its share of the
 * payment; asking again with the same id (requestRefund does) can never refund twice.
 */
export async function finishRefund(
  ctx: Pick<
    RefundContext,
    'outbox' | 'log' | 'providers' | 'paymentDeadlineMs' | 'ledgerDb' | 'receiptLinks' | 'buyerKeys'
  >,
  payment: PaymentRow,
  refund: RefundRow,
): Promise<RefundRow> {
  const deps = {
    providers: ctx.providers,
    deadlineMs: ctx.paymentDeadlineMs,
    outbox: ctx.outbox,
    log: ctx.log,
    receiptLinks: ctx.receiptLinks,
    buyerKeys: ctx.buyerKeys,
  };
  const sent = await sendRefund(deps, payment, refund, (fn) => ctx.ledgerDb.transaction(fn));
  if (!('unreachable' in sent)) return sent;
  ctx.log.warn(
    { refundId: refund.id, paymentId: payment.id, provider: payment.provider, err: sent.error },
    'refund provider unavailable; refund left PENDING',
  );
  const updated = await ctx.ledgerDb.transaction((tx) =>
    settlePendingRefund(tx, refund.id, {
      failureCode: 'PROVIDER_UNAVAILABLE',
      failureMessage: FAILURE_MESSAGES.PROVIDER_UNAVAILABLE,
    }),
  );
  return updated ?? (await refundById(ctx.ledgerDb, refund.id)) ?? refund;
}

const refundOrderInput = z.object({
  orderId: uuidInput,
  amount: moneyInput
    .refine((money) => money.amount > 0, { message: 'must be more than zero', path: ['amount'] })
    .nullish(),
  reason: z.string().trim().min(1, 'must not be empty').max(500, 'must be at most 500 characters'),
});

/**
 * The organization's ADMIN/OWNER (or a platform ADMIN) gives money back: `amount`, or everything
 * not refunded yet. Never more than paid: the payment's row is locked while PENDING and SUCCEEDED
 * refunds are counted and the new one is inserted, so concurrent refunds queue on it. Its STAFF
 * are FORBIDDEN; anyone else learns nothing (NOT_FOUND, as an unknown order).
 */
export const refundOrder = mutationRule(
  { input: refundOrderInput, caller: requireUser, invalid },
  async (ctx: RefundContext, input, user): Promise<RefundResult> => {
    const charge = await orderCharge(ctx.db, input.orderId);
    if (!charge || !(user.organizations[charge.organizationId] || isOrgAdmin(user, charge.organizationId)))
      return refusal('NOT_FOUND', UNKNOWN_ORDER, ['input', 'orderId']);
    if (!isOrgAdmin(user, charge.organizationId))
      throw new DomainError('FORBIDDEN', "only the organization's ADMIN or OWNER may refund its orders");

    const reserved = await ctx.db.transaction(async (tx) => {
      const payment = await succeededPaymentForUpdate(tx, charge.orderId);
      if (!payment) return refusal('INVALID_INPUT', UNPAID, ['input', 'orderId']);
      const left = payment.amount - (await committedRefunds(tx, payment.id));
      if (left <= 0) return refusal('INVALID_INPUT', NOTHING_LEFT, ['input', 'orderId']);
      const asked = input.amount ?? { amount: left, currency: payment.currency };
      if (asked.currency !== payment.currency)
        return refusal('INVALID_INPUT', `The order was paid in ${payment.currency}.`, [
          'input',
          'amount',
          'currency',
        ]);
      if (asked.amount > left)
        return refusal(
          'INVALID_INPUT',
          `At most ${formatMoney(left, payment.currency)} is left to refund on this order.`,
          ['input', 'amount', 'amount'],
        );
      const refund = await insertRefundIfNew(tx, {
        id: uuidv7(),
        paymentId: payment.id,
        orderId: charge.orderId,
        amount: asked.amount,
        currency: asked.currency,
        reason: input.reason,
        requestedBy: user.userId,
      });
      return { payment, refund: refund! };
    });
    if (!('payment' in reserved)) return reserved;
    return { refund: await finishRefund(ctx, reserved.payment, reserved.refund), errors: [] };
  },
);

/** A buyer's refund has one id per order: asked twice, it is found, never made twice. */
const BUYER_REFUND_NAMESPACE = '5b0f6a52-8d7e-4b0e-9a54-3c1f2f0e8a11';
const buyerRefundId = (orderId: string) => uuidv5(`request-refund:${orderId}`, BUYER_REFUND_NAMESPACE);
const BUYER_REASON = 'Requested by the buyer under the event’s refund policy';

const requestRefundInput = z.object({
  orderId: uuidInput,
  /** A guest token as orders hands it out (43 characters); anything long is no token. */
  guestToken: z.string().max(100, 'not a guest token').nullish(),
});

/**
 * The buyer (or a guest with the order's token, as for payOrder) asks for their money back: granted
 * at once when the terms they bought under allow it (refund-policy.ts), refused with the policy's
 * reason when not. Once per order: asking again answers the same refund (and asks the provider
 * again while it could not be reached).
 */
export const requestRefund = mutationRule(
  { input: requestRefundInput, invalid },
  async (ctx: RefundContext, input): Promise<RefundResult> => {
    const charge = await orderCharge(ctx.db, input.orderId);
    if (!charge || !mayPay(ctx.viewer, charge, input.guestToken))
      return refusal('NOT_FOUND', UNKNOWN_ORDER, ['input', 'orderId']);
    const id = buyerRefundId(charge.orderId);

    const reserved = await ctx.db.transaction(async (tx) => {
      const payment = await succeededPaymentForUpdate(tx, charge.orderId);
      if (!payment) return refusal('INVALID_INPUT', UNPAID, ['input', 'orderId']);
      const existing = await refundById(tx, id);
      if (existing) return { payment, refund: existing, fresh: false };
      const decision = decide(charge, payment);
      if (!decision.granted) return refusal('INVALID_INPUT', decision.reason, ['input', 'orderId']);
      const left = payment.amount - (await committedRefunds(tx, payment.id));
      const amount = Math.min(decision.amount, left);
      if (amount <= 0) return refusal('INVALID_INPUT', NOTHING_LEFT, ['input', 'orderId']);
      const refund = await insertRefundIfNew(tx, {
        id,
        paymentId: payment.id,
        orderId: charge.orderId,
        amount,
        currency: payment.currency,
        reason: BUYER_REASON,
        requestedBy: ctx.viewer.kind === 'user' ? ctx.viewer.userId : null,
      });
      return { payment, refund: refund!, fresh: true };
    });
    if (!('payment' in reserved)) return reserved;
    const { payment, refund, fresh } = reserved;
    // Still PENDING without the provider's id: its answer was never heard; ask again (same key).
    if (fresh || (refund.status === 'PENDING' && !refund.providerRefundId))
      return { refund: await finishRefund(ctx, payment, refund), errors: [] };
    return { refund, errors: [] };
  },
);

const decide = (charge: OrderChargeRow, payment: PaymentRow) =>
  refundByPolicy(charge.refundPolicy, {
    paid: payment.amount,
    eventStartsAt: charge.eventStartsAt,
    now: new Date(),
  });

// ---------------------------------------------------------------- reading

/** `Payment.refunds`: the payment was shown to the caller already (visiblePayment), oldest first. */
export const refundsOfVisiblePayment = async (ctx: Pick<Context, 'db'>, payment: { id: string }) =>
  refundsOfPayment(ctx.db, payment.id);

/** `Order.refunds`, for whoever may read the order's payments; to anyone else the order has none. */
export async function refundsOfVisibleOrder(
  ctx: Pick<Context, 'db' | 'loaders' | 'viewer'>,
  order: { id: string },
): Promise<RefundRow[]> {
  const charge = await ctx.loaders.orderCharge.load(order.id);
  return maySeePayments(ctx.viewer, charge) ? await refundsOfOrder(ctx.db, order.id) : [];
}
