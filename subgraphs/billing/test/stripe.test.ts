import { paymentSucceeded, refundSucceeded } from '@bilten/contracts/billing';
import { refundRequested } from '@bilten/contracts/orders';
import { newEvent } from '@bilten/platform';
import { recordEvents, startTestSubgraph, type TestSubgraph, waitFor } from '@bilten/testkit';
import { type FakeStripe, startFakeStripe } from '@bilten/testkit/fakes/stripe';
import Stripe from 'stripe';
import { v7 as uuidv7 } from 'uuid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TransientProviderError } from '../src/adapters/provider.ts';
import { createStripeAdapter } from '../src/adapters/stripe.ts';
import { billingSubgraph } from '../src/server.ts';
import { announceOrder, chargeRequest, signal } from './support.ts';

let fake: FakeStripe;
let adapter: ReturnType<typeof createStripeAdapter>;
const TIMEOUT_MS = 300;
const SECRET_KEY = 'sk_test_fake_stripe';

beforeAll(async () => {
  fake = await startFakeStripe();
  adapter = createStripeAdapter({
    secretKey: SECRET_KEY,
    host: fake.host,
    port: fake.port,
    protocol: fake.protocol,
    timeoutMs: TIMEOUT_MS,
  });
});

afterAll(async () => {
  await fake?.stop();
});

