/** What the billing test files share: orders' and identity's announcements, provider charges, paying and refunding. */
import { createHash, randomBytes } from 'node:crypto';
import { organizationCreated } from '@bilten/contracts/identity';
import { orderCreated } from '@bilten/contracts/orders';
import { newEvent } from '@bilten/platform';
import { type TestSubgraph, waitFor } from '@bilten/testkit';
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

/** What a test sets of the order announceOrder announces; anything else is fresh. */
export interface OrderToAnnounce {
  /** A fresh organization's order unless given. */
  organizationId?: string;
  /** The total of orderContents(amount), in EUR cents: 4200 unless given. */
  amount?: number;
  /** What was bought, instead of orderContents(amount). */
  contents?: ReturnType<typeof orderContents>;
  buyerEmail?: string;
  /** A guest's order: no buyer, a guest token to pay with instead. */
  guest?: boolean;
  /** Ten minutes from now unless given. */
  expiresAt?: Date;
  /** The refund terms (orderTerms). */
  policy?: Parameters<typeof orderTerms>[0];
  startsAt?: Date;
}

/** An order billing has, with its buyer's headers (none for a guest) or its guest token. */
export interface AnnouncedOrder {
  orderId: string;
  organizationId: string;
  buyerId: string | null;
  buyer: Record<string, string>;
  guestToken: string | null;
}

/** orders announces an unpaid order (`orderCreated`); resolves once billing has its copy. */
export async function announceOrder(
  subgraph: TestSubgraph,
  order: OrderToAnnounce = {},
): Promise<AnnouncedOrder> {
  const orderId = uuidv7();
  const organizationId = order.organizationId ?? uuidv7();
  const buyerId = order.guest ? null : uuidv7();
  const guestToken = order.guest ? randomBytes(32).toString('base64url') : null;
  await subgraph.testBus.bus.publish(
    newEvent(orderCreated, orderId, 1, {
      orderId,
      eventId: uuidv7(),
      organizationId,
      buyerId,
      guestTokenHash: guestToken ? createHash('sha256').update(guestToken).digest('hex') : null,
      ...orderTerms(order.policy, order.startsAt),
      buyerEmail: order.buyerEmail ?? 'buyer@example.com',
      ...(order.contents ?? orderContents(order.amount ?? 4200)),
      expiresAt: (order.expiresAt ?? new Date(Date.now() + 600_000)).toISOString(),
    }),
  );
  await waitFor(
    async () =>
      (await subgraph.sql`select 1 from billing.order_charges where order_id = ${orderId}`).length ||
      undefined,
  );
  return {
    orderId,
    organizationId,
    buyerId,
    buyer: buyerId ? await subgraph.bearer({ sub: buyerId }) : {},
    guestToken,
  };
}

/** identity announces an organization (`organizationCreated`); resolves with its id once billing has its copy. */
export async function announceOrganization(
  subgraph: TestSubgraph,
  {
    organizationId = uuidv7(),
    name = 'Sevdah Hall',
    slug = `sevdah-${organizationId.slice(-8)}`,
    testMode = false,
  }: { organizationId?: string; name?: string; slug?: string; testMode?: boolean } = {},
) {
  await subgraph.testBus.bus.publish(
    newEvent(organizationCreated, organizationId, 1, { organizationId, name, slug, testMode }),
  );
  await waitFor(
    async () =>
      (await subgraph.sql`select 1 from billing.organizations where id = ${organizationId}`).length ||
      undefined,
  );
  return organizationId;
}

/**
 * The order's buyer (a guest with its token) pays it through `provider`: the payment as payOrder
 * answered it. Throws when payOrder refuses.
 */
export async function payAnnouncedOrder(
  subgraph: TestSubgraph,
  order: Pick<AnnouncedOrder, 'orderId' | 'buyer' | 'guestToken'>,
  paymentMethodToken = 'tok_visa',
  provider: 'STRIPE' | 'BRAINTREE' | 'SANDBOX' = 'SANDBOX',
) {
  const { data, errors } = await subgraph.gql<{
    payOrder: {
      payment: { id: string; status: string; failureCode: string | null } | null;
      errors: Array<{ code: string }>;
    };
  }>(
    'mutation($input: PayOrderInput!) { payOrder(input: $input) { payment { id status failureCode } errors { code } } }',
    {
      input: {
        orderId: order.orderId,
        provider,
        paymentMethodToken,
        idempotencyKey: uuidv7(),
        ...(order.guestToken ? { guestToken: order.guestToken } : {}),
      },
    },
    order.buyer,
  );
  if (errors || !data?.payOrder.payment)
    throw new Error(`payOrder failed: ${JSON.stringify(errors ?? data?.payOrder.errors)}`);
  return data.payOrder.payment;
}

/** A new order of a new organization (announceOrder), paid by its buyer through `provider`. */
export async function payNewOrder(
  subgraph: TestSubgraph,
  provider: 'STRIPE' | 'BRAINTREE' | 'SANDBOX',
  paymentMethodToken: string,
  amount = 4200,
) {
  const order = await announceOrder(subgraph, { amount });
  const { id, status, failureCode } = await payAnnouncedOrder(subgraph, order, paymentMethodToken, provider);
  const [row] = await subgraph.sql<{ provider_payment_id: string | null }[]>`
    select provider_payment_id from billing.payments where id = ${id}`;
  return {
    paymentId: id,
    orderId: order.orderId,
    organizationId: order.organizationId,
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
