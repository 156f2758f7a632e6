import { paymentFailed, paymentSucceeded, refundSucceeded } from '@bilten/contracts/billing';
import { refundRequested } from '@bilten/contracts/orders';
import { connectDatabase, createOutbox, newEvent } from '@bilten/platform';
import {
  captureLogs,
  recordEvents,
  startTestSubgraph,
  type TestSubgraph,
  type UserError,
  waitFor,
} from '@bilten/testkit';
import { expectFieldErrors, rowCount } from '@bilten/testkit/checks';
import { v7 as uuidv7 } from 'uuid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProviderEvent } from '../src/adapters/provider.ts';
import { createReceiptLinks } from '../src/adapters/receipt-links.ts';
import { SANDBOX_ACTION_URL, sandboxCharges } from '../src/adapters/sandbox.ts';
import { eventStore } from '../src/db/schema.ts';
import { applyProviderEvent } from '../src/domain/provider-events.ts';
import { billingBuyerKeys, billingSubgraph } from '../src/server.ts';
import { type AnnouncedOrder, announceOrder } from './support.ts';

/** As the subgraph makes them in tests (the development secret): webhooks issue receipts too. */
const receiptLinks = createReceiptLinks({ NODE_ENV: 'test' });

/** Short, so that a provider that never answers (tok_timeout) costs the suite one second. */
const DEADLINE_MS = 1000;

let subgraph: TestSubgraph;
let succeeded: Awaited<ReturnType<typeof recordEvents<typeof paymentSucceeded.payload>>>;
let failed: Awaited<ReturnType<typeof recordEvents<typeof paymentFailed.payload>>>;
let refunded: Awaited<ReturnType<typeof recordEvents<typeof refundSucceeded.payload>>>;

beforeAll(async () => {
  subgraph = await startTestSubgraph(billingSubgraph, 'jetstream', {
    env: { PAYMENT_DEADLINE_MS: String(DEADLINE_MS) },
  });
  succeeded = await recordEvents(subgraph.testBus.bus, paymentSucceeded);
  failed = await recordEvents(subgraph.testBus.bus, paymentFailed);
  refunded = await recordEvents(subgraph.testBus.bus, refundSucceeded);
});

afterAll(async () => {
  await subgraph?.dispose();
});

// ---------------------------------------------------------------- helpers

interface Payment {
  id: string;
  status: string;
  amount: { amount: number; currency: string };
  provider: string;
  failureCode: string | null;
  failureMessage: string | null;
  nextAction: { type: string; url: string | null; clientSecret: string | null } | null;
  card: { brand: string; last4: string; expMonth: number; expYear: number } | null;
  createdAt: string;
}
interface Payload {
  payment: Payment | null;
  errors: UserError[];
}

const PAYMENT_FIELDS =
  'id status amount { amount currency } provider failureCode failureMessage nextAction { type url clientSecret } card { brand last4 expMonth expYear } createdAt';
const PAY_ORDER = `mutation($input: PayOrderInput!) {
  payOrder(input: $input) { payment { ${PAYMENT_FIELDS} } errors { code message field } }
}`;
const CONFIRM_PAYMENT = `mutation($input: ConfirmPaymentInput!) {
  confirmPayment(input: $input) { payment { ${PAYMENT_FIELDS} } errors { code message field } }
}`;

async function payOrder(
  order: AnnouncedOrder,
  input: Record<string, unknown> = {},
  headers: Record<string, string> = order.buyer,
): Promise<Payload> {
  const { data, errors } = await subgraph.gql<{ payOrder: Payload }>(
    PAY_ORDER,
    {
      input: {
        orderId: order.orderId,
        provider: 'SANDBOX',
        paymentMethodToken: 'tok_visa',
        idempotencyKey: uuidv7(),
        ...(order.guestToken ? { guestToken: order.guestToken } : {}),
        ...input,
      },
    },
    headers,
  );
  expect(errors).toBeUndefined();
  return data!.payOrder;
}

async function confirmPayment(paymentId: string, headers: Record<string, string>, guestToken?: string) {
  const { data, errors } = await subgraph.gql<{ confirmPayment: Payload }>(
    CONFIRM_PAYMENT,
    { input: { paymentId, ...(guestToken ? { guestToken } : {}) } },
    headers,
  );
  expect(errors).toBeUndefined();
  return data!.confirmPayment;
}

