/**
 * Issue 16, test data stays in the sandbox, through the public door: a sandbox's published event
 * is nowhere for anyone else (GraphQL, REST, the gateway's event page, search), and its buyer's
 * order confirmation is captured for `testMessages`, not mailed.
 */
import { graphql, type SignedInUser, waitFor } from '@bilten/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventInput, gatewayCall, startTestStack, type TestStack } from './support.ts';

let stack: TestStack;
let organizationId: string;
let owner: SignedInUser;
type Headers = Record<string, string>;
const keys = {} as Record<'test' | 'live', { headers: Headers; actsOn: string }>;

beforeAll(async () => {
  stack = await startTestStack('in-process');
  ({ organizationId, owner } = await stack.organizationOwner(`test-data-${Date.now()}`));
  for (const mode of ['TEST', 'LIVE'] as const) {
    const { createApiKey } = await gatewayCall<{
      createApiKey: { apiKey: { actsOn: { id: string } }; secret: string };
    }>(
      stack,
      'mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { apiKey { actsOn { id } } secret } }',
      { input: { organizationId, name: `${mode} key`, scopes: ['events:read', 'events:write'], mode } },
      owner.headers,
    );
    keys[mode === 'TEST' ? 'test' : 'live'] = {
      headers: { authorization: `Bearer ${createApiKey.secret}` },
      actsOn: createApiKey.apiKey.actsOn.id,
    };
  }
}, 120_000);

afterAll(async () => {
  await stack?.dispose();
});

const call = <T>(query: string, variables: Record<string, unknown>, headers: Headers) =>
  gatewayCall<T>(stack, query, variables, headers);

/** An event of the sandbox, created, priced and published with the TEST key. */
async function sandboxEvent(title: string) {
  const headers = keys.test.headers;
  const { createEvent } = await call<{ createEvent: { event: { id: string } } }>(
    'mutation($input: CreateEventInput!) { createEvent(input: $input) { event { id } } }',
    { input: eventInput(keys.test.actsOn, title) },
    headers,
  );
  const eventId = createEvent.event.id;
  const { addTicketType } = await call<{ addTicketType: { ticketType: { id: string } } }>(
    'mutation($input: AddTicketTypeInput!) { addTicketType(input: $input) { ticketType { id } } }',
    { input: { eventId, name: 'Regular', price: { amount: 1000, currency: 'EUR' }, capacity: 10 } },
    headers,
  );
  const { publishEvent } = await call<{ publishEvent: { errors: unknown[] } }>(
    'mutation($input: EventIdInput!) { publishEvent(input: $input) { errors { code message } } }',
    { input: { id: eventId } },
    headers,
  );
  expect(publishEvent.errors).toEqual([]);
  return { eventId, ticketTypeId: addTicketType.ticketType.id };
}

describe('a sandbox’s data', () => {
  it('keeps its published events from everyone but the sandbox’s own', async () => {
    const { eventId } = await sandboxEvent('Sandbox Premiere Bihać');
    const origin = new URL(stack.url).origin;
    const outsider = await stack.signUp();
    const anonymous: Headers = {};
    for (const [who, headers] of [
      ['anonymous', anonymous],
      ['another user', outsider.headers],
      ['the live key', keys.live.headers],
    ] as const) {
      expect((await fetch(`${origin}/events/${eventId}`, { headers })).status, who).toBe(404);
      expect((await fetch(`${origin}/api/v1/events/${eventId}`, { headers })).status, who).toBe(404);
      const { body } = await graphql<{ events: { edges: unknown[] } }, unknown>(
        stack.url,
        'query($filter: EventFilter) { events(filter: $filter) { edges { node { id } } } }',
        { filter: { query: 'Bihać' } },
        headers,
      );
      expect(body.data?.events.edges, who).toEqual([]);
    }
    const own = await fetch(`${origin}/api/v1/events/${eventId}`, { headers: keys.test.headers });
    expect(own.status).toBe(200);
    const { events } = await call<{ events: { edges: Array<{ node: { id: string } }> } }>(
      'query($filter: EventFilter) { events(filter: $filter) { edges { node { id } } } }',
      { filter: { query: 'Bihać' } },
      keys.test.headers,
    );
    expect(events.edges.map((edge) => edge.node.id)).toEqual([eventId]);
  });

  it('captures its buyer’s order confirmation for testMessages instead of mailing it', async () => {
    const { eventId, ticketTypeId } = await sandboxEvent('Sandbox Matinee');
    const buyer = await stack.signUp({ displayName: 'Test Buyer' });
    const reservationId = await waitFor(async () => {
      const { reserveTickets } = await call<{ reserveTickets: { reservation: { id: string } | null } }>(
        'mutation($input: ReserveTicketsInput!) { reserveTickets(input: $input) { reservation { id } } }',
        { input: { eventId, items: [{ ticketTypeId, quantity: 1 }] } },
        buyer.headers,
      );
      return reserveTickets.reservation?.id;
    });
    const { checkout } = await call<{ checkout: { order: { id: string } } }>(
      'mutation($input: CheckoutInput!) { checkout(input: $input) { order { id } } }',
      { input: { reservationId, buyer: { name: 'Test Buyer', email: buyer.email } } },
      buyer.headers,
    );
    await waitFor(async () => {
      const { payOrder } = await call<{ payOrder: { payment: { status: string } | null } }>(
        'mutation($input: PayOrderInput!) { payOrder(input: $input) { payment { status } } }',
        {
          input: {
            orderId: checkout.order.id,
            provider: 'SANDBOX',
            paymentMethodToken: 'tok_visa',
            idempotencyKey: `pay-${checkout.order.id}`,
          },
        },
        buyer.headers,
      );
      return payOrder.payment;
    });
    const TEST_MESSAGES = `query($organizationId: ID!) {
      testMessages(organizationId: $organizationId) { edges { node { kind recipient subject } } }
    }`;
    const confirmation = await waitFor(async () => {
      const { testMessages } = await call<{
        testMessages: { edges: Array<{ node: { kind: string; recipient: string; subject: string } }> };
      }>(TEST_MESSAGES, { organizationId: keys.test.actsOn }, keys.test.headers);
      return testMessages.edges.find((edge) => edge.node.kind === 'ORDER_CONFIRMED')?.node;
    });
    expect(confirmation).toEqual({
      kind: 'ORDER_CONFIRMED',
      recipient: buyer.email,
      subject: 'Your tickets for Sandbox Matinee',
    });
    expect(stack.smtp.messages.filter((mail) => mail.parsed.subject?.includes('Sandbox Matinee'))).toEqual(
      [],
    );
    // The live organization has no test messages; its key reads none of the sandbox's.
    for (const organization of [organizationId, keys.test.actsOn]) {
      const { body } = await graphql<unknown, unknown>(
        stack.url,
        TEST_MESSAGES,
        { organizationId: organization },
        keys.live.headers,
      );
      expect(body.errors?.map((error) => error.extensions?.code)).toEqual(['FORBIDDEN']);
    }
  });
});
