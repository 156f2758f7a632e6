import { paymentFailed } from '@bilten/contracts/billing';
import {
  columnAad,
  type Database,
  type KeyRing,
  mutationRule,
  type UserError,
  uuidInput,
} from '@bilten/platform';
import { v7 as uuidv7 } from 'uuid';
import { z } from 'zod';
import { type ChargeOutcome, FAILURE_MESSAGES, type PaymentProviderAdapter } from '../adapters/provider.ts';
import type { Context } from '../context.ts';
import { openBuyer } from '../db/buyers.ts';
import {
  insertPaymentIfFree,
  livePayment,
  orderCharge,
  paymentById,
  paymentByKey,
  updateOpenPayment,
} from '../db/queries.ts';
import {
  type OrderChargeRow,
  PAYMENT_PROVIDERS,
  PAYMENT_TOKEN_COLUMN,
  type PaymentRow,
} from '../db/schema.ts';
import { mayPay, maySeePayments } from './access.ts';
import { PAYMENT_FIELDS, reportMoneyRead } from './access-reports.ts';
import { providerForOrder } from './provider-accounts.ts';
import { type Attempted, withRetries } from './provider-calls.ts';
import type { ReceiptDeps } from './receipts.ts';
import { completePayment } from './settlements.ts';

type PaymentContext = Pick<
  Context,
  | 'db'
  | 'viewer'
  | 'outbox'
  | 'log'
  | 'providers'
  | 'paymentDeadlineMs'
  | 'tokenKey'
  | 'ledgerDb'
  | 'receiptLinks'
  | 'buyerKeys'
>;

interface PaymentResult {
  payment: PaymentRow | null;
  errors: UserError[];
}

const invalid = (errors: UserError[]): PaymentResult => ({ payment: null, errors });
const alreadyPaid = (payment: PaymentRow): PaymentResult => ({
  payment,
  errors: [{ code: 'ALREADY_PAID', message: 'This order is already paid.' }],
});
const failure = (code: UserError['code'], message: string, field?: string[]): PaymentResult =>
  invalid([{ code, message, ...(field ? { field } : {}) }]);

// One message for an order billing has not heard of and one the caller may not pay: a stranger
// learns nothing. orders' `orderCreated` may still be on its way, hence the advice to retry.
const UNKNOWN_ORDER =
  'No order with this id is waiting for payment. If you have just checked out, try again in a moment.';

/** A guest token as orders hands it out (43 characters); anything long is no token. */
const guestTokenInput = z.string().max(100, 'not a guest token').nullish();

/** The idempotency key of every provider call that charges this payment. */
const chargeKey = (paymentId: string) => `bilten-payment-${paymentId}`;

/** The sealed token opens only for its own payment (it is bound to the payment id). */
const sealToken = (ring: KeyRing, paymentId: string, token: string) =>
  ring.encrypt(token, columnAad(PAYMENT_TOKEN_COLUMN, paymentId));
/** The payment's token, opened; throws when it was sealed for another payment or key. */
export const unsealToken = (ring: KeyRing, paymentId: string, sealed: string) =>
  ring.decrypt(sealed, columnAad(PAYMENT_TOKEN_COLUMN, paymentId));
function sameToken(ring: KeyRing, payment: PaymentRow, token: string): boolean {
  if (!payment.paymentMethodTokenSealed) return false;
  try {
    return unsealToken(ring, payment.id, payment.paymentMethodTokenSealed) === token;
  } catch {
    return false;
  }
}

/**
 * What the provider said, applied in one transaction with the event that announces it. Only an
 * open payment changes (updateOpenPayment): whoever got there first (a webhook) decides.
 */
export async function applyChargeOutcome(
  deps: ReceiptDeps & { db: Database },
  payment: PaymentRow,
  outcome: ChargeOutcome,
  attempts: number,
): Promise<PaymentRow | undefined> {
  return deps.db.transaction(async (tx) => {
    const cleared = { failureCode: null, failureMessage: null, nextAction: null };
    if (outcome.status === 'SUCCEEDED') {
      const updated = await updateOpenPayment(
        tx,
        { id: payment.id },
        {
          ...cleared,
          status: 'SUCCEEDED',
          providerPaymentId: outcome.providerPaymentId,
          card: outcome.card ?? payment.card,
        },
        attempts,
      );
      if (updated) await completePayment(tx, deps, updated);
      return updated;
    }
    if (outcome.status === 'REQUIRES_ACTION')
      return updateOpenPayment(
        tx,
        { id: payment.id },
        {
          ...cleared,
          status: 'REQUIRES_ACTION',
          providerPaymentId: outcome.providerPaymentId,
          nextAction: outcome.nextAction,
        },
        attempts,
      );
    deps.log.warn(
      {
        paymentId: payment.id,
        provider: payment.provider,
        failureCode: outcome.failureCode,
        providerMessage: outcome.providerMessage,
      },
      'payment failed',
    );
    const message = FAILURE_MESSAGES[outcome.failureCode];
    const updated = await updateOpenPayment(
      tx,
      { id: payment.id },
      {
        status: 'FAILED',
        providerPaymentId: outcome.providerPaymentId,
        failureCode: outcome.failureCode,
        failureMessage: message,
        nextAction: null,
      },
      attempts,
    );
    if (updated)
      await deps.outbox.publish(tx, paymentFailed, updated.id, {
        paymentId: updated.id,
        orderId: updated.orderId,
        failureCode: outcome.failureCode,
        failureMessage: message,
      });
    return updated;
  });
}