const paymentRows = (orderId: string) =>
  subgraph.sql<
    Array<{ id: string; status: string; attempts: number; payment_method_token_sealed: string | null }>
  >`
    select id, status, attempts, payment_method_token_sealed from billing.payments where order_id = ${orderId} order by id`;

const nonEmpty = <T extends ArrayLike<unknown>>(list: T) => (list.length ? list : undefined);
const succeededOf = (orderId: string) => succeeded.filter((event) => event.payload.orderId === orderId);
const failedOf = (paymentId: string) => failed.filter((event) => event.payload.paymentId === paymentId);

// ---------------------------------------------------------------- charging

describe('payOrder with the Sandbox', () => {
  it('charges the amount orders announced and publishes paymentSucceeded with it', async () => {
    const order = await announceOrder(subgraph, { amount: 7300 });
    const { payment, errors } = await payOrder(order, { paymentMethodToken: 'tok_visa' });
    expect(errors).toEqual([]);
    expect(payment).toMatchObject({
      status: 'SUCCEEDED',
      amount: { amount: 7300, currency: 'EUR' },
      provider: 'SANDBOX',
      failureCode: null,
      failureMessage: null,
      nextAction: null,
      card: { brand: 'visa', last4: '4242', expMonth: 12, expYear: 2034 },
    });
    const [event] = await waitFor(async () => nonEmpty(succeededOf(order.orderId)));
    expect(event!.payload).toEqual({
      paymentId: payment!.id,
      orderId: order.orderId,
      amount: { amount: 7300, currency: 'EUR' },
    });
    expect(sandboxCharges({ orderId: order.orderId })).toBe(1);
    const [row] = await paymentRows(order.orderId);
    expect(row).toMatchObject({ status: 'SUCCEEDED', attempts: 1 });
    // Sealed, not stored as given.
    expect(row!.payment_method_token_sealed).not.toContain('tok_visa');
  });

  it.each([
    ['tok_chargeDeclined', 'CARD_DECLINED', 'Your card was declined. Try another card.'],
    [
      'tok_chargeDeclinedInsufficientFunds',
      'INSUFFICIENT_FUNDS',
      'Your card has insufficient funds. Try another card.',
    ],
    ['tok_unknown', 'INVALID_PAYMENT_METHOD', 'This payment method cannot be used. Try another one.'],
  ])(
    'answers %s as FAILED %s with a safe message and publishes paymentFailed',
    async (token, code, message) => {
      const order = await announceOrder(subgraph);
      const { payment, errors } = await payOrder(order, { paymentMethodToken: token });
      expect(errors).toEqual([]);
      expect(payment).toMatchObject({
        status: 'FAILED',
        failureCode: code,
        failureMessage: message,
        card: null,
      });
      expect(payment!.failureMessage).not.toContain('sandbox');
      const [event] = await waitFor(async () => nonEmpty(failedOf(payment!.id)));
      expect(event!.payload).toEqual({
        paymentId: payment!.id,
        orderId: order.orderId,
        failureCode: code,
        failureMessage: message,
      });
      expect(sandboxCharges({ orderId: order.orderId })).toBe(0);
    },
  );

  it('lets the buyer pay with another method after a decline', async () => {
    const order = await announceOrder(subgraph);
    const declined = await payOrder(order, { paymentMethodToken: 'tok_chargeDeclined' });
    expect(declined.payment!.status).toBe('FAILED');
    const paid = await payOrder(order, { paymentMethodToken: 'tok_mastercard' });
    expect(paid.errors).toEqual([]);
    expect(paid.payment).toMatchObject({ status: 'SUCCEEDED', card: { brand: 'mastercard', last4: '4444' } });
    expect(paid.payment!.id).not.toBe(declined.payment!.id);
    expect((await paymentRows(order.orderId)).map((row) => row.status)).toEqual(['FAILED', 'SUCCEEDED']);
  });

  it('asks for 3-D Secure, then confirmPayment completes the payment once', async () => {
    const order = await announceOrder(subgraph);
    const { payment } = await payOrder(order, { paymentMethodToken: 'tok_threeDSecureRequired' });
    expect(payment).toMatchObject({
      status: 'REQUIRES_ACTION',
      nextAction: {
        type: 'REDIRECT_TO_URL',
        url: expect.stringMatching(`^${SANDBOX_ACTION_URL}`),
        clientSecret: null,
      },
    });
    expect(sandboxCharges({ orderId: order.orderId })).toBe(0);
    expect(succeededOf(order.orderId)).toEqual([]);

    const confirmed = await confirmPayment(payment!.id, order.buyer);
    expect(confirmed.errors).toEqual([]);
    expect(confirmed.payment).toMatchObject({ id: payment!.id, status: 'SUCCEEDED', nextAction: null });
    await waitFor(async () => succeededOf(order.orderId).length);
    // Confirming again answers the payment as it stands.
    expect((await confirmPayment(payment!.id, order.buyer)).payment!.status).toBe('SUCCEEDED');
    expect(sandboxCharges({ orderId: order.orderId })).toBe(1);
    // Nobody else confirms it.
    const stranger = await confirmPayment(payment!.id, await subgraph.bearer());
    expect(stranger).toEqual({ payment: null, errors: [expect.objectContaining({ code: 'NOT_FOUND' })] });
  });

  it('leaves a payment whose provider never answers PENDING with PROVIDER_UNAVAILABLE, never SUCCEEDED', async () => {
    const order = await announceOrder(subgraph);
    const key = uuidv7();
    const started = Date.now();
    const { payment, errors } = await payOrder(order, {
      paymentMethodToken: 'tok_timeout',
      idempotencyKey: key,
    });
    expect(Date.now() - started).toBeLessThan(DEADLINE_MS + 1000);
    expect(errors).toEqual([]);
    expect(payment).toMatchObject({
      status: 'PENDING',
      failureCode: 'PROVIDER_UNAVAILABLE',
      failureMessage: 'The payment service is not answering right now. Try again in a moment.',
    });
    const [row] = await paymentRows(order.orderId);
    expect(row!.attempts).toBeGreaterThan(1);
    // The same key asks again (same provider key), and still answers PENDING.
    const again = await payOrder(order, { paymentMethodToken: 'tok_timeout', idempotencyKey: key });
    expect(again.payment).toMatchObject({ id: payment!.id, status: 'PENDING' });
    // Another key finds the live payment: the order is not charged twice.
    const other = await payOrder(order, { paymentMethodToken: 'tok_visa' });
    expect(other.payment).toMatchObject({ id: payment!.id, status: 'PENDING' });
    expect(sandboxCharges({ orderId: order.orderId })).toBe(0);
    expect(succeededOf(order.orderId)).toEqual([]);
  });

  it('retries transient failures with the same key: succeeds on the third call with one charge', async () => {
    const order = await announceOrder(subgraph);
    const { payment } = await payOrder(order, { paymentMethodToken: 'tok_transientTwice' });
    expect(payment!.status).toBe('SUCCEEDED');
    expect(sandboxCharges({ paymentId: payment!.id })).toBe(1);
    expect((await paymentRows(order.orderId))[0]!.attempts).toBe(3);
  });
  it('records what the provider did even after the caller stopped waiting (the gateway deadline)', async () => {
    const order = await announceOrder(subgraph);
    // tok_transientTwice takes two backoffs (at least 150 ms): longer than the caller waits.
    const { payment } = await payOrder(
      order,
      { paymentMethodToken: 'tok_transientTwice' },
      { ...order.buyer, 'x-request-timeout-ms': '50' },
    );
    expect(payment!.status).toBe('SUCCEEDED');
    expect((await paymentRows(order.orderId)).map((row) => row.status)).toEqual(['SUCCEEDED']);
    await waitFor(async () => nonEmpty(succeededOf(order.orderId)));
  });
});

