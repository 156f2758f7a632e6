import { refundRequested } from '@bilten/contracts/orders';
import { newEvent } from '@bilten/platform';
import { startTestSubgraph, type TestSubgraph, type UserError, waitFor } from '@bilten/testkit';
import { type FakeBraintree, startFakeBraintree } from '@bilten/testkit/fakes/braintree';
import braintree from 'braintree';
import { v7 as uuidv7 } from 'uuid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  braintreeEnvironment,
  createBraintreeAdapter,
  parseMerchantAccounts,
  toDecimal,
  toMinor,
} from '../src/adapters/braintree.ts';
import { providerEventOf } from '../src/adapters/braintree-webhooks.ts';
import { TransientProviderError } from '../src/adapters/provider.ts';
import { billingSubgraph } from '../src/server.ts';
import { announceOrder, chargeRequest, signal } from './support.ts';

let fake: FakeBraintree;
let adapter: ReturnType<typeof createBraintreeAdapter>;
const TIMEOUT_MS = 300;

beforeAll(async () => {
  fake = await startFakeBraintree();
  adapter = createBraintreeAdapter({
    merchantId: fake.merchantId,
    publicKey: fake.publicKey,
    privateKey: fake.privateKey,
    environment: braintreeEnvironment(fake.url),
    timeoutMs: TIMEOUT_MS,
  });
});

afterAll(async () => {
  await fake?.close();
});

describe('amounts', () => {
  it('minor units ↔ decimal strings by the currency exponent', () => {
    expect(toDecimal({ amount: 1234, currency: 'EUR' })).toBe('12.34');
    expect(toDecimal({ amount: 5, currency: 'USD' })).toBe('0.05');
    expect(toDecimal({ amount: 1500, currency: 'JPY' })).toBe('1500');
    expect(toDecimal({ amount: 1234, currency: 'KWD' })).toBe('1.234');
    expect(toMinor('12.34', 'EUR')).toBe(1234);
    expect(toMinor('250.0', 'USD')).toBe(25000);
    expect(toMinor('100', 'USD')).toBe(10000);
    expect(toMinor('1500', 'JPY')).toBe(1500);
  });
});

