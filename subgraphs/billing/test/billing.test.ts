import { startTestSubgraph, statementsOf, type TestSubgraph } from '@bilten/testkit';
import { queryEntities } from '@bilten/testkit/checks';
import { v7 as uuidv7 } from 'uuid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { billingSubgraph } from '../src/server.ts';
import { type AnnouncedOrder, announceOrder } from './support.ts';

// Who sees payments (payment(id), Order.payments) and how they federate. Charging: payments.test.ts.

let subgraph: TestSubgraph;

beforeAll(async () => {
  subgraph = await startTestSubgraph(billingSubgraph, 'in-process');
});

afterAll(async () => {
  await subgraph?.dispose();
});

/** Pays the order (declined first when `declinedFirst`); answers the payment ids, oldest first. */
async function pay(order: AnnouncedOrder, declinedFirst = false): Promise<string[]> {
  const ids: string[] = [];
  for (const token of declinedFirst ? ['tok_chargeDeclined', 'tok_visa'] : ['tok_visa']) {
    const { data, errors } = await subgraph.gql<{ payOrder: { payment: { id: string } } }>(
      'mutation($input: PayOrderInput!) { payOrder(input: $input) { payment { id } } }',
      {
        input: {
          orderId: order.orderId,
          provider: 'SANDBOX',
          paymentMethodToken: token,
          idempotencyKey: uuidv7(),
          guestToken: order.guestToken,
        },
      },
      order.buyer,
    );
    expect(errors).toBeUndefined();
    ids.push(data!.payOrder.payment.id);
  }
  return ids;
}

describe('who sees payments', () => {
  let order: AnnouncedOrder;
  let paymentIds: string[];

  beforeAll(async () => {
    order = await announceOrder(subgraph);
    paymentIds = await pay(order, true);
  });

  const seenBy = async (headers: Record<string, string>) => {
    const direct = await subgraph.gql<{ payment: { id: string } | null }>(
      'query($id: ID!) { payment(id: $id) { id } }',
      { id: paymentIds[1] },
      headers,
    );
    const entity = await queryEntities<{ id: string }>(
      subgraph,
      [{ __typename: 'Payment', id: paymentIds[1]! }],
      '... on Payment { id }',
      headers,
    );
    const ofOrder = await queryEntities<{ payments: Array<{ id: string }> }>(
      subgraph,
      [{ __typename: 'Order', id: order.orderId }],
      '... on Order { payments { id } }',
      headers,
    );
    expect(direct.errors).toBeUndefined();
    expect(entity.data!._entities[0]?.id ?? null).toBe(direct.data!.payment?.id ?? null);
    return {
      payment: direct.data!.payment?.id ?? null,
      payments: ofOrder.data!._entities[0]!.payments.map((p) => p.id),
    };
  };

  it.each([
    ['the buyer', () => order.buyer],
    ['an ADMIN of the organization', () => subgraph.bearer({ orgs: { [order.organizationId]: 'ADMIN' } })],
    ['an OWNER of the organization', () => subgraph.bearer({ orgs: { [order.organizationId]: 'OWNER' } })],
    ['a platform ADMIN', () => subgraph.bearer({ roles: ['ADMIN'] })],
  ])('shows %s the payment and every attempt, oldest first', async (_, headers) => {
    expect(await seenBy(await headers())).toEqual({ payment: paymentIds[1], payments: paymentIds });
  });

  it.each([
    ['anonymous callers', async () => ({})],
    ['another customer', () => subgraph.bearer()],
    ['STAFF of the organization', () => subgraph.bearer({ orgs: { [order.organizationId]: 'STAFF' } })],
    ['an ADMIN of another organization', () => subgraph.bearer({ orgs: { [uuidv7()]: 'ADMIN' } })],
    [
      'an API key of the organization',
      () =>
        subgraph.bearer({
          kind: 'api_key',
          org: order.organizationId,
          scopes: ['orders:read'],
          mode: 'LIVE',
        }),
    ],
  ])('shows %s nothing, as for an unknown id', async (_, headers) => {
    expect(await seenBy(await headers())).toEqual({ payment: null, payments: [] });
  });

  it('answers null, not an error, for unknown and non-UUID ids', async () => {
    const { data, errors } = await subgraph.gql<Record<string, unknown>>(
      'query($a: ID!, $b: ID!) { a: payment(id: $a) { id } b: payment(id: $b) { id } }',
      { a: uuidv7(), b: 'pay_123' },
      await subgraph.bearer({ roles: ['ADMIN'] }),
    );
    expect(errors).toBeUndefined();
    expect(data).toEqual({ a: null, b: null });
  });
});

describe('federation _entities', () => {
  /** Order i has one payment (i % 3 = 0), a decline then a payment (1), or none (2): 10 in all. */
  const orders: AnnouncedOrder[] = [];
  const paymentsOf = new Map<string, string[]>();
  let admin: Record<string, string>;

  beforeAll(async () => {
    admin = await subgraph.bearer({ roles: ['ADMIN'] });
    for (let i = 0; i < 10; i++) {
      const order = await announceOrder(subgraph, { guest: i % 2 === 1 });
      orders.push(order);
      paymentsOf.set(order.orderId, i % 3 === 2 ? [] : await pay(order, i % 3 === 1));
    }
  });

  const ORDER_PAYMENTS = '... on Order { id payments { id status } }';
  const asOrders = (ids: string[]) => ids.map((id) => ({ __typename: 'Order', id }));

  it('answers Order.payments for 10 orders in the order asked, each with its own attempts oldest first', async () => {
    const asked = orders.map((order) => order.orderId).reverse();
    const { data, errors } = await queryEntities<{ id: string; payments: Array<{ id: string }> }>(
      subgraph,
      asOrders(asked),
      ORDER_PAYMENTS,
      admin,
    );
    expect(errors).toBeUndefined();
    expect(
      data!._entities.map((entity) => ({ id: entity!.id, payments: entity!.payments.map((p) => p.id) })),
    ).toEqual(asked.map((id) => ({ id, payments: paymentsOf.get(id) })));
  });

  it('gives unknown and non-UUID orders no payments, without an error', async () => {
    const { data, errors } = await queryEntities<{ payments: unknown[] }>(
      subgraph,
      asOrders([uuidv7(), 'not-a-uuid', orders[1]!.orderId]),
      ORDER_PAYMENTS,
      admin,
    );
    expect(errors).toBeUndefined();
    expect(data!._entities.map((entity) => entity!.payments.length)).toEqual([0, 0, 2]);
  });

  // A platform admin's read of others' payments is audited (issue 18): one report for the whole
  // request, three statements (begin, one outbox insert, commit), however many rows were read.
  const AUDIT_REPORT = 3;

  it('costs two SQL statements (who may see, and the payments) for 10 orders, plus one access report', async () => {
    const ids = orders.map((order) => order.orderId);
    expect(
      await statementsOf(subgraph.service.url, () =>
        queryEntities(subgraph, asOrders(ids), ORDER_PAYMENTS, admin),
      ),
    ).toBe(2 + AUDIT_REPORT);
  });

  it('costs two SQL statements for 10 payments, plus one access report', async () => {
    const ids = [...paymentsOf.values()].flat().slice(0, 10);
    expect(ids).toHaveLength(10);
    const representations = ids.map((id) => ({ __typename: 'Payment', id }));
    expect(
      await statementsOf(subgraph.service.url, () =>
        queryEntities(subgraph, representations, '... on Payment { id amount { amount } }', admin),
      ),
    ).toBe(2 + AUDIT_REPORT);
  });
});