/**
 * Asks the provider (outside any transaction: a slow provider holds no connection), retrying
 * transient failures within the deadline, then applies the answer. When the provider cannot be
 * reached the payment stays PENDING with PROVIDER_UNAVAILABLE: the charge may have happened, so it
 * is not called FAILED; the next payOrder with the same key asks again under the same provider
 * idempotency key, which can never charge twice.
 */
export async function askProvider(
  ctx: Pick<
    PaymentContext,
    'db' | 'outbox' | 'log' | 'paymentDeadlineMs' | 'ledgerDb' | 'receiptLinks' | 'buyerKeys'
  >,
  payment: PaymentRow,
  call: (signal: AbortSignal) => Promise<ChargeOutcome>,
): Promise<PaymentRow> {
  let result: Attempted<ChargeOutcome> | { ok: false; error: unknown; attempts: number };
  try {
    result = await withRetries(ctx.paymentDeadlineMs, call);
  } catch (err) {
    // An adapter's bug or an error it did not map: the charge's fate is unknown, as for a timeout.
    ctx.log.error({ err, paymentId: payment.id }, 'provider call failed unexpectedly');
    result = { ok: false, error: err, attempts: 1 };
  }
  if (result.ok)
    return (
      (await applyChargeOutcome({ ...ctx, db: ctx.ledgerDb }, payment, result.value, result.attempts)) ??
      (await reread(ctx, payment))
    );
  ctx.log.warn(
    { paymentId: payment.id, provider: payment.provider, attempts: result.attempts, err: result.error },
    'payment provider unavailable; payment left PENDING',
  );
  const updated = await ctx.ledgerDb.transaction((tx) =>
    updateOpenPayment(
      tx,
      { id: payment.id },
      { failureCode: 'PROVIDER_UNAVAILABLE', failureMessage: FAILURE_MESSAGES.PROVIDER_UNAVAILABLE },
      result.attempts,
    ),
  );
  return updated ?? (await reread(ctx, payment));
}

const reread = async (ctx: Pick<PaymentContext, 'db'>, payment: PaymentRow) =>
  (await paymentById(ctx.db, payment.id)) ?? payment;

/** The buyer's address the provider is told (opened from the order's sealed copy). */
export const buyerEmailOf = async (ctx: Pick<PaymentContext, 'db' | 'buyerKeys'>, charge: OrderChargeRow) =>
  (await openBuyer(ctx.db, ctx.buyerKeys, 'order_charges', charge.orderId, charge)).buyerEmail;

export function chargeCall(
  adapter: PaymentProviderAdapter,
  payment: PaymentRow,
  buyerEmail: string,
  token: string,
) {
  return (signal: AbortSignal) =>
    adapter.charge(
      {
        paymentId: payment.id,
        orderId: payment.orderId,
        amount: { amount: payment.amount, currency: payment.currency },
        paymentMethodToken: token,
        idempotencyKey: chargeKey(payment.id),
        buyerEmail,
      },
      signal,
    );
}

const payOrderInput = z.object({
  orderId: uuidInput,
  provider: z.enum(PAYMENT_PROVIDERS),
  // Provider tokens are short (Stripe pm_…, Braintree nonces): a long one is no token.
  paymentMethodToken: z
    .string()
    .min(1, 'must not be empty')
    .max(512, 'must be at most 512 characters')
    .regex(/^[\x21-\x7e]+$/, 'must be a payment-method token from the provider'),
  idempotencyKey: z
    .string()
    .min(1, 'must not be empty')
    .max(255, 'must be at most 255 characters')
    .regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces'),
  guestToken: guestTokenInput,
});

/**
 * Pays an order with the amount orders announced. At most one payment of an order is live (the
 * database's unique index): concurrent attempts find it instead of charging again. The same key
 * answers the same payment; a PENDING one is asked about again under the same provider key.
 */