describe('payOrder idempotency', () => {
  it('answers the same payment for the same key, without charging again', async () => {
    const order = await announceOrder(subgraph);
    const key = uuidv7();
    const first = await payOrder(order, { idempotencyKey: key });
    const second = await payOrder(order, { idempotencyKey: key });
    expect(second).toEqual(first);
    expect(await paymentRows(order.orderId)).toHaveLength(1);
    expect(sandboxCharges({ orderId: order.orderId })).toBe(1);
  });

  it('answers a declined payment as it stands for its key', async () => {
    const order = await announceOrder(subgraph);
    const key = uuidv7();
    const first = await payOrder(order, { idempotencyKey: key, paymentMethodToken: 'tok_chargeDeclined' });
    const second = await payOrder(order, { idempotencyKey: key, paymentMethodToken: 'tok_chargeDeclined' });
    expect(second.payment).toEqual(first.payment);
    expect(second.payment!.status).toBe('FAILED');
  });

  it('refuses the same key with another token or provider', async () => {
    const order = await announceOrder(subgraph);
    const key = uuidv7();
    await payOrder(order, { idempotencyKey: key, paymentMethodToken: 'tok_chargeDeclined' });
    const otherToken = await payOrder(order, { idempotencyKey: key, paymentMethodToken: 'tok_visa' });
    expect(otherToken.payment).toBeNull();
    expectFieldErrors(otherToken.errors, ['idempotencyKey']);
    const otherProvider = await payOrder(order, {
      idempotencyKey: key,
      paymentMethodToken: 'tok_chargeDeclined',
      provider: 'STRIPE',
    });
    expect(otherProvider.payment).toBeNull();
    expect(otherProvider.errors[0]!.code).toBe('INVALID_INPUT');
    expect(await paymentRows(order.orderId)).toHaveLength(1);
  });

  it('answers ALREADY_PAID with the payment to a new attempt on a paid order', async () => {
    const order = await announceOrder(subgraph);
    const { payment } = await payOrder(order);
    const again = await payOrder(order, { paymentMethodToken: 'tok_mastercard' });
    expect(again).toEqual({
      payment: expect.objectContaining({ id: payment!.id, status: 'SUCCEEDED' }),
      errors: [{ code: 'ALREADY_PAID', message: expect.any(String), field: null }],
    });
  });

  it('charges once for 50 concurrent payOrder calls with different keys', async () => {
    const order = await announceOrder(subgraph);
    const answers = await Promise.all(Array.from({ length: 50 }, () => payOrder(order)));
    const ids = new Set(answers.map((answer) => answer.payment?.id));
    expect(ids.size).toBe(1);
    for (const answer of answers) {
      expect(answer.payment).not.toBeNull();
      for (const error of answer.errors) expect(error.code).toBe('ALREADY_PAID');
    }
    expect(sandboxCharges({ orderId: order.orderId })).toBe(1);
    const rows = await paymentRows(order.orderId);
    expect(rows.map((row) => row.status)).toEqual(['SUCCEEDED']);
    await waitFor(async () => succeededOf(order.orderId).length);
    expect(succeededOf(order.orderId)).toHaveLength(1);
  });
});

