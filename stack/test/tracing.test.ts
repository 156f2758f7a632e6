/**
 * Issue 19, tracing: one purchase through the gateway is one trace, from the gateway's request
 * through its query plan and fetches, billing's server span, SQL and provider call, the outbox
 * relay's publish, and the consumers of other services (linked to the producer's context), and
 * the log lines of the request name the exported trace id.
 */

import { writeFileSync } from 'node:fs';
import { parseEnv, platformEnv, startTracing, type Tracing } from '@bilten/platform';
import { waitFor } from '@bilten/testkit';
import { type OtlpReceiver, type ReceivedSpan, startOtlpReceiver } from '@bilten/testkit/otlp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderWaterfall } from '../src/trace-waterfall.ts';
import { gatewayCall, publishedEvent, startTestStack, type TestStack } from './support.ts';

const SERVER = 2;
const CLIENT = 3;
const PRODUCER = 4;
const CONSUMER = 5;

let receiver: OtlpReceiver;
let tracing: Tracing;
let stack: TestStack;
beforeAll(async () => {
  receiver = await startOtlpReceiver();
  const env = parseEnv(platformEnv, {
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
    OTEL_TRACES_SAMPLER_ARG: '1',
  });
  tracing = await startTracing(env, 'bilten');
  stack = await startTestStack('jetstream');
});
afterAll(async () => {
  await stack?.dispose();
  await tracing?.stop();
  await receiver?.close();
});

type Headers = Record<string, string>;
const call = <T>(query: string, variables: Record<string, unknown>, headers: Headers) =>
  gatewayCall<T>(stack, query, variables, headers);

/** A buyer's pending order of one ticket. */
async function pendingOrder() {
  const { eventId, ticketTypeId } = await publishedEvent(stack, 'traced', {
    ticketType: { price: { amount: 1500, currency: 'EUR' }, capacity: 10 },
  });
  const buyer = await stack.signUp({ displayName: 'Tarik Buyer' });
  const reservationId = await waitFor(async () => {
    const { reserveTickets } = await call<{ reserveTickets: { reservation: { id: string } | null } }>(
      `mutation($input: ReserveTicketsInput!) { reserveTickets(input: $input) { reservation { id } } }`,
      { input: { eventId, items: [{ ticketTypeId, quantity: 1 }] } },
      buyer.headers,
    );
    return reserveTickets.reservation?.id;
  });
  const { checkout } = await call<{ checkout: { order: { id: string } } }>(
    `mutation($input: CheckoutInput!) { checkout(input: $input) { order { id } } }`,
    { input: { reservationId, buyer: { name: 'Tarik Buyer', email: buyer.email } } },
    buyer.headers,
  );
  return { orderId: checkout.order.id, buyer: buyer.headers };
}

const service = (span: ReceivedSpan) => span.attributes['bilten.service'];

