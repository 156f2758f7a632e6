import { paymentSucceeded, refundSucceeded } from '@bilten/contracts/billing';
import {
  connectDatabase,
  createOutbox,
  type DatabaseHandle,
  keyRingFromEnv,
  parseEnv,
} from '@bilten/platform';
import { captureLogs, recordEvents, startTestSubgraph, type TestSubgraph, waitFor } from '@bilten/testkit';
import { type FakeBraintree, startFakeBraintree } from '@bilten/testkit/fakes/braintree';
import { fakeProvidersEnv } from '@bilten/testkit/fakes/providers';
import { type FakeStripe, startFakeStripe } from '@bilten/testkit/fakes/stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createReceiptLinks } from '../src/adapters/receipt-links.ts';
import { billingEnv } from '../src/config.ts';
import { eventStore } from '../src/db/schema.ts';
import { type StaleSweepDeps, sweepStalePayments } from '../src/domain/stale-payments.ts';
import { billingBuyerKeys, billingProviders, billingSubgraph } from '../src/server.ts';
import { payNewOrder, refundInFull } from './support.ts';

// Payments and refunds left PENDING because the provider did not answer are finished by the sweep,
// asking again under the same key: one charge, one refund, however many sweeps run.

let stripe: FakeStripe;
let braintree: FakeBraintree;
let env: Record<string, string>;

beforeAll(async () => {
  stripe = await startFakeStripe();
  braintree = await startFakeBraintree();
  env = {
    // A short deadline: a provider that fails every call leaves the payment PENDING quickly.
    PAYMENT_DEADLINE_MS: '400',
    STALE_PAYMENT_SECONDS: '1',
    ...fakeProvidersEnv(stripe, braintree),
  };
});

afterAll(async () => {
  await stripe?.stop();
  await braintree?.close();
});

const paymentRow = async (subgraph: TestSubgraph, id: string) =>
  (
    await subgraph.sql<{ status: string; failure_code: string | null; provider_payment_id: string | null }[]>`
      select status, failure_code, provider_payment_id from billing.payments where id = ${id}`
  )[0]!;
const refundRow = async (subgraph: TestSubgraph, id: string) =>
  (
    await subgraph.sql<{ status: string; provider_refund_id: string | null }[]>`
      select status, provider_refund_id from billing.refunds where id = ${id}`
  )[0]!;
/** As if untouched for a minute: stale now, whatever STALE_PAYMENT_SECONDS. */
const age = async (subgraph: TestSubgraph, table: 'payments' | 'refunds', id: string) =>
  subgraph.sql`update ${subgraph.sql(`billing.${table}`)} set updated_at = now() - interval '1 minute' where id = ${id}`;