// ---------------------------------------------------------------- who may pay

describe('payOrder access and input', () => {
  const notFound = {
    payment: null,
    errors: [expect.objectContaining({ code: 'NOT_FOUND', field: ['input', 'orderId'] })],
  };

  it('answers a stranger, an anonymous caller and an unknown order alike, NOT_FOUND, and stores nothing', async () => {
    const order = await announceOrder(subgraph);
    const stranger = await payOrder(order, {}, await subgraph.bearer());
    const anonymous = await payOrder(order, {}, {});
    const unknown = await payOrder({ ...order, orderId: uuidv7() });
    expect(stranger).toEqual(notFound);
    expect(anonymous).toEqual(notFound);
    expect(unknown).toEqual(notFound);
    expect(stranger.errors[0]!.message).toBe(unknown.errors[0]!.message);
    expect(unknown.errors[0]!.message).toMatch(/try again in a moment/);
    expect(await paymentRows(order.orderId)).toEqual([]);
  });

  it('lets a guest pay with the reservation token only', async () => {
    const order = await announceOrder(subgraph, { guest: true });
    expect(await payOrder({ ...order, guestToken: null })).toEqual(notFound);
    const tampered = `${order.guestToken!.slice(0, -1)}${order.guestToken!.endsWith('A') ? 'B' : 'A'}`;
    expect(await payOrder({ ...order, guestToken: tampered })).toEqual(notFound);
    // A signed-in user without the token is no one to a guest order.
    expect(await payOrder({ ...order, guestToken: null }, {}, await subgraph.bearer())).toEqual(notFound);
    const paid = await payOrder(order);
    expect(paid.payment!.status).toBe('SUCCEEDED');
  });

  it('refuses an expired order', async () => {
    const order = await announceOrder(subgraph, { expiresAt: new Date(Date.now() - 1000) });
    const { payment, errors } = await payOrder(order);
    expect(payment).toBeNull();
    expect(errors).toEqual([
      { code: 'INVALID_INPUT', message: expect.stringMatching(/expired/), field: ['input', 'orderId'] },
    ]);
    expect(await paymentRows(order.orderId)).toEqual([]);
  });

  it('refuses a provider that is not configured', async () => {
    const order = await announceOrder(subgraph);
    const { payment, errors } = await payOrder(order, {
      provider: 'BRAINTREE',
      paymentMethodToken: 'fake-valid-nonce',
    });
    expect(payment).toBeNull();
    expectFieldErrors(errors, ['provider']);
  });

  it('gives TEST-mode API keys the Sandbox only', async () => {
    const order = await announceOrder(subgraph, { guest: true });
    const testKey = await subgraph.bearer({
      kind: 'api_key',
      org: order.organizationId,
      scopes: ['orders:write'],
      mode: 'TEST',
    });
    expectFieldErrors(
      (await payOrder(order, { provider: 'STRIPE', paymentMethodToken: 'pm_card_visa' }, testKey)).errors,
      ['provider'],
    );
    expect((await payOrder(order, {}, testKey)).payment!.status).toBe('SUCCEEDED');
  });

  it.each([
    ['a 10 KB token', { paymentMethodToken: 'x'.repeat(10_240) }, ['paymentMethodToken']],
    ['an empty token', { paymentMethodToken: '' }, ['paymentMethodToken']],
    ['a token with spaces', { paymentMethodToken: 'tok visa' }, ['paymentMethodToken']],
    ['a 256-character key', { idempotencyKey: 'k'.repeat(256) }, ['idempotencyKey']],
    ['an empty key', { idempotencyKey: '' }, ['idempotencyKey']],
    ['a non-UUID order id', { orderId: 'order-1' }, ['orderId']],
  ])('refuses %s with a field error and stores nothing', async (_, input, field) => {
    const order = await announceOrder(subgraph);
    const before = await rowCount(subgraph.sql, 'billing.payments');
    const { payment, errors } = await payOrder(order, input);
    expect(payment).toBeNull();
    expectFieldErrors(errors, field);
    expect(await rowCount(subgraph.sql, 'billing.payments')).toBe(before);
  });
});

