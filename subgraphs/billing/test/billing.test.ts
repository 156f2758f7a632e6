import { startTestSubgraph, statementsOf, type TestSubgraph, type UserError } from '@bilten/testkit';
import { expectFieldErrors, queryEntities, rowCount } from '@bilten/testkit/checks';
import { v7 as uuidv7 } from 'uuid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { billingSubgraph } from '../src/server.ts';

let subgraph: TestSubgraph;
/** A platform ADMIN: the only caller who may record payments. */
let admin: Record<string, string>;

beforeAll(async () => {
  subgraph = await startTestSubgraph(billingSubgraph, 'in-process');
  admin = await subgraph.bearer({ roles: ['ADMIN'] });
});

afterAll(async () => {
  await subgraph?.dispose();
});

// ---------------------------------------------------------------- helpers

interface Payment {
  id: string;
  order: { __typename: string; id: string } | null;
  amount: { amount: number; currency: string };
  provider: string;
  status: string;
  createdAt: string;
}

const gql = <T>(query: string, variables?: Record<string, unknown>, headers = admin) =>
  subgraph.gql<T>(query, variables, headers);

const paymentCount = () => rowCount(subgraph.sql, 'billing.payments');

const PAYMENT_FIELDS = 'id order { __typename id } amount { amount currency } provider status createdAt';
const RECORD_PAYMENT = `mutation($input: RecordPaymentInput!) {
  recordPayment(input: $input) { payment { ${PAYMENT_FIELDS} } errors { code message field } }
}`;

const paymentInput = (overrides: Record<string, unknown> = {}) => ({
  orderId: uuidv7(),
  amount: { amount: 5000, currency: 'EUR' },
  provider: 'STRIPE',
  ...overrides,
});

async function recordPayment(input: Record<string, unknown>) {
  const { data, errors } = await gql<{ recordPayment: { payment: Payment | null; errors: UserError[] } }>(
    RECORD_PAYMENT,
    { input },
  );
  expect(errors).toBeUndefined();
  return data!.recordPayment;
}

async function seedPayment(overrides: Record<string, unknown> = {}): Promise<Payment> {
  const { payment, errors } = await recordPayment(paymentInput(overrides));
  expect(errors).toEqual([]);
  return payment!;
}

// ---------------------------------------------------------------- payments

describe('recordPayment and payment(id)', () => {
  it('records a pending payment and reads it back', async () => {
    const orderId = uuidv7();
    const payment = await seedPayment({
      orderId,
      amount: { amount: 1999, currency: 'BAM' },
      provider: 'BRAINTREE',
    });
    expect(payment).toMatchObject({
      order: { __typename: 'Order', id: orderId },
      amount: { amount: 1999, currency: 'BAM' },
      provider: 'BRAINTREE',
      status: 'PENDING',
    });

    const { data, errors } = await gql<{ payment: Payment }>(
      `query($id: ID!) { payment(id: $id) { ${PAYMENT_FIELDS} } }`,
      {
        id: payment.id,
      },
    );
    expect(errors).toBeUndefined();
    expect(data!.payment).toEqual(payment);
    const [row] =
      await subgraph.sql`select order_id, amount, currency, provider, status from billing.payments where id = ${payment.id}`;
    expect(row).toEqual({
      order_id: orderId,
      amount: 1999,
      currency: 'BAM',
      provider: 'BRAINTREE',
      status: 'PENDING',
    });
  });

  it('answers null, not an error, for unknown and non-UUID ids', async () => {
    const { data, errors } = await gql<Record<string, unknown>>(
      'query($a: ID!, $b: ID!) { a: payment(id: $a) { id } b: payment(id: $b) { id } }',
      { a: uuidv7(), b: 'pay_123' },
    );
    expect(errors).toBeUndefined();
    expect(data).toEqual({ a: null, b: null });
  });

  it('accepts a zero amount', async () => {
    expect((await seedPayment({ amount: { amount: 0, currency: 'EUR' } })).amount.amount).toBe(0);
  });
});

describe('recordPayment access', () => {
  it.each([
    ['anonymous', async () => ({}), 'UNAUTHENTICATED'],
    ['a customer', () => subgraph.bearer(), 'FORBIDDEN'],
    ['an organization OWNER', () => subgraph.bearer({ orgs: { [uuidv7()]: 'OWNER' } }), 'FORBIDDEN'],
    [
      'an API key',
      () => subgraph.bearer({ kind: 'api_key', org: uuidv7(), scopes: ['orders:write'], mode: 'LIVE' }),
      'FORBIDDEN',
    ],
  ])('refuses %s with %s and stores nothing', async (_, headers, code) => {
    const before = await paymentCount();
    const { data, errors } = await gql(RECORD_PAYMENT, { input: paymentInput() }, await headers());
    expect(data ?? null).toBeNull();
    expect(errors?.map((e) => e.extensions?.code)).toEqual([code]);
    expect(await paymentCount()).toBe(before);
  });
});