describe('Stripe adapter against the fake API', () => {
  it('charges pm_card_visa: one confirmed PaymentIntent with our ids in metadata and the card summary', async () => {
    const request = chargeRequest('pm_card_visa', 2500);
    const outcome = await adapter.charge(request, signal());
    expect(outcome).toEqual({
      status: 'SUCCEEDED',
      providerPaymentId: expect.stringMatching(/^pi_/),
      card: { brand: 'visa', last4: '4242', expMonth: 12, expYear: 2034 },
    });
    const intent = fake.paymentIntent(outcome.providerPaymentId!)!;
    expect(intent).toMatchObject({
      amount: 2500,
      currency: 'eur',
      metadata: { paymentId: request.paymentId, orderId: request.orderId },
    });
    expect(fake.chargesFor(intent.id)).toBe(1);
    expect(fake.requests.at(-1)?.idempotencyKey).toBe(request.idempotencyKey);
  });

  it.each([
    ['pm_card_chargeDeclined', 'CARD_DECLINED'],
    ['pm_card_chargeDeclinedInsufficientFunds', 'INSUFFICIENT_FUNDS'],
    ['pm_card_chargeDeclinedExpiredCard', 'EXPIRED_CARD'],
    ['pm_card_chargeDeclinedIncorrectCvc', 'INCORRECT_CVC'],
    ['pm_card_doesNotExist', 'INVALID_PAYMENT_METHOD'],
  ])('maps %s to %s, the provider’s words kept for the logs', async (token, failureCode) => {
    const outcome = await adapter.charge(chargeRequest(token), signal());
    expect(outcome).toMatchObject({ status: 'FAILED', failureCode, providerMessage: expect.any(String) });
    if (outcome.status === 'FAILED' && outcome.providerPaymentId) {
      expect(fake.chargesFor(outcome.providerPaymentId)).toBe(0);
    }
  });

  it('3-D Secure: requires_action with the redirect, then confirm reads it succeeded', async () => {
    const request = chargeRequest('pm_card_threeDSecureRequired');
    const outcome = await adapter.charge(request, signal());
    expect(outcome).toMatchObject({
      status: 'REQUIRES_ACTION',
      nextAction: {
        type: 'REDIRECT_TO_URL',
        url: expect.stringContaining('/3ds/pi_'),
        clientSecret: expect.stringMatching(/^pi_.+_secret_/),
      },
    });
    const id = outcome.providerPaymentId!;
    expect(fake.chargesFor(id)).toBe(0);
    expect(await adapter.confirm(id, request.idempotencyKey, signal())).toMatchObject({
      status: 'REQUIRES_ACTION',
    });

    fake.completeAction(id);
    expect(await adapter.confirm(id, request.idempotencyKey, signal())).toEqual({
      status: 'SUCCEEDED',
      providerPaymentId: id,
      card: { brand: 'visa', last4: '3220', expMonth: 12, expYear: 2034 },
    });
    expect(fake.chargesFor(id)).toBe(1);
  });

  it('3-D Secure failed by the buyer: confirm answers AUTHENTICATION_FAILED', async () => {
    const request = chargeRequest('pm_card_threeDSecureRequired');
    const outcome = await adapter.charge(request, signal());
    fake.completeAction(outcome.providerPaymentId!, 'failed');
    expect(await adapter.confirm(outcome.providerPaymentId!, request.idempotencyKey, signal())).toMatchObject(
      {
        status: 'FAILED',
        failureCode: 'AUTHENTICATION_FAILED',
      },
    );
  });

  it.each([500, 503, 429])('a %i is transient; the retry with the same key charges once', async (status) => {
    const request = chargeRequest('pm_card_visa');
    fake.failNext(1, status);
    await expect(adapter.charge(request, signal())).rejects.toBeInstanceOf(TransientProviderError);
    const outcome = await adapter.charge(request, signal());
    expect(outcome.status).toBe('SUCCEEDED');
    expect(fake.chargesFor(outcome.providerPaymentId!)).toBe(1);
    // And a third call with the key answers the stored result, still one charge.
    expect(await adapter.charge(request, signal())).toEqual(outcome);
    expect(fake.chargesFor(outcome.providerPaymentId!)).toBe(1);
    expect(fake.paymentIntentFor(request.paymentId)?.id).toBe(outcome.providerPaymentId);
  });

  it('a hung request becomes a TransientProviderError within the timeout, and the retry charges once', async () => {
    const request = chargeRequest('pm_card_visa');
    fake.hangNext(1);
    const started = performance.now();
    await expect(adapter.charge(request, signal())).rejects.toBeInstanceOf(TransientProviderError);
    const elapsed = performance.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(TIMEOUT_MS - 20);
    expect(elapsed).toBeLessThan(TIMEOUT_MS + 1_000);
    const outcome = await adapter.charge(request, signal());
    expect(outcome.status).toBe('SUCCEEDED');
    expect(fake.chargesFor(outcome.providerPaymentId!)).toBe(1);
  });

  it('the deadline (abort signal) cuts a call short as TransientProviderError', async () => {
    const slow = createStripeAdapter({
      secretKey: SECRET_KEY,
      host: fake.host,
      port: fake.port,
      protocol: fake.protocol,
      timeoutMs: 10_000,
    });
    fake.hangNext(1);
    const started = performance.now();
    await expect(slow.charge(chargeRequest('pm_card_visa'), AbortSignal.timeout(150))).rejects.toBeInstanceOf(
      TransientProviderError,
    );
    expect(performance.now() - started).toBeLessThan(2_000);
  });

  it('refunds partially, then the rest; never more than paid; a retried refund is not a second one', async () => {
    const charged = await adapter.charge(chargeRequest('pm_card_visa', 5000), signal());
    const providerPaymentId = charged.providerPaymentId!;
    const amount = (value: number) => ({ amount: value, currency: 'EUR' });

    const firstId = uuidv7();
    const first = await adapter.refund(
      { refundId: firstId, providerPaymentId, amount: amount(2000) },
      signal(),
    );
    expect(first).toEqual({ status: 'SUCCEEDED', providerRefundId: expect.stringMatching(/^re_/) });
    // The same refund asked again (same id → same key): the stored answer, no second refund.
    expect(
      await adapter.refund({ refundId: firstId, providerPaymentId, amount: amount(2000) }, signal()),
    ).toEqual(first);

    const tooMuch = await adapter.refund(
      { refundId: uuidv7(), providerPaymentId, amount: amount(3001) },
      signal(),
    );
    expect(tooMuch).toMatchObject({ status: 'FAILED', failureCode: 'REFUND_FAILED' });

    const rest = await adapter.refund(
      { refundId: uuidv7(), providerPaymentId, amount: amount(3000) },
      signal(),
    );
    expect(rest).toMatchObject({ status: 'SUCCEEDED' });
    const again = await adapter.refund(
      { refundId: uuidv7(), providerPaymentId, amount: amount(1) },
      signal(),
    );
    expect(again).toMatchObject({ status: 'FAILED', failureCode: 'REFUND_FAILED' });
  });

  it('a 503 on a refund is transient; the retry with the same id refunds once', async () => {
    const charged = await adapter.charge(chargeRequest('pm_card_visa', 1000), signal());
    const request = {
      refundId: uuidv7(),
      providerPaymentId: charged.providerPaymentId!,
      amount: { amount: 1000, currency: 'EUR' },
    };
    fake.failNext(1, 503);
    await expect(adapter.refund(request, signal())).rejects.toBeInstanceOf(TransientProviderError);
    expect(await adapter.refund(request, signal())).toMatchObject({ status: 'SUCCEEDED' });
    // Fully refunded by the one refund: had the retry refunded again, this would be a second one.
    expect(
      await adapter.refund(
        { ...request, refundId: uuidv7(), amount: { amount: 1, currency: 'EUR' } },
        signal(),
      ),
    ).toMatchObject({ status: 'FAILED' });
  });
});