describe('the sweep, called directly (as two replicas would, at once)', () => {
  let subgraph: TestSubgraph;
  let database: DatabaseHandle;
  let deps: StaleSweepDeps;
  let logs: Array<Record<string, unknown>>;
  let paymentsSucceeded: Array<{ payload: { paymentId: string } }>;
  let refundsSucceeded: Array<{ payload: { refundId: string } }>;

  beforeAll(async () => {
    // No background sweep here: each test decides when sweeps run.
    subgraph = await startTestSubgraph(billingSubgraph, 'in-process', {
      env: { ...env, PAYMENT_SWEEP_MS: '3600000' },
    });
    paymentsSucceeded = await recordEvents(subgraph.testBus.bus, paymentSucceeded);
    refundsSucceeded = await recordEvents(subgraph.testBus.bus, refundSucceeded);
    const config = parseEnv(billingEnv, { ...env, PAYMENT_SWEEP_MS: '3600000' });
    database = connectDatabase({
      url: subgraph.database.url,
      poolSize: 4,
      applicationName: 'stale-sweep-test',
    });
    const captured = captureLogs('stale-sweep-test');
    logs = captured.lines;
    deps = {
      db: database.db,
      outbox: createOutbox(eventStore, 'billing'),
      log: captured.log,
      providers: billingProviders(config, database.db),
      tokenKey: keyRingFromEnv(config),
      paymentDeadlineMs: config.PAYMENT_DEADLINE_MS,
      receiptLinks: createReceiptLinks(config),
      buyerKeys: billingBuyerKeys(config, database.db),
      staleSeconds: config.STALE_PAYMENT_SECONDS,
    };
  });

  afterAll(async () => {
    await database?.close();
    await subgraph?.dispose();
  });

  it('a Stripe payment left PENDING by 5xx answers is charged once by the next sweeps, however many run at once', async () => {
    stripe.failNext(10_000, 503);
    const paid = await payNewOrder(subgraph, 'STRIPE', 'pm_card_visa', 3100);
    stripe.failNext(0);
    expect(paid).toMatchObject({ status: 'PENDING', failureCode: 'PROVIDER_UNAVAILABLE' });
    expect(stripe.paymentIntentFor(paid.paymentId)).toBeUndefined();

    // Not stale yet (touched just now): nothing is asked.
    const early = await sweepStalePayments(deps);
    expect(early.payments.claimed).toBe(0);

    await age(subgraph, 'payments', paid.paymentId);
    const before = stripe.requests.length;
    const sweeps = await Promise.all([
      sweepStalePayments(deps),
      sweepStalePayments(deps),
      sweepStalePayments(deps),
    ]);
    expect(sweeps.map((counts) => counts.payments.claimed).sort()).toEqual([0, 0, 1]);
    expect(sweeps.reduce((sum, counts) => sum + counts.payments.succeeded, 0)).toBe(1);
    // One ask, under the payment's own key.
    const asked = stripe.requests.slice(before).filter((r) => r.method === 'POST');
    expect(asked).toHaveLength(1);
    expect(asked[0]).toMatchObject({
      path: '/v1/payment_intents',
      idempotencyKey: `bilten-payment-${paid.paymentId}`,
    });
    const intent = stripe.paymentIntentFor(paid.paymentId)!;
    expect(stripe.chargesFor(intent.id)).toBe(1);
    expect(await paymentRow(subgraph, paid.paymentId)).toEqual({
      status: 'SUCCEEDED',
      failure_code: null,
      provider_payment_id: intent.id,
    });
    // Announced once, through the outbox, as a payOrder that succeeds is.
    await waitFor(async () => paymentsSucceeded.some((event) => event.payload.paymentId === paid.paymentId));
    expect(paymentsSucceeded.filter((event) => event.payload.paymentId === paid.paymentId)).toHaveLength(1);
    expect(logs.some((line) => line.msg === 'payment provider unavailable; payment left PENDING')).toBe(
      false,
    );

    // Settled: later sweeps leave it alone.
    await age(subgraph, 'payments', paid.paymentId);
    expect((await sweepStalePayments(deps)).payments.claimed).toBe(0);
  });

  it('a Braintree sale made but whose answer was lost is found, not sold again', async () => {
    // The sale is made, its answer never comes, and the deadline passes.
    braintree.hangNext(1, { afterProcessing: true, on: 'sale' });
    const paid = await payNewOrder(subgraph, 'BRAINTREE', 'fake-valid-nonce', 2700);
    expect(paid.status).toBe('PENDING');
    expect(braintree.salesFor(paid.paymentId)).toBe(1); // the money moved; billing never heard

    await age(subgraph, 'payments', paid.paymentId);
    const counts = await sweepStalePayments(deps);
    expect(counts.payments).toMatchObject({ claimed: 1, succeeded: 1 });
    expect(braintree.salesFor(paid.paymentId)).toBe(1);
    const row = await paymentRow(subgraph, paid.paymentId);
    expect(row.status).toBe('SUCCEEDED');
    expect(braintree.transactions.get(row.provider_payment_id!)?.orderId).toBe(paid.paymentId);
  });

  it('a provider still down leaves the payment PENDING, to be asked again after STALE_PAYMENT_SECONDS', async () => {
    stripe.failNext(10_000, 500);
    try {
      const paid = await payNewOrder(subgraph, 'STRIPE', 'pm_card_visa', 1900);
      await age(subgraph, 'payments', paid.paymentId);
      const counts = await sweepStalePayments(deps);
      expect(counts.payments).toMatchObject({ claimed: 1, stillPending: 1, succeeded: 0 });
      expect(await paymentRow(subgraph, paid.paymentId)).toMatchObject({
        status: 'PENDING',
        failure_code: 'PROVIDER_UNAVAILABLE',
      });
      // Its claim lasts STALE_PAYMENT_SECONDS: an immediate sweep does not ask again.
      expect((await sweepStalePayments(deps)).payments.claimed).toBe(0);
      stripe.failNext(0);
      await age(subgraph, 'payments', paid.paymentId);
      expect((await sweepStalePayments(deps)).payments).toMatchObject({ claimed: 1, succeeded: 1 });
      expect(stripe.chargesFor(stripe.paymentIntentFor(paid.paymentId)!.id)).toBe(1);
    } finally {
      stripe.failNext(0);
    }
  });

  it('a refund left PENDING without the provider’s id is sent again once, by one of two sweeps', async () => {
    const paid = await payNewOrder(subgraph, 'STRIPE', 'pm_card_visa', 5000);
    expect(paid.status).toBe('SUCCEEDED');
    stripe.failNext(10_000, 503);
    const refunded = await refundInFull(subgraph, paid);
    stripe.failNext(0);
    expect(refunded).toMatchObject({
      status: 'PENDING',
      failureCode: 'PROVIDER_UNAVAILABLE',
      providerRefundId: null,
    });
    expect(stripe.refundsOf(paid.providerPaymentId!)).toEqual([]);

    await age(subgraph, 'refunds', refunded.refundId);
    const sweeps = await Promise.all([sweepStalePayments(deps), sweepStalePayments(deps)]);
    expect(sweeps.map((counts) => counts.refunds.claimed).sort()).toEqual([0, 1]);
    const atStripe = stripe.refundsOf(paid.providerPaymentId!);
    expect(atStripe).toHaveLength(1);
    expect(atStripe[0]).toMatchObject({ amount: 5000, status: 'succeeded' });
    expect(await refundRow(subgraph, refunded.refundId)).toEqual({
      status: 'SUCCEEDED',
      provider_refund_id: atStripe[0]!.id,
    });
    const [payment] = await subgraph.sql<{ refunded_amount: number }[]>`
      select refunded_amount from billing.payments where id = ${paid.paymentId}`;
    expect(payment!.refunded_amount).toBe(5000);
    await waitFor(async () => refundsSucceeded.some((event) => event.payload.refundId === refunded.refundId));
    expect(refundsSucceeded.filter((event) => event.payload.refundId === refunded.refundId)).toHaveLength(1);
  });
});

describe('the background sweep of a running billing subgraph', () => {
  let subgraph: TestSubgraph;

  beforeAll(async () => {
    subgraph = await startTestSubgraph(billingSubgraph, 'in-process', {
      env: { ...env, PAYMENT_SWEEP_MS: '100' },
    });
  });

  afterAll(async () => {
    await subgraph?.dispose();
  });

  it('finishes a PENDING payment by itself, with one charge, and says so in its log', async () => {
    stripe.failNext(10_000, 503);
    const paid = await payNewOrder(subgraph, 'STRIPE', 'pm_card_visa', 2300);
    expect(paid.status).toBe('PENDING');
    stripe.failNext(0);
    await waitFor(async () => (await paymentRow(subgraph, paid.paymentId)).status === 'SUCCEEDED', 10_000);
    expect(stripe.chargesFor(stripe.paymentIntentFor(paid.paymentId)!.id)).toBe(1);
    await waitFor(() =>
      Promise.resolve(
        subgraph.logs.find(
          (line) =>
            line.msg === 'stale payments and refunds asked again' &&
            (line.payments as { succeeded: number }).succeeded === 1,
        ),
      ),
    );
  });
});