describe('recordPayment validation', () => {
  it.each([
    ['a negative amount', { amount: { amount: -100, currency: 'EUR' } }, ['amount', 'amount']],
    ['an amount over 100000000', { amount: { amount: 100_000_001, currency: 'EUR' } }, ['amount', 'amount']],
    ['an unknown currency', { amount: { amount: 100, currency: 'XYZ' } }, ['amount', 'currency']],
    ['a lower-case currency', { amount: { amount: 100, currency: 'eur' } }, ['amount', 'currency']],
    ['a non-UUID orderId', { orderId: 'order-1' }, ['orderId']],
  ])('rejects %s with a field error and stores nothing', async (_, override, field) => {
    const before = await paymentCount();
    const payload = await recordPayment(paymentInput(override));
    expect(payload.payment).toBeNull();
    expectFieldErrors(payload.errors, field);
    expect(await paymentCount()).toBe(before);
  });

  it.each(['PAYPAL', 'stripe', ''])(
    'rejects the unknown provider %j as BAD_USER_INPUT and stores nothing',
    async (provider) => {
      const before = await paymentCount();
      const { status, data, errors } = await gql(RECORD_PAYMENT, { input: paymentInput({ provider }) });
      expect(status).toBe(400);
      expect(data).toBeUndefined();
      expect(errors?.map((e) => e.extensions?.code)).toEqual(['BAD_USER_INPUT']);
      expect(await paymentCount()).toBe(before);
    },
  );
});

describe('payment(id) access', () => {
  it('shows a payment by id to platform ADMINs only; to anyone else it does not exist', async () => {
    const payment = await seedPayment();
    const seenBy = async (headers: Record<string, string>) => {
      const direct = await gql<{ payment: { id: string } | null }>(
        'query($id: ID!) { payment(id: $id) { id } }',
        { id: payment.id },
        headers,
      );
      const entity = await queryEntities<{ id: string }>(
        subgraph,
        [{ __typename: 'Payment', id: payment.id }],
        '... on Payment { id }',
        headers,
      );
      expect(direct.errors).toBeUndefined();
      expect(entity.data!._entities[0]?.id ?? null).toBe(direct.data!.payment?.id ?? null);
      return direct.data!.payment?.id ?? null;
    };
    expect(await seenBy(admin)).toBe(payment.id);
    expect(await seenBy({})).toBeNull();
    expect(await seenBy(await subgraph.bearer({}))).toBeNull();
  });
});

// ---------------------------------------------------------------- federation

describe('federation _entities', () => {
  /** Order i has i % 4 payments; the map keeps them oldest first. */
  const orderIds = Array.from({ length: 10 }, () => uuidv7());
  const paymentsOf = new Map<string, Payment[]>();

  beforeAll(async () => {
    for (const [i, orderId] of orderIds.entries()) {
      const payments: Payment[] = [];
      for (let p = 0; p < i % 4; p++)
        payments.push(await seedPayment({ orderId, amount: { amount: 100 * (p + 1), currency: 'EUR' } }));
      paymentsOf.set(orderId, payments);
    }
  });

  const entities = (representations: Array<{ __typename: string; id: string }>, selection: string) =>
    queryEntities(subgraph, representations, selection, admin);
  const ORDER_PAYMENTS = '... on Order { id payments { id amount { amount } } }';
  const asOrders = (ids: string[]) => ids.map((id) => ({ __typename: 'Order', id }));

  it('answers Order.payments for 10 orders in the order asked, each with its own payments oldest first', async () => {
    const asked = [...orderIds].reverse();
    const { data, errors } = await entities(asOrders(asked), ORDER_PAYMENTS);
    expect(errors).toBeUndefined();
    expect(data!._entities).toEqual(
      asked.map((id) => ({
        id,
        payments: paymentsOf.get(id)!.map((p) => ({ id: p.id, amount: { amount: p.amount.amount } })),
      })),
    );
  });

  it('gives unknown and non-UUID orders no payments, without an error', async () => {
    const { data, errors } = await entities(asOrders([uuidv7(), 'not-a-uuid', orderIds[3]!]), ORDER_PAYMENTS);
    expect(errors).toBeUndefined();
    expect(data!._entities.map((e) => (e!.payments as unknown[]).length)).toEqual([0, 0, 3]);
  });

  it('answers Payment representations in order; unknown and non-UUID ids are null', async () => {
    const [a, b] = [paymentsOf.get(orderIds[2]!)![1]!, paymentsOf.get(orderIds[7]!)![0]!];
    const { data, errors } = await entities(
      [
        { __typename: 'Payment', id: a.id },
        { __typename: 'Payment', id: uuidv7() },
        { __typename: 'Payment', id: 'nope' },
        { __typename: 'Payment', id: b.id },
      ],
      '... on Payment { id order { id } amount { amount currency } }',
    );
    expect(errors).toBeUndefined();
    expect(data!._entities).toEqual([
      { id: a.id, order: { id: orderIds[2] }, amount: a.amount },
      null,
      null,
      { id: b.id, order: { id: orderIds[7] }, amount: b.amount },
    ]);
  });

  it('costs one SQL statement for the payments of 10 orders', async () => {
    expect(await statementsOf(subgraph.service.url, () => entities(asOrders(orderIds), ORDER_PAYMENTS))).toBe(
      1,
    );
  });

  it('costs one SQL statement for 10 payments', async () => {
    const ids = [...paymentsOf.values()].flat().slice(0, 10);
    expect(ids).toHaveLength(10);
    const representations = ids.map((p) => ({ __typename: 'Payment', id: p.id }));
    expect(
      await statementsOf(subgraph.service.url, () =>
        entities(representations, '... on Payment { id amount { amount } }'),
      ),
    ).toBe(1);
  });
});
