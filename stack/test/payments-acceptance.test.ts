/**
 * Issue 14's flow through the gateway: a buyer reserves, checks out and pays, and gets tickets,
 * with the Sandbox and with the real Stripe and Braintree SDKs against fakes of their APIs.
 */

import { waitFor } from '@bilten/testkit';
import { expectNoCardNumbers, expectNoCardNumbersInTables } from '@bilten/testkit/checks';
import { type FakeBraintree, startFakeBraintree } from '@bilten/testkit/fakes/braintree';
import { type FakeStripe, startFakeStripe } from '@bilten/testkit/fakes/stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gatewayCall, publishedEvent, startTestStack, type TestStack } from './support.ts';

let stack: TestStack;
let stripe: FakeStripe;
let braintree: FakeBraintree;
beforeAll(async () => {
  [stripe, braintree] = await Promise.all([startFakeStripe(), startFakeBraintree()]);
  stack = await startTestStack('jetstream', {
    env: {
      STRIPE_SECRET_KEY: 'sk_test_acceptance',
      STRIPE_API_HOST: stripe.host,
      STRIPE_API_PORT: String(stripe.port),
      STRIPE_API_PROTOCOL: stripe.protocol,
      BRAINTREE_MERCHANT_ID: braintree.merchantId,
      BRAINTREE_PUBLIC_KEY: braintree.publicKey,
      BRAINTREE_PRIVATE_KEY: braintree.privateKey,
      BRAINTREE_ENVIRONMENT: braintree.url,
    },
  });
});
afterAll(async () => {
  await stack?.dispose();
  await stripe?.stop();
  await braintree?.close();
});

type Headers = Record<string, string>;
interface Payment {
  id: string;
  status: string;
  provider: string;
  amount: { amount: number; currency: string };
  failureCode: string | null;
  failureMessage: string | null;
  card: { brand: string; last4: string } | null;
}

const call = <T>(query: string, variables: Record<string, unknown>, headers: Headers) =>
  gatewayCall<T>(stack, query, variables, headers);

/** A buyer's order of two 25.00 tickets, checked out and waiting for payment. */
async function orderToPay(slug: string) {
  const { eventId, ticketTypeId } = await publishedEvent(stack, slug, {
    ticketType: { price: { amount: 2500, currency: 'EUR' }, capacity: 20 },
  });
  const buyer = await stack.signUp({ displayName: 'Lejla Buyer' });
  const reservationId = await waitFor(async () => {
    const { reserveTickets } = await call<{ reserveTickets: { reservation: { id: string } | null } }>(
      `mutation($input: ReserveTicketsInput!) { reserveTickets(input: $input) { reservation { id } } }`,
      { input: { eventId, items: [{ ticketTypeId, quantity: 2 }] } },
      buyer.headers,
    );
    return reserveTickets.reservation?.id;
  });
  const { checkout } = await call<{ checkout: { order: { id: string } } }>(
    `mutation($input: CheckoutInput!) { checkout(input: $input) { order { id } } }`,
    { input: { reservationId, buyer: { name: 'Lejla Buyer', email: buyer.email } } },
    buyer.headers,
  );
  return { orderId: checkout.order.id, buyer: buyer.headers };
}

/** payOrder once billing has orders' charge (it arrives by event). */
function pay(orderId: string, buyer: Headers, provider: string, token: string, key = `key-${token}`) {
  return waitFor(async () => {
    const { payOrder } = await call<{ payOrder: { payment: Payment | null } }>(
      `mutation($input: PayOrderInput!) {
        payOrder(input: $input) {
          payment { id status provider amount { amount currency } failureCode failureMessage card { brand last4 } }
        }
      }`,
      { input: { orderId, provider, paymentMethodToken: token, idempotencyKey: key } },
      buyer,
    );
    return payOrder.payment;
  });
}

/** The order as its buyer reads it, once orders has applied billing's event. */
const paidOrder = (orderId: string, buyer: Headers) =>
  waitFor(async () => {
    const { order } = await call<{
      order: { status: string; tickets: Array<{ status: string }>; payments: Payment[] } | null;
    }>(
      `query($id: ID!) { order(id: $id) { status tickets { status } payments { id status provider } } }`,
      { id: orderId },
      buyer,
    );
    return order?.status === 'PAID' && order;
  });

describe('pay through the gateway', () => {
  it('with the Sandbox: a decline gives a safe message, another card pays, tickets follow', async () => {
    const { orderId, buyer } = await orderToPay('pay-sandbox');
    const declined = await pay(orderId, buyer, 'SANDBOX', 'tok_chargeDeclined');
    expect(declined).toMatchObject({
      status: 'FAILED',
      failureCode: 'CARD_DECLINED',
      failureMessage: 'Your card was declined. Try another card.',
    });
    const paid = await pay(orderId, buyer, 'SANDBOX', 'tok_visa');
    expect(paid).toMatchObject({ status: 'SUCCEEDED', amount: { amount: 5000, currency: 'EUR' } });
    const order = await paidOrder(orderId, buyer);
    expect(order.tickets).toEqual([{ status: 'VALID' }, { status: 'VALID' }]);
    expect(order.payments.map((payment) => payment.status)).toEqual(['FAILED', 'SUCCEEDED']);
  });

  it('with Stripe (the real SDK against a fake API): one charge, tickets', async () => {
    const { orderId, buyer } = await orderToPay('pay-stripe');
    const paid = await pay(orderId, buyer, 'STRIPE', 'pm_card_visa');
    expect(paid).toMatchObject({ status: 'SUCCEEDED', provider: 'STRIPE', card: { last4: '4242' } });
    expect((await paidOrder(orderId, buyer)).tickets).toHaveLength(2);
    expect(stripe.paymentIntentFor(paid.id)?.amount).toBe(5000);
    expect(stripe.totalCharges()).toBe(1);
  });

  it('with Braintree (the real SDK against a fake gateway): one sale, tickets', async () => {
    const { orderId, buyer } = await orderToPay('pay-braintree');
    const paid = await pay(orderId, buyer, 'BRAINTREE', 'fake-valid-nonce');
    expect(paid).toMatchObject({ status: 'SUCCEEDED', provider: 'BRAINTREE', card: { last4: '1111' } });
    expect((await paidOrder(orderId, buyer)).tickets).toHaveLength(2);
    expect(braintree.salesFor(paid.id)).toBe(1);
  });

  it('leaves no card number in any log line or table of the flows above', async () => {
    expectNoCardNumbers(stack.logs, 'the stack logs');
    await expectNoCardNumbersInTables(stack.sql, ['identity', 'catalog', 'orders', 'billing', 'messaging']);
  });
});