describe('tracing a purchase', () => {
  it('follows one payment from the gateway through billing, the outbox and JetStream to the consumers', async () => {
    const { orderId, buyer } = await pendingOrder();
    // Billing learns the order's amount by event; the attempt that pays is the traced purchase.
    const payment = await waitFor(async () => {
      const { payOrder } = await call<{ payOrder: { payment: { id: string; status: string } | null } }>(
        `mutation Pay($input: PayOrderInput!) { payOrder(input: $input) { payment { id status } } }`,
        { input: { orderId, provider: 'SANDBOX', paymentMethodToken: 'tok_visa', idempotencyKey: 'traced' } },
        buyer,
      );
      return payOrder.payment;
    });
    expect(payment.status).toBe('SUCCEEDED');

    // The gateway's log line of that request names its trace.
    const payLine = stack.logs.findLast(
      (line) =>
        line.service === 'gateway' && line.operationName === 'Pay' && line.msg === 'graphql operation',
    );
    const traceId = payLine?.traceId as string;
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);

    // Orders applies billing's event and publishes order.paid, which messaging consumes.
    const spans = await waitFor(async () => {
      await tracing.flush();
      const inTrace = receiver.spans.filter((span) => span.traceId === traceId);
      const consumed = (name: string, by: string) =>
        inTrace.some((span) => span.kind === CONSUMER && service(span) === by && span.name.includes(name));
      return (
        consumed('bilten.billing.payment.succeeded', 'orders') &&
        consumed('bilten.orders.order.paid', 'messaging') &&
        inTrace
      );
    }, 20_000);

    const gatewayServer = spans.find((span) => span.kind === SERVER && service(span) === 'gateway');
    expect(gatewayServer).toMatchObject({ name: 'POST /graphql', parentSpanId: undefined });
    const names = new Set(spans.map((span) => span.name));
    // @apollo/gateway's own spans (`gateway.plan` only when the plan is not cached yet).
    for (const name of ['gateway.request', 'gateway.execute', 'gateway.fetch']) expect(names).toContain(name);
    // The gateway's fetch to billing: an undici client span, parent of billing's server span.
    const billingServer = spans.find((span) => span.kind === SERVER && service(span) === 'billing')!;
    const fetch = spans.find((span) => span.spanId === billingServer.parentSpanId)!;
    expect(fetch).toMatchObject({ kind: CLIENT, name: 'POST' });
    expect(service(fetch)).toBe('gateway');

    // Billing's SQL (statement text, no parameters) and its provider call, under its server span.
    const billingSql = spans.filter(
      (span) => span.attributes['db.system.name'] === 'postgresql' && service(span) === 'billing',
    );
    expect(billingSql.length).toBeGreaterThan(0);
    expect(billingSql.map((span) => span.attributes['db.query.text']).join('\n')).toMatch(/\$1/);
    expect(spans.some((span) => span.name === 'payment.sandbox.charge' && service(span) === 'billing')).toBe(
      true,
    );

    // The relay's publish, and the consumers in other services continuing from it (parent and link).
    const publish = spans.find(
      (span) => span.kind === PRODUCER && span.name === 'publish bilten.billing.payment.succeeded',
    )!;
    expect(service(publish)).toBe('billing');
    const ordersConsumer = spans.find(
      (span) =>
        span.kind === CONSUMER && service(span) === 'orders' && span.name.includes('payment.succeeded'),
    )!;
    expect(ordersConsumer.parentSpanId).toBe(publish.spanId);
    expect(ordersConsumer.links).toContainEqual({ traceId, spanId: publish.spanId });
    // Orders' own event, published from inside that consumer, carries the trace on to messaging.
    const orderPaid = spans.find(
      (span) => span.kind === PRODUCER && span.name === 'publish bilten.orders.order.paid',
    )!;
    const messagingConsumer = spans.find(
      (span) => span.kind === CONSUMER && service(span) === 'messaging' && span.name.includes('order.paid'),
    )!;
    expect(messagingConsumer.links).toContainEqual({ traceId, spanId: orderPaid.spanId });
    expect(
      spans.some((span) => span.attributes['db.system.name'] === 'postgresql' && service(span) === 'orders'),
    ).toBe(true);

    // Every service's log lines of this purchase carry the exported trace id.
    // (The gateway names a subgraph's part of an operation `Pay__billing__<n>`.)
    const billingLine = stack.logs.findLast(
      (line) =>
        line.service === 'billing' &&
        line.msg === 'graphql operation' &&
        String(line.operationName).startsWith('Pay__billing'),
    );
    expect(billingLine?.traceId).toBe(traceId);

    // The picture of this trace in docs/operations.md: `UPDATE_TRACE_PICTURE=1` redraws it.
    const picture = renderWaterfall(
      spans.map((span) => ({
        ...span,
        service: String(service(span) ?? span.serviceName),
        links: span.links.map((link) => link.spanId),
      })),
      'One purchase (payOrder) across the gateway, billing, JetStream, orders and messaging',
    );
    for (const name of ['gateway', 'billing', 'orders', 'messaging'])
      expect(picture).toContain(`>${name}</text>`);
    if (process.env.UPDATE_TRACE_PICTURE === '1')
      writeFileSync(new URL('../../docs/trace-purchase.svg', import.meta.url), picture);
  });

  it('makes no spans without an endpoint', async () => {
    const off = await startTracing(parseEnv(platformEnv, {}), 'bilten');
    expect(off.enabled).toBe(false);
  });
});