// ---------------------------------------------------------------- through the billing subgraph

const WEBHOOK_SECRET = 'whsec_test_bilten_stripe';

describe('Stripe through the billing subgraph: payOrder and POST /webhooks/stripe', () => {
  let subgraph: TestSubgraph;
  let webhookUrl: string;

  beforeAll(async () => {
    subgraph = await startTestSubgraph(billingSubgraph, 'in-process', {
      env: {
        STRIPE_SECRET_KEY: SECRET_KEY,
        STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET,
        STRIPE_API_HOST: fake.host,
        STRIPE_API_PORT: String(fake.port),
        STRIPE_API_PROTOCOL: fake.protocol,
      },
    });
    webhookUrl = new URL('/webhooks/stripe', subgraph.service.url).toString();
  });

  afterAll(async () => {
    await subgraph?.dispose();
  });

  const post = (payload: string, headers: Record<string, string>) =>
    fetch(webhookUrl, {
      method: 'POST',
      headers: {
        // As Stripe sends it.
        'content-type': 'application/json; charset=utf-8',
        ...headers,
      },
      body: payload,
    });

  const signed = (payload: string, timestamp?: number) =>
    post(payload, {
      'stripe-signature': Stripe.webhooks.generateTestHeaderString({
        payload,
        secret: WEBHOOK_SECRET,
        ...(timestamp ? { timestamp } : {}),
      }),
    });

  interface PaymentView {
    id: string;
    status: string;
    failureCode: string | null;
    failureMessage: string | null;
    nextAction: { type: string; url: string | null } | null;
    card: { brand: string; last4: string } | null;
  }

  const PAY = `mutation($input: PayOrderInput!) {
    payOrder(input: $input) {
      payment { id status failureCode failureMessage nextAction { type url } card { brand last4 } }
      errors { code message field }
    }
  }`;

  async function payOrder(orderId: string, token: string, headers: Record<string, string>) {
    const { data, errors } = await subgraph.gql<{
      payOrder: { payment: PaymentView | null; errors: unknown[] };
    }>(
      PAY,
      { input: { orderId, provider: 'STRIPE', paymentMethodToken: token, idempotencyKey: uuidv7() } },
      headers,
    );
    expect(errors).toBeUndefined();
    expect(data!.payOrder.errors).toEqual([]);
    return data!.payOrder.payment!;
  }

  const storedPayment = async (id: string) =>
    (
      await subgraph.sql<Array<{ status: string; provider_payment_id: string }>>`
        select status, provider_payment_id from billing.payments where id = ${id}`
    )[0]!;

  it('payOrder with STRIPE charges through the adapter: SUCCEEDED with the card, a clear decline otherwise', async () => {
    const { orderId, buyer: headers } = await announceOrder(subgraph);
    const declined = await payOrder(orderId, 'pm_card_chargeDeclinedInsufficientFunds', headers);
    expect(declined).toMatchObject({
      status: 'FAILED',
      failureCode: 'INSUFFICIENT_FUNDS',
      failureMessage: 'Your card has insufficient funds. Try another card.',
    });
    const paid = await payOrder(orderId, 'pm_card_visa', headers);
    expect(paid).toMatchObject({ status: 'SUCCEEDED', card: { brand: 'visa', last4: '4242' } });
    const { provider_payment_id } = await storedPayment(paid.id);
    expect(fake.chargesFor(provider_payment_id)).toBe(1);
    expect(fake.paymentIntent(provider_payment_id)?.metadata).toMatchObject({ paymentId: paid.id, orderId });
  });

  it('3-D Secure completed by webhook: the payment succeeds once, however often Stripe delivers', async () => {
    const succeeded = await recordEvents(subgraph.testBus.bus, paymentSucceeded);
    const { orderId, buyer: headers } = await announceOrder(subgraph);
    const payment = await payOrder(orderId, 'pm_card_threeDSecureRequired', headers);
    expect(payment).toMatchObject({ status: 'REQUIRES_ACTION', nextAction: { type: 'REDIRECT_TO_URL' } });
    const { provider_payment_id: intentId } = await storedPayment(payment.id);

    const intent = fake.completeAction(intentId);
    const payload = fake.eventPayload('payment_intent.succeeded', intent);
    const first = await signed(payload);
    expect(first.status).toBe(200);
    expect(await first.json()).toMatchObject({ result: 'applied' });
    expect((await storedPayment(payment.id)).status).toBe('SUCCEEDED');

    const again = await signed(payload); // a redelivery: a new signature, the same event id
    expect(again.status).toBe(200);
    expect(await again.json()).toMatchObject({ result: 'duplicate' });
    await waitFor(async () => succeeded.find((event) => event.payload.paymentId === payment.id));
    // The outbox holds one paymentSucceeded for this payment, the redelivery added none.
    const rows = await subgraph.sql`
      select 1 from billing.outbox where type = ${paymentSucceeded.type} and payload->>'paymentId' = ${payment.id}`;
    expect(rows).toHaveLength(1);
    expect(fake.chargesFor(intentId)).toBe(1);
  });

  it('3-D Secure completed, then confirmPayment: SUCCEEDED with the card, one charge, no webhook needed', async () => {
    const { orderId, buyer: headers } = await announceOrder(subgraph);
    const payment = await payOrder(orderId, 'pm_card_threeDSecureRequired', headers);
    expect(payment.status).toBe('REQUIRES_ACTION');
    const { provider_payment_id: intentId } = await storedPayment(payment.id);
    fake.completeAction(intentId);
    const { data, errors } = await subgraph.gql<{
      confirmPayment: { payment: PaymentView | null; errors: unknown[] };
    }>(
      `mutation($input: ConfirmPaymentInput!) {
        confirmPayment(input: $input) { payment { id status card { brand last4 } } errors { code message } }
      }`,
      { input: { paymentId: payment.id } },
      headers,
    );
    expect(errors).toBeUndefined();
    expect(data!.confirmPayment.payment).toMatchObject({
      status: 'SUCCEEDED',
      card: { brand: 'visa', last4: '3220' },
    });
    expect(fake.chargesFor(intentId)).toBe(1);
  });

  it('charge.dispute.created is applied as an alert on the payment', async () => {
    const { orderId, buyer: headers } = await announceOrder(subgraph, { amount: 2000 });
    const paid = await payOrder(orderId, 'pm_card_visa', headers);
    const { provider_payment_id: intentId } = await storedPayment(paid.id);
    const response = await signed(
      fake.eventPayload('charge.dispute.created', {
        id: 'dp_1',
        object: 'dispute',
        amount: 2000,
        currency: 'eur',
        reason: 'fraudulent',
        status: 'needs_response',
        charge: fake.paymentIntent(intentId)!.latest_charge,
        payment_intent: intentId,
      }),
    );
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ result: 'applied' });
    expect(subgraph.logs).toContainEqual(
      expect.objectContaining({ msg: 'payment disputed', paymentId: paid.id, reason: 'fraudulent' }),
    );
  });

  it('payment_intent.payment_failed by webhook fails a waiting payment with a safe message', async () => {
    const { orderId, buyer: headers } = await announceOrder(subgraph);
    const payment = await payOrder(orderId, 'pm_card_threeDSecureRequired', headers);
    const { provider_payment_id: intentId } = await storedPayment(payment.id);
    const intent = fake.completeAction(intentId, 'failed');
    const response = await signed(fake.eventPayload('payment_intent.payment_failed', intent));
    expect(response.status).toBe(200);
    const [row] = await subgraph.sql<
      Array<{ status: string; failure_code: string; failure_message: string }>
    >`
      select status, failure_code, failure_message from billing.payments where id = ${payment.id}`;
    expect(row).toEqual({
      status: 'FAILED',
      failure_code: 'AUTHENTICATION_FAILED',
      failure_message: 'We could not authenticate your card. Try again or use another card.',
    });
  });

  it('refuses a bad, missing or stale signature with 400 and a security log line without the body', async () => {
    const { orderId, buyer: headers } = await announceOrder(subgraph);
    const payment = await payOrder(orderId, 'pm_card_threeDSecureRequired', headers);
    const { provider_payment_id: intentId } = await storedPayment(payment.id);
    const intent = fake.completeAction(intentId);
    const payload = fake.eventPayload('payment_intent.succeeded', intent);

    const forged = Stripe.webhooks.generateTestHeaderString({ payload, secret: 'whsec_not_ours' });
    const attempts = [
      await post(payload, { 'stripe-signature': forged }),
      await post(payload, {}),
      await signed(payload, Math.floor(Date.now() / 1000) - 301),
      // Signed, then altered: the signature covers the exact bytes.
      await post(payload.replace(intentId, `${intentId}x`), {
        'stripe-signature': Stripe.webhooks.generateTestHeaderString({ payload, secret: WEBHOOK_SECRET }),
      }),
    ];
    expect(attempts.map((response) => response.status)).toEqual([400, 400, 400, 400]);
    expect((await storedPayment(payment.id)).status).toBe('REQUIRES_ACTION');

    const refusals = subgraph.logs.filter(
      (line) => line.event === 'webhook_bad_signature' && line.provider === 'STRIPE',
    );
    expect(refusals.length).toBeGreaterThanOrEqual(4);
    expect(refusals.every((line) => line.security === true && typeof line.reason === 'string')).toBe(true);
    expect(JSON.stringify(refusals)).not.toContain(intentId);
    expect(JSON.stringify(subgraph.logs)).not.toContain(payload);
  });

  it('answers 200 to verified events it has nothing to do with, and 415 to a non-JSON body', async () => {
    const unknown = await signed(
      fake.eventPayload('payment_intent.succeeded', {
        id: 'pi_not_ours',
        object: 'payment_intent',
        status: 'succeeded',
        latest_charge: null,
      }),
    );
    expect(unknown.status).toBe(200);
    expect(await unknown.json()).toMatchObject({ result: 'unknown' });
    const other = await signed(fake.eventPayload('customer.created', { id: 'cus_1', object: 'customer' }));
    expect(other.status).toBe(200);
    const form = await fetch(webhookUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'a=b',
    });
    expect(form.status).toBe(415);
  });

  it('a pending refund settles by refund.updated: refunded once, however often Stripe delivers', async () => {
    const { orderId, buyer: headers } = await announceOrder(subgraph, { amount: 3000 });
    const paid = await payOrder(orderId, 'pm_card_visa', headers);
    const refundId = uuidv7();
    fake.pendNextRefunds(1);
    await subgraph.testBus.bus.publish(
      newEvent(refundRequested, orderId, 1, {
        orderId,
        refundId,
        amount: { amount: 1000, currency: 'EUR' },
        reason: 'CUSTOMER_REQUEST',
      }),
    );
    const pending = await waitFor(async () => {
      const [row] = await subgraph.sql<Array<{ status: string; provider_refund_id: string | null }>>`
        select status, provider_refund_id from billing.refunds where id = ${refundId}`;
      return row?.provider_refund_id ? row : undefined;
    });
    expect(pending.status).toBe('PENDING');

    const settled = fake.settleRefund(pending.provider_refund_id!);
    const payload = fake.eventPayload('refund.updated', settled);
    const first = await signed(payload);
    expect(first.status).toBe(200);
    expect(await first.json()).toMatchObject({ result: 'applied' });
    const again = await signed(payload);
    expect(await again.json()).toMatchObject({ result: 'duplicate' });

    const [refund] = await subgraph.sql<
      Array<{ status: string }>
    >`select status from billing.refunds where id = ${refundId}`;
    expect(refund!.status).toBe('SUCCEEDED');
    const [payment] = await subgraph.sql<Array<{ refunded_amount: number }>>`
      select refunded_amount from billing.payments where id = ${paid.id}`;
    expect(payment!.refunded_amount).toBe(1000);
    const published = await subgraph.sql`
      select 1 from billing.outbox where type = ${refundSucceeded.type} and payload->>'refundId' = ${refundId}`;
    expect(published).toHaveLength(1);
  });
});