// ---------------------------------------------------------------- provider events

describe('applyProviderEvent', () => {
  let handle: ReturnType<typeof connectDatabase>;
  const outbox = createOutbox(eventStore, 'billing');
  const { log, lines } = captureLogs('billing-provider-events');
  const deps = () => ({
    db: handle.db,
    outbox,
    log,
    receiptLinks,
    buyerKeys: billingBuyerKeys({ NODE_ENV: 'test' }, handle.db),
  });

  beforeAll(() => {
    handle = connectDatabase({
      url: subgraph.database.url,
      poolSize: 2,
      applicationName: 'provider-events-test',
      log,
    });
  });
  afterAll(async () => {
    await handle?.close();
  });

  async function threeDSecurePayment() {
    const order = await announceOrder(subgraph, { amount: 4500 });
    const { payment } = await payOrder(order, { paymentMethodToken: 'tok_threeDSecureRequired' });
    const [row] = await subgraph.sql<[{ provider_payment_id: string }]>`
      select provider_payment_id from billing.payments where id = ${payment!.id}`;
    return { order, payment: payment!, providerPaymentId: row.provider_payment_id };
  }

  it('applies PAYMENT_SUCCEEDED once: a redelivery is a duplicate that publishes nothing', async () => {
    const { order, payment, providerPaymentId } = await threeDSecurePayment();
    const event: ProviderEvent = {
      provider: 'SANDBOX',
      eventId: `evt_${uuidv7()}`,
      kind: 'PAYMENT_SUCCEEDED',
      providerPaymentId,
      card: { brand: 'visa', last4: '4242', expMonth: 1, expYear: 2030 },
    };
    expect(await applyProviderEvent(deps(), event)).toBe('applied');
    expect(await applyProviderEvent(deps(), event)).toBe('duplicate');
    // Another event on the settled payment changes nothing either.
    expect(
      await applyProviderEvent(deps(), {
        provider: 'SANDBOX',
        eventId: `evt_${uuidv7()}`,
        kind: 'PAYMENT_FAILED',
        providerPaymentId,
        failureCode: 'CARD_DECLINED',
        providerMessage: 'late',
      }),
    ).toBe('applied');
    const [row] = await subgraph.sql`select status, card from billing.payments where id = ${payment.id}`;
    expect(row).toEqual({
      status: 'SUCCEEDED',
      card: { brand: 'visa', last4: '4242', expMonth: 1, expYear: 2030 },
    });
    // What was published is in the outbox: one event for the payment, however often it was told.
    const published = await subgraph.sql`select type from billing.outbox where aggregate_id = ${payment.id}`;
    expect(published.map((row) => row.type)).toEqual([paymentSucceeded.type]);
    await waitFor(async () => succeededOf(order.orderId).length);
    expect(failedOf(payment.id)).toEqual([]);
  });

  it('applies PAYMENT_FAILED to an open payment', async () => {
    const { payment, providerPaymentId } = await threeDSecurePayment();
    const event: ProviderEvent = {
      provider: 'SANDBOX',
      eventId: `evt_${uuidv7()}`,
      kind: 'PAYMENT_FAILED',
      providerPaymentId,
      failureCode: 'AUTHENTICATION_FAILED',
      providerMessage: 'raw provider words',
    };
    expect(await applyProviderEvent(deps(), event)).toBe('applied');
    const [event1] = await waitFor(async () => nonEmpty(failedOf(payment.id)));
    expect(event1!.payload.failureCode).toBe('AUTHENTICATION_FAILED');
    expect(event1!.payload.failureMessage).not.toContain('raw provider words');
  });

  it('answers unknown for a payment billing never made, and records the event', async () => {
    const event: ProviderEvent = {
      provider: 'SANDBOX',
      eventId: `evt_${uuidv7()}`,
      kind: 'PAYMENT_SUCCEEDED',
      providerPaymentId: 'sbx_pay_nobody',
      card: null,
    };
    expect(await applyProviderEvent(deps(), event)).toBe('unknown');
    expect(await applyProviderEvent(deps(), event)).toBe('duplicate');
  });

  it('records IGNORED and DISPUTE_OPENED (logged) events once', async () => {
    const ignored: ProviderEvent = {
      provider: 'STRIPE',
      eventId: `evt_${uuidv7()}`,
      kind: 'IGNORED',
      type: 'customer.created',
    };
    expect(await applyProviderEvent(deps(), ignored)).toBe('applied');
    expect(await applyProviderEvent(deps(), ignored)).toBe('duplicate');
    const { providerPaymentId } = await threeDSecurePayment();
    const dispute: ProviderEvent = {
      provider: 'SANDBOX',
      eventId: `evt_${uuidv7()}`,
      kind: 'DISPUTE_OPENED',
      providerPaymentId,
      amount: { amount: 4500, currency: 'EUR' },
      reason: 'fraudulent',
    };
    expect(await applyProviderEvent(deps(), dispute)).toBe('applied');
    expect(lines.some((line) => line.msg === 'payment disputed')).toBe(true);
  });
});

