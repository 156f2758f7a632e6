import { startTestSubgraph, statementsOf, type TestSubgraph, type UserError } from '@bilten/testkit';
import { queryEntities, rowCount } from '@bilten/testkit/checks';
import { v7 as uuidv7 } from 'uuid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ordersSubgraph } from '../src/server.ts';

let subgraph: TestSubgraph;
/** The verified customer every order here is bought by. */
const BUYER = uuidv7();
let buyer: Record<string, string>;

beforeAll(async () => {
  subgraph = await startTestSubgraph(ordersSubgraph, 'in-process');
  buyer = await subgraph.bearer({ sub: BUYER });
});

afterAll(async () => {
  await subgraph?.dispose();
});

// ---------------------------------------------------------------- helpers

interface Order {
  id: string;
  quantity: number;
  status: string;
  createdAt: string;
  buyer: { __typename: string; id: string } | null;
  event: { __typename: string; id: string } | null;
  ticketType: { __typename: string; id: string } | null;
}

/** As the buyer, who may read their own orders. */
const gql = <T>(query: string, variables?: Record<string, unknown>, headers = buyer) =>
  subgraph.gql<T>(query, variables, headers);

const orderCount = () => rowCount(subgraph.sql, 'orders.orders');

const ORDER_FIELDS = `id quantity status createdAt
  buyer { __typename id } event { __typename id } ticketType { __typename id }`;
const CREATE_ORDER = `mutation($input: CreateOrderInput!) {
  createOrder(input: $input) { order { ${ORDER_FIELDS} } errors { code message field } }
}`;

const orderInput = (overrides: Record<string, unknown> = {}) => ({
  eventId: uuidv7(),
  ticketTypeId: uuidv7(),
  quantity: 2,
  ...overrides,
});

type CreateOrderResult = { createOrder: { order: Order | null; errors: UserError[] } | null };

const callCreateOrder = (input: Record<string, unknown>, headers: Record<string, string>) =>
  subgraph.gql<CreateOrderResult>(CREATE_ORDER, { input }, headers);

async function createOrder(input: Record<string, unknown>) {
  const { data, errors } = await callCreateOrder(input, buyer);
  expect(errors).toBeUndefined();
  return data!.createOrder!;
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
      buyer: { __typename: 'User', id: BUYER },
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
      await subgraph.sql`select buyer_id, event_id, ticket_type_id, quantity, status from orders.orders where id = ${order.id}`;
    expect(row).toEqual({
      buyer_id: BUYER,
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

describe('order(id) access', () => {
  it('shows an order to its buyer and platform ADMINs only; to anyone else it does not exist', async () => {
    const order = await seedOrder();
    const ORDER = 'query($id: ID!) { order(id: $id) { id } }';
    const seenBy = async (headers: Record<string, string>) => {
      const direct = await gql<{ order: { id: string } | null }>(ORDER, { id: order.id }, headers);
      const entity = await queryEntities<{ id: string }>(
        subgraph,
        [{ __typename: 'Order', id: order.id }],
        '... on Order { id }',
        headers,
      );
      expect(direct.errors).toBeUndefined();
      expect(entity.data!._entities[0]?.id ?? null).toBe(direct.data!.order?.id ?? null);
      return direct.data!.order?.id ?? null;
    };
    expect(await seenBy(buyer)).toBe(order.id);
    expect(await seenBy({})).toBeNull();
    expect(await seenBy(await subgraph.bearer({}))).toBeNull();
    expect(await seenBy(await subgraph.bearer({ roles: ['ADMIN'] }))).toBe(order.id);
  });
});

describe('createOrder access', () => {
  it.each([
    ['anonymous callers', async () => ({}), 'UNAUTHENTICATED'],
    [
      'users who have not verified their email address',
      () => subgraph.bearer({ email_verified: false }),
      'EMAIL_NOT_VERIFIED',
    ],
  ])('refuses %s and stores nothing', async (_, headersOf, code) => {
    const before = await orderCount();
    const { data, errors } = await callCreateOrder(orderInput(), await headersOf());
    expect(data).toBeNull();
    expect(errors?.map((error) => error.extensions?.code)).toEqual([code]);
    expect(await orderCount()).toBe(before);
  });

  it('takes no buyerId: nobody orders in the name of another user', async () => {
    const before = await orderCount();
    const { errors } = await callCreateOrder({ ...orderInput(), buyerId: uuidv7() }, buyer);
    expect(errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(await orderCount()).toBe(before);
  });
});

describe('createOrder validation', () => {
  it.each([
    ['quantity 0', { quantity: 0 }, 'quantity'],
    ['quantity 51', { quantity: 51 }, 'quantity'],
    ['a negative quantity', { quantity: -3 }, 'quantity'],
    ['a non-UUID eventId', { eventId: '12345' }, 'eventId'],
    ['a non-UUID ticketTypeId', { ticketTypeId: "'; drop table orders.orders; --" }, 'ticketTypeId'],
    ['an empty eventId', { eventId: '' }, 'eventId'],
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
    const payload = await createOrder(orderInput({ eventId: 'x', ticketTypeId: 'y', quantity: 0 }));
    expect(payload.order).toBeNull();
    expect(payload.errors.map((e) => e.field).sort()).toEqual([
      ['input', 'eventId'],
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
    queryEntities<{ id: string; quantity: number; buyer: { id: string } }>(
      subgraph,
      ids.map((id) => ({ __typename: 'Order', id })),
      '... on Order { id quantity buyer { id } }',
      buyer,
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
    expect(await statementsOf(subgraph.service.url, () => entities(ids))).toBe(1);
  });
});
