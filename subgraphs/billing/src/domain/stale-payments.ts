import { type Database, type Logger, type Outbox, runPeriodically } from '@bilten/platform';
import type { BillingServices } from '../context.ts';
import { orderCharge, paymentById } from '../db/queries.ts';
import { claimStalePayments, claimStaleRefunds } from '../db/stale-payments.ts';
import { askProvider, buyerEmailOf, chargeCall, unsealToken } from './payments.ts';
import { finishRefund } from './refunds.ts';

// Payments and refunds left PENDING (the provider could not be reached within the request's
// deadline, or the process stopped mid-call) are asked about again in the background, under the
// same provider idempotency key (a payment's) or id (a refund's): a charge or refund that did happen
// is answered, never made twice. A payment waiting for the buyer (REQUIRES_ACTION) or a refund the
// provider accepted and settles later (PENDING with its id) is not stale: a webhook finishes those.

/** Claimed per sweep: each is one provider call of up to PAYMENT_DEADLINE_MS, made in turn. */
const BATCH = 20;

export interface StaleSweepDeps
  extends Pick<
    BillingServices,
    'providers' | 'tokenKey' | 'paymentDeadlineMs' | 'receiptLinks' | 'buyerKeys'
  > {
  db: Database;
  outbox: Outbox;
  log: Logger;
  /** Untouched this long (STALE_PAYMENT_SECONDS) → asked again. */
  staleSeconds: number;
}

export interface SweepCounts {
  payments: { claimed: number; succeeded: number; failed: number; stillPending: number; skipped: number };
  refunds: { claimed: number; succeeded: number; failed: number; stillPending: number };
}

/** One sweep: claims stale payments and refunds (SKIP LOCKED) and asks their providers again. */
export async function sweepStalePayments(deps: StaleSweepDeps): Promise<SweepCounts> {
  const ctx = { ...deps, ledgerDb: deps.db };
  const counts: SweepCounts = {
    payments: { claimed: 0, succeeded: 0, failed: 0, stillPending: 0, skipped: 0 },
    refunds: { claimed: 0, succeeded: 0, failed: 0, stillPending: 0 },
  };

  const stalePayments = await claimStalePayments(deps.db, deps.staleSeconds, BATCH);
  counts.payments.claimed = stalePayments.length;
  for (const payment of stalePayments) {
    const [adapter, charge] = await Promise.all([
      deps.providers.forPayment(payment),
      orderCharge(deps.db, payment.orderId),
    ]);
    const sealed = payment.paymentMethodTokenSealed;
    if (!adapter || !charge || !sealed) {
      // Nothing to ask with; it is claimed again after staleSeconds, and logged each time.
      deps.log.error(
        { paymentId: payment.id, provider: payment.provider, adapter: !!adapter, charge: !!charge },
        'stale payment cannot be asked about again',
      );
      counts.payments.skipped++;
      continue;
    }
    const token = unsealToken(deps.tokenKey, payment.id, sealed);
    const after = await askProvider(
      ctx,
      payment,
      chargeCall(adapter, payment, await buyerEmailOf(deps, charge), token),
    );
    if (after.status === 'SUCCEEDED') counts.payments.succeeded++;
    else if (after.status === 'FAILED') counts.payments.failed++;
    else counts.payments.stillPending++;
  }

  const staleRefunds = await claimStaleRefunds(deps.db, deps.staleSeconds, BATCH);
  counts.refunds.claimed = staleRefunds.length;
  for (const refund of staleRefunds) {
    const payment = await paymentById(deps.db, refund.paymentId);
    if (!payment) continue; // a foreign key makes this impossible
    const after = await finishRefund(ctx, payment, refund);
    if (after.status === 'SUCCEEDED') counts.refunds.succeeded++;
    else if (after.status === 'FAILED') counts.refunds.failed++;
    else counts.refunds.stillPending++;
  }
  return counts;
}

/** Sweeps every `intervalMs` (PAYMENT_SWEEP_MS) until stopped; one log line per sweep that found work. */
export const startStalePaymentSweep = (deps: StaleSweepDeps, intervalMs: number) =>
  runPeriodically(
    intervalMs,
    async () => {
      const counts = await sweepStalePayments(deps);
      if (counts.payments.claimed || counts.refunds.claimed)
        deps.log.info(counts, 'stale payments and refunds asked again');
    },
    (error) => deps.log.error({ err: error }, 'stale payment sweep failed'),
  );
