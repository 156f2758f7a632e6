import { randomBytes } from 'node:crypto';
import { refundSucceeded } from '@bilten/contracts/billing';
import { recordEvents, startTestSubgraph, type TestSubgraph, type UserError, waitFor } from '@bilten/testkit';
import { v7 as uuidv7 } from 'uuid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { billingSubgraph } from '../src/server.ts';
import { type AnnouncedOrder, announceOrder, type OrderToAnnounce, payAnnouncedOrder } from './support.ts';

let subgraph: TestSubgraph;
let refunded: Awaited<ReturnType<typeof recordEvents<typeof refundSucceeded.payload>>>;

beforeAll(async () => {
  subgraph = await startTestSubgraph(billingSubgraph, 'jetstream', { env: { PAYMENT_DEADLINE_MS: '2000' } });
  refunded = await recordEvents(subgraph.testBus.bus, refundSucceeded);
});

afterAll(async () => {
  await subgraph?.dispose();
});

// ---------------------------------------------------------------- helpers

interface Refund {
  id: string;
  amount: { amount: number; currency: string };
  status: string;
  reason: string;
  failureCode: string | null;
  failureMessage: string | null;
  createdAt: string;
}
interface Payload {
  refund: Refund | null;
  errors: UserError[];
}
type Policy = NonNullable<OrderToAnnounce['policy']>;

const REFUND_FIELDS = 'id amount { amount currency } status reason failureCode failureMessage createdAt';
const REFUND_ORDER = `mutation($input: RefundOrderInput!) {
  refundOrder(input: $input) { refund { ${REFUND_FIELDS} } errors { code message field } }
}`;
const REQUEST_REFUND = `mutation($input: RequestRefundInput!) {
  requestRefund(input: $input) { refund { ${REFUND_FIELDS} } errors { code message field } }
}`;

interface TestOrder extends AnnouncedOrder {
  paymentId: string | null;
}

const DAY_MS = 86_400_000;

/** Orders announces an order with these refund terms; paid with tok_visa unless `paid` is false. */
async function paidOrder(
  options: Pick<OrderToAnnounce, 'amount' | 'policy' | 'startsAt' | 'guest'> & { paid?: boolean } = {},
): Promise<TestOrder> {
  const { paid = true, ...terms } = options;
  const order = await announceOrder(subgraph, { amount: 5000, ...terms });
  let paymentId: string | null = null;
  if (paid) {
    const payment = await payAnnouncedOrder(subgraph, order);
    expect(payment.status).toBe('SUCCEEDED');
    paymentId = payment.id;
  }
  return { ...order, paymentId };
}

const orgMember = (
  order: TestOrder,
  role: 'STAFF' | 'ADMIN' | 'OWNER',
  organizationId = order.organizationId,
) => subgraph.bearer({ sub: uuidv7(), orgs: { [organizationId]: role } });

async function refundOrder(input: Record<string, unknown>, headers: Record<string, string>) {
  const result = await subgraph.gql<{ refundOrder: Payload }>(REFUND_ORDER, { input }, headers);
  return result;
}

async function requestRefund(order: TestOrder, guestToken = order.guestToken) {
  const { data, errors } = await subgraph.gql<{ requestRefund: Payload }>(
    REQUEST_REFUND,
    { input: { orderId: order.orderId, ...(guestToken ? { guestToken } : {}) } },
    order.buyer,
  );
  expect(errors).toBeUndefined();
  return data!.requestRefund;
}

const nonEmpty = <T extends ArrayLike<unknown>>(list: T) => (list.length ? list : undefined);
const refundedOf = (orderId: string) =>
  refunded.filter((event) => event.payload.orderId === orderId).map((event) => event.payload);
const refundedAmount = async (paymentId: string) =>
  (await subgraph.sql`select refunded_amount from billing.payments where id = ${paymentId}`)[0]!
    .refunded_amount;

// ---------------------------------------------------------------- refundOrder