describe('Braintree adapter against the fake gateway', () => {
  it('charges a valid nonce: submitted for settlement with the card summary, our payment id as orderId', async () => {
    const request = chargeRequest('fake-valid-nonce');
    const outcome = await adapter.charge(request, signal());
    expect(outcome).toEqual({
      status: 'SUCCEEDED',
      providerPaymentId: expect.any(String),
      card: { brand: 'Visa', last4: '1111', expMonth: 12, expYear: 2030 },
    });
    const sale = fake.transactions.get(outcome.providerPaymentId!)!;
    expect(sale).toMatchObject({
      amount: '12.34',
      orderId: request.paymentId,
      status: 'submitted_for_settlement',
    });
    expect(fake.salesFor(request.paymentId)).toBe(1);
  });

  it('maps a processor decline (2000) to CARD_DECLINED and insufficient funds (2001) to INSUFFICIENT_FUNDS', async () => {
    const declined = await adapter.charge(chargeRequest('fake-processor-declined-visa-nonce'), signal());
    expect(declined).toMatchObject({ status: 'FAILED', failureCode: 'CARD_DECLINED' });
    expect(declined.status === 'FAILED' && declined.providerPaymentId).toBeTruthy();
    const poor = await adapter.charge(chargeRequest('fake-processor-declined-insufficient-nonce'), signal());
    expect(poor).toMatchObject({ status: 'FAILED', failureCode: 'INSUFFICIENT_FUNDS' });
  });

  it('maps a 3-D Secure gateway rejection and an unknown nonce', async () => {
    expect(await adapter.charge(chargeRequest('fake-gateway-rejected-nonce'), signal())).toMatchObject({
      status: 'FAILED',
      failureCode: 'AUTHENTICATION_FAILED',
    });
    expect(await adapter.charge(chargeRequest('fake-nonce-nobody-issued'), signal())).toMatchObject({
      status: 'FAILED',
      providerPaymentId: null,
      failureCode: 'INVALID_PAYMENT_METHOD',
    });
  });

  it('with merchant accounts per currency: the sale names the account; a currency without one is never charged', async () => {
    const perCurrency = createBraintreeAdapter({
      merchantId: fake.merchantId,
      publicKey: fake.publicKey,
      privateKey: fake.privateKey,
      environment: braintreeEnvironment(fake.url),
      timeoutMs: TIMEOUT_MS,
      merchantAccounts: parseMerchantAccounts('EUR:bilten_eur, USD:bilten_usd'),
    });
    const charged = await perCurrency.charge(chargeRequest('fake-valid-nonce'), signal());
    expect(fake.transactions.get(charged.providerPaymentId!)!.merchantAccountId).toBe('bilten_eur');
    const yen = { ...chargeRequest('fake-valid-nonce'), amount: { amount: 1500, currency: 'JPY' } };
    expect(await perCurrency.charge(yen, signal())).toMatchObject({
      status: 'FAILED',
      failureCode: 'PROCESSING_ERROR',
    });
    expect(fake.salesFor(yen.paymentId)).toBe(0);
  });

  it('a 503 on the sale (not made): transient, and the retry sells once', async () => {
    const request = chargeRequest('fake-valid-nonce');
    fake.failNext(1, 503, { on: 'sale' });
    await expect(adapter.charge(request, signal())).rejects.toBeInstanceOf(TransientProviderError);
    expect(fake.salesFor(request.paymentId)).toBe(0);
    expect(await adapter.charge(request, signal())).toMatchObject({ status: 'SUCCEEDED' });
    expect(fake.salesFor(request.paymentId)).toBe(1);
  });

  it('a 503 after the sale was made (answer lost): the retry finds it by orderId, no second sale', async () => {
    const request = chargeRequest('fake-valid-nonce');
    // The search answers, then the sale is made but its answer is a 503.
    fake.failNext(1, 503, { afterProcessing: true, on: 'sale' });
    await expect(adapter.charge(request, signal())).rejects.toBeInstanceOf(TransientProviderError);
    expect(fake.salesFor(request.paymentId)).toBe(1);
    const retried = await adapter.charge(request, signal());
    expect(retried).toMatchObject({ status: 'SUCCEEDED', card: { last4: '1111' } });
    expect(fake.salesFor(request.paymentId)).toBe(1);
  });

  it('a hung request becomes a TransientProviderError within the timeout', async () => {
    fake.hangNext(1);
    const started = Date.now();
    await expect(adapter.charge(chargeRequest('fake-valid-nonce'), signal())).rejects.toBeInstanceOf(
      TransientProviderError,
    );
    expect(Date.now() - started).toBeLessThan(TIMEOUT_MS + 1_000);
  });

  it('the deadline (abort signal) cuts a call short as TransientProviderError', async () => {
    fake.hangNext(1);
    const slowAdapter = createBraintreeAdapter({
      merchantId: fake.merchantId,
      publicKey: fake.publicKey,
      privateKey: fake.privateKey,
      environment: braintreeEnvironment(fake.url),
      timeoutMs: 30_000,
    });
    const started = Date.now();
    await expect(
      slowAdapter.charge(chargeRequest('fake-valid-nonce'), AbortSignal.timeout(200)),
    ).rejects.toBeInstanceOf(TransientProviderError);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('confirm re-reads the transaction', async () => {
    const charged = await adapter.charge(chargeRequest('fake-valid-nonce'), signal());
    expect(await adapter.confirm(charged.providerPaymentId!, 'key', signal())).toEqual(charged);
    expect(await adapter.confirm('no-such-transaction', 'key', signal())).toMatchObject({
      status: 'FAILED',
      failureCode: 'PROCESSING_ERROR',
    });
  });

  it('before settlement: a full refund voids; a partial one is refused', async () => {
    const charged = await adapter.charge(chargeRequest('fake-valid-nonce', 5000), signal());
    const id = charged.providerPaymentId!;
    const partial = await adapter.refund(
      { refundId: uuidv7(), providerPaymentId: id, amount: { amount: 1000, currency: 'EUR' } },
      signal(),
    );
    expect(partial).toMatchObject({ status: 'FAILED', failureCode: 'REFUND_FAILED' });
    const full = { refundId: uuidv7(), providerPaymentId: id, amount: { amount: 5000, currency: 'EUR' } };
    expect(await adapter.refund(full, signal())).toEqual({ status: 'SUCCEEDED', providerRefundId: id });
    expect(fake.transactions.get(id)!.status).toBe('voided');
    // Asked again (a lost answer): still done, nothing more.
    expect(await adapter.refund(full, signal())).toEqual({ status: 'SUCCEEDED', providerRefundId: id });
  });

  it('after settlement: a partial then the rest, never more than paid, and a retried refund is not a second one', async () => {
    const charged = await adapter.charge(chargeRequest('fake-valid-nonce', 5000), signal());
    const id = charged.providerPaymentId!;
    fake.settle(id);
    const first = { refundId: uuidv7(), providerPaymentId: id, amount: { amount: 1500, currency: 'EUR' } };
    const partial = await adapter.refund(first, signal());
    expect(partial).toEqual({ status: 'SUCCEEDED', providerRefundId: expect.any(String) });
    expect(
      fake.transactions.get(partial.status === 'SUCCEEDED' ? partial.providerRefundId : ''),
    ).toMatchObject({
      type: 'credit',
      amount: '15.00',
      orderId: first.refundId,
    });
    // The same refund asked again finds its credit by orderId.
    expect(await adapter.refund(first, signal())).toEqual(partial);
    expect(fake.transactions.get(id)!.refundIds).toHaveLength(1);

    const tooMuch = await adapter.refund(
      { refundId: uuidv7(), providerPaymentId: id, amount: { amount: 3501, currency: 'EUR' } },
      signal(),
    );
    expect(tooMuch).toMatchObject({ status: 'FAILED', failureCode: 'REFUND_FAILED' });
    const rest = await adapter.refund(
      { refundId: uuidv7(), providerPaymentId: id, amount: { amount: 3500, currency: 'EUR' } },
      signal(),
    );
    expect(rest).toMatchObject({ status: 'SUCCEEDED' });
    expect(fake.transactions.get(id)!.refundIds).toHaveLength(2);
  });

  it('a 503 on a refund whose credit was made: the retry finds it, one credit', async () => {
    const charged = await adapter.charge(chargeRequest('fake-valid-nonce', 2000), signal());
    const id = charged.providerPaymentId!;
    fake.settle(id);
    const request = { refundId: uuidv7(), providerPaymentId: id, amount: { amount: 2000, currency: 'EUR' } };
    // find answers; the refund is made and its answer lost.
    fake.failNext(1, 500, { afterProcessing: true, on: 'refund' });
    await expect(adapter.refund(request, signal())).rejects.toBeInstanceOf(TransientProviderError);
    expect(fake.transactions.get(id)!.refundIds).toHaveLength(1);
    expect(await adapter.refund(request, signal())).toMatchObject({ status: 'SUCCEEDED' });
    expect(fake.transactions.get(id)!.refundIds).toHaveLength(1);
  });
});

describe('the billing subgraph with Braintree', () => {
  let subgraph: TestSubgraph;
  let base: string;
  /** Signs notifications with the subgraph's keys, Braintree's way (webhookTesting). */
  let signer: braintree.BraintreeGateway;

  beforeAll(async () => {
    subgraph = await startTestSubgraph(billingSubgraph, 'in-process', {
      env: {
        BRAINTREE_MERCHANT_ID: fake.merchantId,
        BRAINTREE_PUBLIC_KEY: fake.publicKey,
        BRAINTREE_PRIVATE_KEY: fake.privateKey,
        BRAINTREE_ENVIRONMENT: fake.url,
      },
    });
    base = subgraph.service.url.replace(/\/graphql$/, '');
    signer = new braintree.BraintreeGateway({
      environment: braintreeEnvironment(fake.url),
      merchantId: fake.merchantId,
      publicKey: fake.publicKey,
      privateKey: fake.privateKey,
    });
  });

  afterAll(async () => {
    await subgraph?.dispose();
  });

  const post = (form: Record<string, string>) =>
    fetch(`${base}/webhooks/braintree`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(form).toString(),
    });

  const sample = (kind: string, id: string) =>
    signer.webhookTesting.sampleNotification(
      kind as braintree.WebhookNotificationKind,
      id,
    ) as unknown as Promise<{
      bt_signature: string;
      bt_payload: string;
    }>;

  async function seedPendingPayment(providerPaymentId: string) {
    const id = uuidv7();
    await subgraph.sql`
      insert into billing.payments (id, order_id, provider, status, amount, currency, idempotency_key, provider_payment_id)
      values (${id}, ${uuidv7()}, 'BRAINTREE', 'PENDING', 10000, 'USD', ${`key-${id}`}, ${providerPaymentId})`;
    return id;
  }

  const succeededEvents = async (paymentId: string) =>
    (
      await subgraph.sql`select count(*)::int as n from billing.outbox
        where type = 'bilten.billing.payment.succeeded' and aggregate_id = ${paymentId}`
    )[0]!.n as number;

  // ------------------------------------------------------------ payOrder and refunds through the port

  interface Paid {
    payment: {
      id: string;
      status: string;
      failureCode: string | null;
      failureMessage: string | null;
      card: { brand: string; last4: string } | null;
    } | null;
    errors: UserError[];
  }

  async function payWithBraintree(order: { orderId: string; buyer: Record<string, string> }, nonce: string) {
    const { data, errors } = await subgraph.gql<{ payOrder: Paid }>(
      `mutation($input: PayOrderInput!) {
        payOrder(input: $input) { payment { id status failureCode failureMessage card { brand last4 } } errors { code message field } }
      }`,
      {
        input: {
          orderId: order.orderId,
          provider: 'BRAINTREE',
          paymentMethodToken: nonce,
          idempotencyKey: uuidv7(),
        },
      },
      order.buyer,
    );
    expect(errors).toBeUndefined();
    return data!.payOrder;
  }

  it('payOrder with a Braintree nonce: one sale of the order amount, the card kept', async () => {
    const order = await announceOrder(subgraph, { amount: 4500 });
    const { payment, errors } = await payWithBraintree(order, 'fake-valid-nonce');
    expect(errors).toEqual([]);
    expect(payment).toMatchObject({ status: 'SUCCEEDED', card: { brand: 'Visa', last4: '1111' } });
    expect(fake.salesFor(payment!.id)).toBe(1);
    const [sale] = [...fake.transactions.values()].filter((t) => t.orderId === payment!.id);
    expect(sale!.amount).toBe('45.00');
  });

  it('payOrder through a lost sale answer (503 after the sale): retried, one sale', async () => {
    const order = await announceOrder(subgraph);
    fake.failNext(1, 503, { afterProcessing: true, on: 'sale' });
    const { payment } = await payWithBraintree(order, 'fake-valid-nonce');
    expect(payment).toMatchObject({ status: 'SUCCEEDED' });
    expect(fake.salesFor(payment!.id)).toBe(1);
  });

  it('payOrder declined: FAILED with a safe message; another card then pays', async () => {
    const order = await announceOrder(subgraph);
    const declined = await payWithBraintree(order, 'fake-processor-declined-insufficient-nonce');
    expect(declined.payment).toMatchObject({
      status: 'FAILED',
      failureCode: 'INSUFFICIENT_FUNDS',
      failureMessage: 'Your card has insufficient funds. Try another card.',
    });
    expect((await payWithBraintree(order, 'fake-valid-nonce')).payment).toMatchObject({
      status: 'SUCCEEDED',
    });
  });

  it("orders' refund.requested for the whole amount before settlement voids the sale", async () => {
    const order = await announceOrder(subgraph, { amount: 3000 });
    const { payment } = await payWithBraintree(order, 'fake-valid-nonce');
    const refundId = uuidv7();
    await subgraph.testBus.bus.publish(
      newEvent(refundRequested, order.orderId, 1, {
        orderId: order.orderId,
        refundId,
        amount: { amount: 3000, currency: 'EUR' },
        reason: 'EVENT_CANCELLED',
      }),
    );
    const [refund] = await waitFor(async () => {
      const rows =
        await subgraph.sql`select status, provider_refund_id from billing.refunds where id = ${refundId}`;
      return rows[0]?.status === 'SUCCEEDED' && rows;
    });
    const [sale] = [...fake.transactions.values()].filter((t) => t.orderId === payment!.id);
    expect(refund!.provider_refund_id).toBe(sale!.id);
    expect(sale!.status).toBe('voided');
  });

  // ------------------------------------------------------------ webhooks

  it('applies a signed transaction_settled once, however often it is delivered', async () => {
    const providerPaymentId = `bt-${uuidv7()}`;
    const paymentId = await seedPendingPayment(providerPaymentId);
    const notification = await sample('transaction_settled', providerPaymentId);

    const first = await post(notification);
    expect(first.status).toBe(200);
    expect(await first.json()).toEqual({ received: true, result: 'applied' });
    const [payment] = await subgraph.sql`select status from billing.payments where id = ${paymentId}`;
    expect(payment!.status).toBe('SUCCEEDED');
    expect(await succeededEvents(paymentId)).toBe(1);

    const again = await post(notification);
    expect(again.status).toBe(200);
    expect(await again.json()).toEqual({ received: true, result: 'duplicate' });
    expect(await succeededEvents(paymentId)).toBe(1);
    const recorded = await subgraph.sql`select kind from billing.webhook_events where provider = 'BRAINTREE'
      and event_id = encode(sha256(${notification.bt_payload}::bytea), 'hex')`;
    expect(recorded.map((row) => row.kind)).toEqual(['PAYMENT_SUCCEEDED']);
  });

  it('answers 200 for a transaction billing does not know (recorded, so Braintree stops retrying)', async () => {
    const response = await post(await sample('transaction_settled', `bt-${uuidv7()}`));
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ received: true, result: 'unknown' });
  });

  it('refuses a bad signature with 400 and a security log line without the body', async () => {
    const providerPaymentId = `bt-${uuidv7()}`;
    const paymentId = await seedPendingPayment(providerPaymentId);
    const genuine = await sample('transaction_settled', providerPaymentId);
    const forged = { ...genuine, bt_signature: `${fake.publicKey}|${'0'.repeat(40)}` };
    const response = await post(forged);
    expect(response.status).toBe(400);
    // Signed with someone else's key: refused alike.
    const stranger = new braintree.BraintreeGateway({
      environment: braintreeEnvironment(fake.url),
      merchantId: fake.merchantId,
      publicKey: fake.publicKey,
      privateKey: 'not-our-private-key',
    });
    const foreign = (await stranger.webhookTesting.sampleNotification(
      'transaction_settled' as braintree.WebhookNotificationKind,
      providerPaymentId,
    )) as unknown as Record<string, string>;
    expect((await post(foreign)).status).toBe(400);
    expect((await post({ bt_payload: genuine.bt_payload })).status).toBe(400);

    const [payment] = await subgraph.sql`select status from billing.payments where id = ${paymentId}`;
    expect(payment!.status).toBe('PENDING');
    const security = subgraph.logs.filter((line) => line.event === 'webhook_bad_signature');
    expect(security.length).toBeGreaterThanOrEqual(3);
    expect(security[0]).toMatchObject({ security: true, provider: 'BRAINTREE' });
    const payloadStart = genuine.bt_payload.slice(0, 40);
    expect(JSON.stringify(subgraph.logs)).not.toContain(payloadStart);
  });

  it("takes only Braintree's form", async () => {
    const response = await fetch(`${base}/webhooks/braintree`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ bt_signature: 'x', bt_payload: 'y' }),
    });
    expect(response.status).toBe(415);
  });

  it('translates settlements of refunds, declines and disputes', async () => {
    const parse = async (kind: string, id: string) => {
      const { bt_signature, bt_payload } = await sample(kind, id);
      return providerEventOf(
        (await signer.webhookNotification.parse(bt_signature, bt_payload)) as never,
        'event-1',
      );
    };
    expect(await parse('transaction_settlement_declined', 'tx-1')).toMatchObject({
      kind: 'PAYMENT_FAILED',
      providerPaymentId: 'tx-1',
      failureCode: 'CARD_DECLINED',
    });
    expect(await parse('dispute_opened', 'dp-1')).toMatchObject({
      kind: 'DISPUTE_OPENED',
      amount: { amount: 25000, currency: 'USD' },
    });
    expect(await parse('subscription_canceled', 'sub-1')).toMatchObject({
      kind: 'IGNORED',
      type: 'subscription_canceled',
    });
    expect(
      providerEventOf(
        {
          kind: 'transaction_settled',
          transaction: {
            id: 'cr-1',
            type: 'credit',
            status: 'settled',
            amount: '15.00',
            currencyIsoCode: 'EUR',
            refundedTransactionId: 'tx-9',
          },
        },
        'event-2',
      ),
    ).toEqual({
      provider: 'BRAINTREE',
      eventId: 'event-2',
      kind: 'REFUND_SUCCEEDED',
      providerPaymentId: 'tx-9',
      providerRefundId: 'cr-1',
      amount: { amount: 1500, currency: 'EUR' },
    });
  });
});