export const payOrder = mutationRule(
  { input: payOrderInput, invalid },
  async (ctx: PaymentContext, input): Promise<PaymentResult> => {
    const charge = await orderCharge(ctx.db, input.orderId);
    if (!charge || !mayPay(ctx.viewer, charge, input.guestToken))
      return failure('NOT_FOUND', UNKNOWN_ORDER, ['input', 'orderId']);
    const chosen = await providerForOrder(ctx, charge, input.provider);
    if ('error' in chosen) return invalid([chosen.error]);
    const { adapter } = chosen;

    const again = await answerRepeat(ctx, adapter, charge, input);
    if (again) return again;
    if (charge.expiresAt.getTime() <= Date.now()) {
      // A paid order is answered as paid, whenever asked.
      const live = await livePayment(ctx.db, charge.orderId);
      if (live?.status === 'SUCCEEDED') return alreadyPaid(live);
      return failure('INVALID_INPUT', 'This order has expired: its tickets went back on sale.', [
        'input',
        'orderId',
      ]);
    }

    const id = uuidv7();
    const payment = await insertPaymentIfFree(ctx.db, {
      id,
      orderId: charge.orderId,
      provider: input.provider,
      amount: charge.amount,
      currency: charge.currency,
      idempotencyKey: input.idempotencyKey,
      paymentMethodTokenSealed: sealToken(ctx.tokenKey, id, input.paymentMethodToken),
      providerAccountId: chosen.account?.id ?? null,
    });
    if (!payment) {
      // Lost a race: to the same key (answer as a repeat) or to another live attempt.
      const repeat = await answerRepeat(ctx, adapter, charge, input);
      if (repeat) return repeat;
      const live = await livePayment(ctx.db, charge.orderId);
      if (!live) return failure('CONFLICT', 'Another payment of this order just ended; try again.');
      return live.status === 'SUCCEEDED' ? alreadyPaid(live) : { payment: live, errors: [] };
    }
    return {
      payment: await askProvider(
        ctx,
        payment,
        chargeCall(adapter, payment, await buyerEmailOf(ctx, charge), input.paymentMethodToken),
      ),
      errors: [],
    };
  },
);

/** A key used before: its payment as it stands, or asked again while PENDING. */
async function answerRepeat(
  ctx: PaymentContext,
  adapter: PaymentProviderAdapter,
  charge: OrderChargeRow,
  input: z.output<typeof payOrderInput>,
): Promise<PaymentResult | undefined> {
  const payment = await paymentByKey(ctx.db, charge.orderId, input.idempotencyKey);
  if (!payment) return undefined;
  if (payment.provider !== input.provider || !sameToken(ctx.tokenKey, payment, input.paymentMethodToken))
    return failure(
      'INVALID_INPUT',
      'This idempotency key was used with another payment method; use a new key for a new attempt.',
      ['input', 'idempotencyKey'],
    );
  if (payment.status !== 'PENDING') return { payment, errors: [] };
  // Asked again where it was first charged, even if the organization's account changed since.
  const own = (await ctx.providers.forPayment(payment)) ?? adapter;
  return {
    payment: await askProvider(
      ctx,
      payment,
      chargeCall(own, payment, await buyerEmailOf(ctx, charge), input.paymentMethodToken),
    ),
    errors: [],
  };
}

const confirmPaymentInput = z.object({ paymentId: uuidInput, guestToken: guestTokenInput });

/** After the buyer's action (3-D Secure): asks the provider where the payment stands and applies it. */
export const confirmPayment = mutationRule(
  { input: confirmPaymentInput, invalid },
  async (ctx: PaymentContext, { paymentId, guestToken }): Promise<PaymentResult> => {
    const payment = await paymentById(ctx.db, paymentId);
    const charge = payment && (await orderCharge(ctx.db, payment.orderId));
    if (!payment || !charge || !mayPay(ctx.viewer, charge, guestToken))
      return failure('NOT_FOUND', 'No payment with this id.', ['input', 'paymentId']);
    if (payment.status !== 'REQUIRES_ACTION' || !payment.providerPaymentId) return { payment, errors: [] };
    // The account it was charged through, even one removed since.
    const adapter = await ctx.providers.forPayment(payment);
    if (!adapter)
      return failure('INVALID_INPUT', `${payment.provider} is not available for payments here`, [
        'input',
        'paymentId',
      ]);
    const providerPaymentId = payment.providerPaymentId;
    return {
      payment: await askProvider(ctx, payment, (signal) =>
        adapter.confirm(providerPaymentId, `${chargeKey(payment.id)}-confirm`, signal),
      ),
      errors: [],
    };
  },
);

/** `payment(id:)` and Payment references: for the order's buyer, its organization's ADMIN/OWNER, platform ADMINs. */
export async function visiblePayment(
  ctx: Pick<Context, 'loaders' | 'viewer' | 'requestId' | 'db' | 'outbox'>,
  { id }: { id: string },
): Promise<PaymentRow | null> {
  const payment = await ctx.loaders.payment.load(id);
  if (!payment) return null;
  const charge = await ctx.loaders.orderCharge.load(payment.orderId);
  if (!maySeePayments(ctx.viewer, charge)) return null;
  await reportMoneyRead(ctx, charge, `payment:${payment.id}`, PAYMENT_FIELDS);
  return payment;
}

/** `Order.payments`, oldest first, for the same callers; to anyone else the order has none. */
export async function paymentsOfOrder(
  ctx: Pick<Context, 'loaders' | 'viewer' | 'requestId' | 'db' | 'outbox'>,
  order: { id: string },
): Promise<PaymentRow[]> {
  const [charge, payments] = await Promise.all([
    ctx.loaders.orderCharge.load(order.id),
    ctx.loaders.paymentsOfOrder.load(order.id),
  ]);
  if (!maySeePayments(ctx.viewer, charge)) return [];
  if (payments.length) await reportMoneyRead(ctx, charge, `order:${order.id}:payments`, PAYMENT_FIELDS);
  return payments;
}
