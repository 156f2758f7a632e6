import type { RunningService } from '@bilten/platform';
import { startTestSubgraph, statementsOf, type TestSubgraph } from '@bilten/testkit';
import type postgres from 'postgres';
import { v7 as uuidv7 } from 'uuid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ordersSubgraph } from '../src/server.ts';

let subgraph: TestSubgraph;
let service: RunningService;
let sql: postgres.Sql;

beforeAll(async () => {
  subgraph = await startTestSubgraph(ordersSubgraph, 'in-process');
  ({ service, sql } = subgraph);
});

afterAll(async () => {
  await subgraph?.dispose();
});

// ---------------------------------------------------------------- helpers

interface UserError {
  code: string;
  message: string;
  field: string[] | null;
}
interface Order {
  id: string;
  quantity: number;
  status: string;
  createdAt: string;
  buyer: { __typename: string; id: string } | null;
  event: { __typename: string; id: string } | null;
  ticketType: { __typename: string; id: string } | null;
}

const gql = <T>(query: string, variables?: Record<string, unknown>) => subgraph.gql<T>(query, variables);

const orderCount = async () =>
  (await sql<{ count: number }[]>`select count(*)::int as count from orders.orders`)[0]!.count;

const ORDER_FIELDS = `id quantity status createdAt
  buyer { __typename id } event { __typename id } ticketType { __typename id }`;
const CREATE_ORDER = `mutation($input: CreateOrderInput!) {
  createOrder(input: $input) { order { ${ORDER_FIELDS} } errors { code message field } }
}`;

const orderInput = (overrides: Record<string, unknown> = {}) => ({
  buyerId: uuidv7(),
  eventId: uuidv7(),
  ticketTypeId: uuidv7(),
  quantity: 2,
  ...overrides,
});

async function createOrder(input: Record<string, unknown>) {
  const { data, errors } = await gql<{ createOrder: { order: Order | null; errors: UserError[] } }>(
    CREATE_ORDER,
    {
      input,
    },
  );
  expect(errors).toBeUndefined();
  return data!.createOrder;
}

async function seedOrder(overrides: Record<string, unknown> = {}): Promise<Order> {
  const { order, errors } = await createOrder(orderInput(overrides));
  expect(errors).toEqual([]);
  return order!;
}

// ---------------------------------------------------------------- orders

describe('createOrder and order(id)', () => {
  it('records a pending order and reads it back with its references', async () => {
    const input = orderInput({ quantity: 3 });
    const order = await seedOrder(input);
    expect(order).toMatchObject({
      quantity: 3,
      status: 'PENDING',
      buyer: { __typename: 'User', id: input.buyerId },
      event: { __typename: 'Event', id: input.eventId },
      ticketType: { __typename: 'TicketType', id: input.ticketTypeId },
    });

    const { data, errors } = await gql<{ order: Order }>(
      `query($id: ID!) { order(id: $id) { ${ORDER_FIELDS} } }`,
      {
        id: order.id,
      },
    );
    expect(errors).toBeUndefined();
    expect(data!.order).toEqual(order);
    const [row] =
      await sql`select buyer_id, event_id, ticket_type_id, quantity, status from orders.orders where id = ${order.id}`;
    expect(row).toEqual({
      buyer_id: input.buyerId,
      event_id: input.eventId,
      ticket_type_id: input.ticketTypeId,
      quantity: 3,
      status: 'PENDING',
    });
  });

  it('answers null, not an error, for unknown and non-UUID ids', async () => {
    const { data, errors } = await gql<Record<string, unknown>>(
      'query($a: ID!, $b: ID!) { a: order(id: $a) { id } b: order(id: $b) { id } }',
      { a: uuidv7(), b: 'order-1' },
    );
    expect(errors).toBeUndefined();
    expect(data).toEqual({ a: null, b: null });
  });

  it.each([1, 50])('accepts quantity %i', async (quantity) => {
    expect((await seedOrder({ quantity })).quantity).toBe(quantity);
  });
});

describe('createOrder validation', () => {
  it.each([
    ['quantity 0', { quantity: 0 }, 'quantity'],
    ['quantity 51', { quantity: 51 }, 'quantity'],
    ['a negative quantity', { quantity: -3 }, 'quantity'],
    ['a non-UUID buyerId', { buyerId: 'user-1' }, 'buyerId'],
    ['a non-UUID eventId', { eventId: '12345' }, 'eventId'],
    ['a non-UUID ticketTypeId', { ticketTypeId: "'; drop table orders.orders; --" }, 'ticketTypeId'],
    ['an empty buyerId', { buyerId: '' }, 'buyerId'],
  ])('rejects %s with a field error and stores nothing', async (_, override, field) => {
    const before = await orderCount();
    const payload = await createOrder(orderInput(override));
    expect(payload.order).toBeNull();
    expect(payload.errors).toEqual([
      { code: 'INVALID_INPUT', message: expect.any(String), field: ['input', field] },
    ]);
    expect(await orderCount()).toBe(before);
  });

  it('reports every bad field of one input at once', async () => {
    const before = await orderCount();
    const payload = await createOrder(orderInput({ buyerId: 'x', ticketTypeId: 'y', quantity: 0 }));
    expect(payload.order).toBeNull();
    expect(payload.errors.map((e) => e.field).sort()).toEqual([
      ['input', 'buyerId'],
      ['input', 'quantity'],
      ['input', 'ticketTypeId'],
    ]);
    expect(await orderCount()).toBe(before);
  });
});

// ---------------------------------------------------------------- federation

describe('federation _entities', () => {
  let orders: Order[];
  beforeAll(async () => {
    orders = await Promise.all(Array.from({ length: 10 }, (_, i) => seedOrder({ quantity: i + 1 })));
  });

  const entities = (ids: string[]) =>
    gql<{ _entities: Array<{ id: string; quantity: number; buyer: { id: string } } | null> }>(
      `query($representations: [_Any!]!) {
        _entities(representations: $representations) { ... on Order { id quantity buyer { id } } }
      }`,
      { representations: ids.map((id) => ({ __typename: 'Order', id })) },
    );

  it('answers 10 Order representations in the order asked', async () => {
    const asked = [...orders].reverse();
    const { data, errors } = await entities(asked.map((o) => o.id));
    expect(errors).toBeUndefined();
    expect(data!._entities).toEqual(
      asked.map((o) => ({ id: o.id, quantity: o.quantity, buyer: { id: o.buyer!.id } })),
    );
  });

  it('yields null for unknown and non-UUID ids, in place, without an error', async () => {
    const { data, errors } = await entities([orders[0]!.id, uuidv7(), 'not-a-uuid', orders[1]!.id, '']);
    expect(errors).toBeUndefined();
    expect(data!._entities.map((e) => e?.id ?? null)).toEqual([
      orders[0]!.id,
      null,
      null,
      orders[1]!.id,
      null,
    ]);
  });

  it('costs one SQL statement for 10 orders', async () => {
    const ids = orders.map((o) => o.id);
    expect(await statementsOf(service.url, () => entities(ids))).toBe(1);
  });
});
