/** PCI DSS, SAQ A (issue 14): a card number sent to any subgraph is refused, changes nothing and is never logged. */
import { graphql } from '@bilten/testkit';
import { expectNoCardNumbers, expectNoCardNumbersInTables } from '@bilten/testkit/checks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventInput, startTestStack, type TestStack } from './support.ts';

let stack: TestStack;
let organizationId: string;
let owner: Record<string, string>;
beforeAll(async () => {
  stack = await startTestStack('in-process');
  const created = await stack.organizationOwner('cards');
  organizationId = created.organizationId;
  owner = created.owner.headers;
});
afterAll(async () => {
  await stack?.dispose();
});

const CREATE_EVENT = `mutation($input: CreateEventInput!) {
  createEvent(input: $input) { event { id title } errors { code message field } }
}`;
const eventCount = async () =>
  (await stack.sql<{ n: number }[]>`select count(*)::int as n from catalog.events`)[0]!.n;

const post = (query: string, variables: Record<string, unknown> = {}) =>
  graphql<Record<string, unknown>, Record<string, unknown>>(stack.url, query, variables, owner);

describe('a card number is refused in every argument of every subgraph', () => {
  it.each([
    ['a mutation input, spaced', { title: '4242 4242 4242 4242' }, '$input.title'],
    [
      'a mutation input, dashed, within text',
      { description: 'pay with 4242-4242-4242-4242 please' },
      '$input.description',
    ],
    ['a list item', { tags: ['fine', '5555555555554444'] }, '$input.tags.1'],
  ])('%s: BAD_USER_INPUT naming where, not the number; nothing created', async (_, overrides, where) => {
    const before = await eventCount();
    const { body } = await post(CREATE_EVENT, { input: eventInput(organizationId, 'Concert', overrides) });
    expect(body.data ?? null).toBeNull();
    expect(body.errors).toEqual([
      expect.objectContaining({
        message: `Variable "${where}": card numbers are never accepted here: use the payment form's token`,
        extensions: expect.objectContaining({ code: 'BAD_USER_INPUT' }),
      }),
    ]);
    expect(await eventCount()).toBe(before);
  });

  it('in a literal of a query, too', async () => {
    const { body } = await post('{ events(filter: { query: "4242424242424242" }) { totalCount } }');
    expect(body.errors?.[0]).toMatchObject({
      message: "An argument: card numbers are never accepted here: use the payment form's token",
      extensions: { code: 'BAD_USER_INPUT' },
    });
    expect(JSON.stringify(body)).not.toContain('4242');
  });

  it('lets through what only resembles one: a 16-digit reference that fails Luhn', async () => {
    const { body } = await post(CREATE_EVENT, {
      input: eventInput(organizationId, 'Order 1234567812345678', { description: 'ref 1234 5678 1234 5678' }),
    });
    expect(body.errors).toBeUndefined();
    expect(body.data).toMatchObject({
      createEvent: { event: { title: 'Order 1234567812345678' }, errors: [] },
    });
  });

  it('leaves no card-like number in any log line or table', async () => {
    expect(stack.logs.length).toBeGreaterThan(0);
    expectNoCardNumbers(stack.logs, 'the log lines of every service');
    await expectNoCardNumbersInTables(stack.sql, [
      'identity',
      'catalog',
      'orders',
      'billing',
      'messaging',
      'branding',
    ]);
  });
});
