/** What the billing test files share: a provider charge request as billing makes it. */
import { orderCreated } from '@bilten/contracts/orders';
import { newEvent } from '@bilten/platform';
import { type TestSubgraph, waitFor } from '@bilten/testkit';
import type { FakeBraintree } from '@bilten/testkit/fakes/braintree';
import type { FakeStripe } from '@bilten/testkit/fakes/stripe';
import { v7 as uuidv7 } from 'uuid';
import type { ChargeRequest } from '../src/adapters/provider.ts';

/** A charge of `amount` EUR cents with `token`, under a fresh payment's key. */
export const chargeRequest = (token: string, amount = 1234): ChargeRequest => {
  const paymentId = uuidv7();
  return {
    paymentId,
    orderId: uuidv7(),
    amount: { amount, currency: 'EUR' },
    paymentMethodToken: token,
    idempotencyKey: `${paymentId}:charge`,
    buyerEmail: 'buyer@example.com',
  };
};

/** Long enough for any single provider call in these tests. */
export const signal = () => AbortSignal.timeout(5_000);

/**
 * The refund terms an `orderCreated` carries, as orders sends them: the policy of a published
 * event a month away (NONE unless given).
 */
export const orderTerms = (
  refundPolicy: {
    kind: 'FULL_UNTIL' | 'PARTIAL' | 'NONE';
    daysBeforeStart: number | null;
    percent: number | null;
  } = {
    kind: 'NONE',
    daysBeforeStart: null,
    percent: null,
  },
  eventStartsAt = new Date(Date.now() + 30 * 86_400_000),
) => ({ refundPolicy, eventStartsAt: eventStartsAt.toISOString() });

/**
 * What an `orderCreated` says was bought, as orders sends it: one line of two tickets whose
 * subtotal, with no fees or taxes, is `amount` EUR cents (an even amount), or `amount` in one
 * ticket when it is odd.
 */
export function orderContents(amount: number) {
  const quantity = amount % 2 === 0 ? 2 : 1;
  const money = (value: number) => ({ amount: value, currency: 'EUR' });
  return {
    buyerName: 'Ada Buyer',
    eventTitle: 'Sevdah Night',
    lines: [
      { ticketTypeId: uuidv7(), name: 'General admission', quantity, unitPrice: money(amount / quantity) },
    ],
    subtotal: money(amount),
    fees: money(0),
    taxes: money(0),
    taxBasisPoints: 0,
    total: money(amount),
  };
}

/**
 * orders announces an unpaid order of `organizationId` (contents: orderContents(amount)) to the
 * billing subgraph; resolves once billing has it, with the order id and its buyer's headers.
 */
export async function announceOrder(subgraph: TestSubgraph, organizationId: string, amount = 4200) {
  const orderId = uuidv7();
  const buyerId = uuidv7();
  await subgraph.testBus.bus.publish(
    newEvent(orderCreated, orderId, 1, {
      orderId,
      eventId: uuidv7(),
      organizationId,
      buyerId,
      guestTokenHash: null,
      ...orderTerms(),
      buyerEmail: 'buyer@example.com',
      ...orderContents(amount),
      expiresAt: new Date(Date.now() + 600_000).toISOString(),
    }),
  );
  await waitFor(
    async () =>
      (await subgraph.sql`select 1 from billing.order_charges where order_id = ${orderId}`).length ||
      undefined,
  );
  return { orderId, buyer: await subgraph.bearer({ sub: buyerId }) };
}

/** A new order of a new organization (announceOrder), paid by its buyer through `provider`. */
export async function payNewOrder(
  subgraph: TestSubgraph,
  provider: 'STRIPE' | 'BRAINTREE' | 'SANDBOX',
  paymentMethodToken: string,
  amount = 4200,
) {
  const organizationId = uuidv7();
  const { orderId, buyer } = await announceOrder(subgraph, organizationId, amount);
  const { data, errors } = await subgraph.gql<{
    payOrder: { payment: { id: string; status: string; failureCode: string | null } | null };
  }>(
    'mutation($input: PayOrderInput!) { payOrder(input: $input) { payment { id status failureCode } } }',
    { input: { orderId, provider, paymentMethodToken, idempotencyKey: uuidv7() } },
    buyer,
  );
  if (errors || !data?.payOrder.payment) throw new Error(`payOrder failed: ${JSON.stringify(errors)}`);
  const { id, status, failureCode } = data.payOrder.payment;
  const [row] = await subgraph.sql<{ provider_payment_id: string | null }[]>`
    select provider_payment_id from billing.payments where id = ${id}`;
  return {
    paymentId: id,
    orderId,
    organizationId,
    providerPaymentId: row!.provider_payment_id,
    status,
    failureCode,
  };
}

/** What's left of the order refunded by its organization's ADMIN: the refund as refundOrder answered it. */
export async function refundInFull(
  subgraph: TestSubgraph,
  paid: { orderId: string; organizationId: string },
) {
  const { data, errors } = await subgraph.gql<{
    refundOrder: { refund: { id: string; status: string; failureCode: string | null } | null };
  }>(
    'mutation($input: RefundOrderInput!) { refundOrder(input: $input) { refund { id status failureCode } } }',
    { input: { orderId: paid.orderId, reason: 'given back in a test' } },
    await subgraph.bearer({ sub: uuidv7(), orgs: { [paid.organizationId]: 'ADMIN' } }),
  );
  if (errors || !data?.refundOrder.refund) throw new Error(`refundOrder failed: ${JSON.stringify(errors)}`);
  const refund = data.refundOrder.refund;
  const [row] = await subgraph.sql<{ provider_refund_id: string | null }[]>`
    select provider_refund_id from billing.refunds where id = ${refund.id}`;
  return {
    refundId: refund.id,
    status: refund.status,
    failureCode: refund.failureCode,
    providerRefundId: row!.provider_refund_id,
  };
}

/** Billing's variables for the platform's Stripe and Braintree accounts at the tests' fake servers. */
export const fakeProvidersEnv = (
  stripe: Pick<FakeStripe, 'host' | 'port' | 'protocol'>,
  braintree: Pick<FakeBraintree, 'merchantId' | 'publicKey' | 'privateKey' | 'url'>,
  stripeSecretKey = 'sk_test_bilten_fake',
) => ({
  STRIPE_SECRET_KEY: stripeSecretKey,
  STRIPE_API_HOST: stripe.host,
  STRIPE_API_PORT: String(stripe.port),
  STRIPE_API_PROTOCOL: stripe.protocol,
  BRAINTREE_MERCHANT_ID: braintree.merchantId,
  BRAINTREE_PUBLIC_KEY: braintree.publicKey,
  BRAINTREE_PRIVATE_KEY: braintree.privateKey,
  BRAINTREE_ENVIRONMENT: braintree.url,
});