describe('refundOrder', () => {
  it("lets the organization's ADMIN refund part, then the rest, publishing each amount", async () => {
    const order = await paidOrder({ amount: 5000 });
    const admin = await orgMember(order, 'ADMIN');
    const first = await refundOrder(
      { orderId: order.orderId, amount: { amount: 1250, currency: 'EUR' }, reason: 'Seat was broken' },
      admin,
    );
    expect(first.errors).toBeUndefined();
    expect(first.data!.refundOrder).toMatchObject({
      errors: [],
      refund: {
        amount: { amount: 1250, currency: 'EUR' },
        status: 'SUCCEEDED',
        reason: 'Seat was broken',
        failureCode: null,
      },
    });
    // Omitted amount: everything left.
    const owner = await orgMember(order, 'OWNER');
    const rest = await refundOrder({ orderId: order.orderId, reason: 'Goodwill' }, owner);
    expect(rest.data!.refundOrder.refund).toMatchObject({
      amount: { amount: 3750, currency: 'EUR' },
      status: 'SUCCEEDED',
    });

    const events = await waitFor(async () =>
      refundedOf(order.orderId).length === 2 ? refundedOf(order.orderId) : undefined,
    );
    expect(events).toEqual([
      {
        refundId: first.data!.refundOrder.refund!.id,
        orderId: order.orderId,
        amount: { amount: 1250, currency: 'EUR' },
      },
      {
        refundId: rest.data!.refundOrder.refund!.id,
        orderId: order.orderId,
        amount: { amount: 3750, currency: 'EUR' },
      },
    ]);
    expect(await refundedAmount(order.paymentId!)).toBe(5000);

    // Nothing left; and Payment.refunds lists both for the buyer.
    const again = await refundOrder({ orderId: order.orderId, reason: 'Once more' }, admin);
    expect(again.data!.refundOrder.errors).toMatchObject([{ code: 'INVALID_INPUT' }]);
    const { data } = await subgraph.gql<{ payment: { refunds: Refund[] } }>(
      `query($id: ID!) { payment(id: $id) { refunds { ${REFUND_FIELDS} } } }`,
      { id: order.paymentId },
      order.buyer,
    );
    expect(data!.payment.refunds.map((refund) => refund.amount.amount)).toEqual([1250, 3750]);
    // Order.refunds: the organizer sees them; a stranger sees none.
    const ORDER_REFUNDS = `query($reps: [_Any!]!) { _entities(representations: $reps) { ... on Order { refunds { id } } } }`;
    const reps = [{ __typename: 'Order', id: order.orderId }];
    const seen = await subgraph.gql<{ _entities: Array<{ refunds: Refund[] }> }>(
      ORDER_REFUNDS,
      { reps },
      admin,
    );
    expect(seen.data!._entities[0]!.refunds).toHaveLength(2);
    const hidden = await subgraph.gql<{ _entities: Array<{ refunds: Refund[] }> }>(
      ORDER_REFUNDS,
      { reps },
      await subgraph.bearer({ sub: uuidv7() }),
    );
    expect(hidden.data!._entities[0]!.refunds).toEqual([]);
  });

  it('refuses more than is left, naming what is left, and another currency', async () => {
    const order = await paidOrder({ amount: 5000 });
    const admin = await orgMember(order, 'ADMIN');
    await refundOrder(
      { orderId: order.orderId, amount: { amount: 2000, currency: 'EUR' }, reason: 'Part' },
      admin,
    );
    const tooMuch = await refundOrder(
      { orderId: order.orderId, amount: { amount: 3001, currency: 'EUR' }, reason: 'Too much' },
      admin,
    );
    expect(tooMuch.data!.refundOrder).toEqual({
      refund: null,
      errors: [
        {
          code: 'INVALID_INPUT',
          message: 'At most 30.00 EUR is left to refund on this order.',
          field: ['input', 'amount', 'amount'],
        },
      ],
    });
    const otherCurrency = await refundOrder(
      { orderId: order.orderId, amount: { amount: 100, currency: 'USD' }, reason: 'Dollars' },
      admin,
    );
    expect(otherCurrency.data!.refundOrder.errors).toMatchObject([
      { code: 'INVALID_INPUT', field: ['input', 'amount', 'currency'] },
    ]);
    const noReason = await refundOrder({ orderId: order.orderId, reason: ' ' }, admin);
    expect(noReason.data!.refundOrder.errors).toMatchObject([
      { code: 'INVALID_INPUT', field: ['input', 'reason'] },
    ]);
    const longReason = await refundOrder({ orderId: order.orderId, reason: 'x'.repeat(501) }, admin);
    expect(longReason.data!.refundOrder.errors).toMatchObject([
      { code: 'INVALID_INPUT', field: ['input', 'reason'] },
    ]);
    expect(await refundedAmount(order.paymentId!)).toBe(2000);
  });

  it("refuses its STAFF (FORBIDDEN), another organization's ADMIN and the buyer (NOT_FOUND)", async () => {
    const order = await paidOrder();
    const input = { orderId: order.orderId, reason: 'Not mine to give' };
    const staff = await refundOrder(input, await orgMember(order, 'STAFF'));
    expect(staff.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const stranger = await refundOrder(input, await orgMember(order, 'ADMIN', uuidv7()));
    expect(stranger.data!.refundOrder).toEqual({
      refund: null,
      errors: [{ code: 'NOT_FOUND', message: 'No order with this id.', field: ['input', 'orderId'] }],
    });
    const buyer = await refundOrder(input, order.buyer);
    expect(buyer.data!.refundOrder.errors).toMatchObject([{ code: 'NOT_FOUND' }]);
    const anonymous = await refundOrder(input, {});
    expect(anonymous.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect(await subgraph.sql`select 1 from billing.refunds where order_id = ${order.orderId}`).toHaveLength(
      0,
    );
    // A platform ADMIN may.
    const platformAdmin = await subgraph.bearer({ sub: uuidv7(), roles: ['ADMIN'] });
    const granted = await refundOrder(input, platformAdmin);
    expect(granted.data!.refundOrder.refund).toMatchObject({ status: 'SUCCEEDED', amount: { amount: 5000 } });
  });

  it('10 concurrent refunds of 40 % each: 2 succeed, the rest are refused, never more than paid', async () => {
    const order = await paidOrder({ amount: 5000 });
    const admin = await orgMember(order, 'ADMIN');
    const answers = await Promise.all(
      Array.from({ length: 10 }, (_, index) =>
        refundOrder(
          { orderId: order.orderId, amount: { amount: 2000, currency: 'EUR' }, reason: `Race ${index}` },
          admin,
        ),
      ),
    );
    const payloads = answers.map((answer) => answer.data!.refundOrder);
    const granted = payloads.filter((payload) => payload.refund?.status === 'SUCCEEDED');
    expect(granted).toHaveLength(2);
    for (const payload of payloads.filter((payload) => !payload.refund))
      expect(payload.errors).toEqual([
        {
          code: 'INVALID_INPUT',
          message: 'At most 10.00 EUR is left to refund on this order.',
          field: ['input', 'amount', 'amount'],
        },
      ]);
    const rows =
      await subgraph.sql`select status, amount from billing.refunds where order_id = ${order.orderId}`;
    expect(rows).toEqual([
      { status: 'SUCCEEDED', amount: 2000 },
      { status: 'SUCCEEDED', amount: 2000 },
    ]);
    expect(await refundedAmount(order.paymentId!)).toBe(4000);
    const events = await waitFor(async () =>
      refundedOf(order.orderId).length === 2 ? refundedOf(order.orderId) : undefined,
    );
    expect(events.reduce((sum, event) => sum + event.amount.amount, 0)).toBe(4000);
  });

  it('refuses an unpaid order', async () => {
    const order = await paidOrder({ paid: false });
    const { data } = await refundOrder(
      { orderId: order.orderId, reason: 'Nothing paid' },
      await orgMember(order, 'OWNER'),
    );
    expect(data!.refundOrder.errors).toEqual([
      {
        code: 'INVALID_INPUT',
        message: 'This order has no completed payment to refund.',
        field: ['input', 'orderId'],
      },
    ]);
  });
});

// ---------------------------------------------------------------- requestRefund

describe('requestRefund', () => {
  const fullUntil7: Policy = { kind: 'FULL_UNTIL', daysBeforeStart: 7, percent: null };

  it('grants a full refund inside a FULL_UNTIL window, once: asked again, the same refund', async () => {
    const order = await paidOrder({
      amount: 4200,
      policy: fullUntil7,
      startsAt: new Date(Date.now() + 30 * DAY_MS),
    });
    const first = await requestRefund(order);
    expect(first).toMatchObject({
      errors: [],
      refund: { status: 'SUCCEEDED', amount: { amount: 4200, currency: 'EUR' } },
    });
    const [event] = await waitFor(async () => nonEmpty(refundedOf(order.orderId)));
    expect(event).toEqual({
      refundId: first.refund!.id,
      orderId: order.orderId,
      amount: { amount: 4200, currency: 'EUR' },
    });
    const second = await requestRefund(order);
    expect(second).toEqual(first);
    expect(await subgraph.sql`select 1 from billing.refunds where order_id = ${order.orderId}`).toHaveLength(
      1,
    );
    expect(await refundedAmount(order.paymentId!)).toBe(4200);
  });

  it('refuses outside the FULL_UNTIL window with the date it ended', async () => {
    const startsAt = new Date(Date.now() + 3 * DAY_MS);
    const order = await paidOrder({ policy: fullUntil7, startsAt });
    const ended = new Date(startsAt.getTime() - 7 * DAY_MS).toISOString().slice(0, 10);
    expect(await requestRefund(order)).toEqual({
      refund: null,
      errors: [
        {
          code: 'INVALID_INPUT',
          message: `refunds ended on ${ended} (7 days before the event)`,
          field: ['input', 'orderId'],
        },
      ],
    });
    expect(await subgraph.sql`select 1 from billing.refunds where order_id = ${order.orderId}`).toHaveLength(
      0,
    );
  });

  it('grants PARTIAL percent of what was paid, rounded down', async () => {
    const order = await paidOrder({
      amount: 4999,
      policy: { kind: 'PARTIAL', daysBeforeStart: null, percent: 29 },
    });
    const { refund, errors } = await requestRefund(order);
    expect(errors).toEqual([]);
    expect(refund).toMatchObject({ status: 'SUCCEEDED', amount: { amount: 1449, currency: 'EUR' } });
    const [event] = await waitFor(async () => nonEmpty(refundedOf(order.orderId)));
    expect(event!.amount).toEqual({ amount: 1449, currency: 'EUR' });
  });

  it('refuses under NONE with its reason', async () => {
    const order = await paidOrder({ policy: { kind: 'NONE', daysBeforeStart: null, percent: null } });
    expect((await requestRefund(order)).errors).toEqual([
      { code: 'INVALID_INPUT', message: 'this event does not offer refunds', field: ['input', 'orderId'] },
    ]);
  });

  it('lets a guest ask with the order token, and no one without it', async () => {
    const order = await paidOrder({ guest: true, amount: 3000, policy: fullUntil7 });
    const without = await requestRefund(order, null);
    expect(without.errors).toMatchObject([{ code: 'NOT_FOUND' }]);
    const wrong = await requestRefund(order, randomBytes(32).toString('base64url'));
    expect(wrong.errors).toMatchObject([{ code: 'NOT_FOUND' }]);
    const someone = await subgraph.gql<{ requestRefund: Payload }>(
      REQUEST_REFUND,
      { input: { orderId: order.orderId } },
      await subgraph.bearer({ sub: uuidv7() }),
    );
    expect(someone.data!.requestRefund.errors).toMatchObject([{ code: 'NOT_FOUND' }]);
    const granted = await requestRefund(order);
    expect(granted.refund).toMatchObject({ status: 'SUCCEEDED', amount: { amount: 3000 } });
    const [row] =
      await subgraph.sql`select requested_by from billing.refunds where order_id = ${order.orderId}`;
    expect(row!.requested_by).toBeNull();
  });

  it('refuses an unpaid order', async () => {
    const order = await paidOrder({ paid: false, policy: fullUntil7 });
    expect((await requestRefund(order)).errors).toEqual([
      {
        code: 'INVALID_INPUT',
        message: 'This order has no completed payment to refund.',
        field: ['input', 'orderId'],
      },
    ]);
  });

  it('grants only what is left after an organizer refund', async () => {
    const order = await paidOrder({ amount: 5000, policy: fullUntil7 });
    await refundOrder(
      { orderId: order.orderId, amount: { amount: 1500, currency: 'EUR' }, reason: 'Late start' },
      await orgMember(order, 'ADMIN'),
    );
    expect((await requestRefund(order)).refund).toMatchObject({
      status: 'SUCCEEDED',
      amount: { amount: 3500 },
    });
    expect(await refundedAmount(order.paymentId!)).toBe(5000);
  });
});