// ---------------------------------------------------------------- refunds orders asks for

describe('refundRequested', () => {
  const refundAsked = (orderId: string, refundId: string, amount: number, sequence = 1) =>
    newEvent(refundRequested, orderId, sequence, {
      orderId,
      refundId,
      amount: { amount, currency: 'EUR' },
      reason: 'CUSTOMER_REQUEST',
    });
  const askRefund = (orderId: string, refundId: string, amount: number, sequence = 1) =>
    subgraph.testBus.bus.publish(refundAsked(orderId, refundId, amount, sequence));
  const refundedOf = (refundId: string) => refunded.filter((event) => event.payload.refundId === refundId);

  it('refunds once, however often it is asked, and publishes refundSucceeded', async () => {
    const order = await announceOrder(subgraph, { amount: 5000 });
    const { payment } = await payOrder(order);
    const refundId = uuidv7();
    const asked = refundAsked(order.orderId, refundId, 2000);
    await subgraph.testBus.bus.publish(asked);
    const [event] = await waitFor(async () => nonEmpty(refundedOf(refundId)));
    expect(event!.payload).toEqual({
      refundId,
      orderId: order.orderId,
      amount: { amount: 2000, currency: 'EUR' },
    });
    // Redelivered (the same event id) and asked again (a new event, the same refundId).
    await subgraph.testBus.bus.publish(asked);
    await askRefund(order.orderId, refundId, 2000, 2);
    const second = uuidv7();
    await askRefund(order.orderId, second, 3000, 3);
    await waitFor(async () => refundedOf(second).length);
    expect(refundedOf(refundId)).toHaveLength(1);
    const [row] = await subgraph.sql`select refunded_amount from billing.payments where id = ${payment!.id}`;
    expect(row!.refunded_amount).toBe(5000);
    const refunds =
      await subgraph.sql`select id, status, amount from billing.refunds where order_id = ${order.orderId} order by id`;
    expect(refunds).toEqual([
      { id: refundId, status: 'SUCCEEDED', amount: 2000 },
      { id: second, status: 'SUCCEEDED', amount: 3000 },
    ]);
  });

  it('refuses to give back more than was paid (REFUND_FAILED: refund.failed, no refund.succeeded)', async () => {
    const order = await announceOrder(subgraph, { amount: 1000 });
    await payOrder(order);
    const refundId = uuidv7();
    await askRefund(order.orderId, refundId, 1500);
    const [refund] = await waitFor(async () =>
      nonEmpty(await subgraph.sql`select status, failure_code from billing.refunds where id = ${refundId}`),
    );
    expect(refund).toEqual({ status: 'FAILED', failure_code: 'REFUND_FAILED' });
    expect(refundedOf(refundId)).toEqual([]);
    const [announced] = await subgraph.sql<Array<{ payload: unknown }>>`
      select payload from billing.outbox where type = 'bilten.billing.refund.failed' and aggregate_id = ${refundId}`;
    expect(announced!.payload).toEqual({
      refundId,
      orderId: order.orderId,
      amount: { amount: 1500, currency: 'EUR' },
      failureCode: 'REFUND_FAILED',
    });
  });

  it('applies a provider REFUND_SUCCEEDED to a pending refund once', async () => {
    // A refund the provider settles later: recorded PENDING by hand, as a slow provider leaves it.
    const order = await announceOrder(subgraph, { amount: 3000 });
    const { payment } = await payOrder(order);
    const refundId = uuidv7();
    await subgraph.sql`insert into billing.refunds (id, payment_id, order_id, amount, currency, reason, provider_refund_id)
      values (${refundId}, ${payment!.id}, ${order.orderId}, 1000, 'EUR', 'CUSTOMER_REQUEST', ${`sbx_re_${refundId}`})`;
    const handle = connectDatabase({
      url: subgraph.database.url,
      poolSize: 1,
      applicationName: 'refund-test',
      log: captureLogs().log,
    });
    const deps = {
      db: handle.db,
      outbox: createOutbox(eventStore, 'billing'),
      log: captureLogs().log,
      receiptLinks,
      buyerKeys: billingBuyerKeys({ NODE_ENV: 'test' }, handle.db),
    };
    const event: ProviderEvent = {
      provider: 'SANDBOX',
      eventId: `evt_${uuidv7()}`,
      kind: 'REFUND_SUCCEEDED',
      providerPaymentId: 'unused',
      providerRefundId: `sbx_re_${refundId}`,
      amount: { amount: 1000, currency: 'EUR' },
    };
    try {
      expect(await applyProviderEvent(deps, event)).toBe('applied');
      expect(await applyProviderEvent(deps, event)).toBe('duplicate');
      expect(await applyProviderEvent(deps, { ...event, eventId: `evt_${uuidv7()}` })).toBe('applied');
    } finally {
      await handle.close();
    }
    await waitFor(async () => refundedOf(refundId).length);
    const [row] = await subgraph.sql`select refunded_amount from billing.payments where id = ${payment!.id}`;
    expect(row!.refunded_amount).toBe(1000);
  });
});
