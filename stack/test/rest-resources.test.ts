import { graphql, type SignedInUser, waitFor } from '@bilten/testkit';
import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type OpenApi, type Schema, schemaViolations } from './openapi-check.ts';
import { gatewayCall, publishedEvent, startTestStack, type TestStack } from './support.ts';

/*
 * The REST facade's orders, tickets, check-in and members routes (issue 16): each answers as the
 * OpenAPI document says, and refuses whom its GraphQL twin refuses.
 */

let stack: TestStack;
let origin: string;
let openapi: OpenApi;
let organizationId: string;
let owner: SignedInUser;
let eventId: string;
let ticketTypeId: string;
let buyer: SignedInUser;

const violations = (value: unknown, schema: Schema, at?: string) =>
  schemaViolations(openapi, value, schema, at);

/** Calls a route and checks the answer against its documentation: status, content type, body. */
async function rest(
  method: 'GET' | 'POST',
  route: string,
  options: {
    params?: Record<string, string>;
    query?: string;
    headers?: Record<string, string>;
    body?: unknown;
  } = {},
) {
  const path = route.replace(/\{(\w+)\}/g, (_, name: string) => options.params![name]!);
  const response = await fetch(`${origin}/api/v1${path}${options.query ?? ''}`, {
    method,
    headers: {
      ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
      ...options.headers,
    },
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  const text = await response.text();
  const body = text ? JSON.parse(text) : undefined;
  const documented = openapi.paths[`/api/v1${route}`]?.[method.toLowerCase()];
  expect(documented, `${method} ${route} is documented`).toBeDefined();
  let answer = documented!.responses[String(response.status)];
  expect(answer, `${method} ${route} documents ${response.status}: ${text}`).toBeDefined();
  if (answer!.$ref) answer = openapi.components.responses[answer!.$ref.split('/').at(-1)!];
  const [contentType, media] = Object.entries(answer!.content!)[0]!;
  expect(response.headers.get('content-type')).toContain(contentType);
  expect(violations(body, media.schema), `${method} ${path} → ${response.status}`).toEqual([]);
  return { status: response.status, headers: response.headers, body };
}

/** The code the GraphQL twin refuses with: the request's error, else the payload's first user error. */
async function graphqlRefusal(
  query: string,
  variables: Record<string, unknown>,
  headers: Record<string, string>,
) {
  const { body } = await graphql<Record<string, { errors?: Array<{ code: string }> } | null>, unknown>(
    stack.url,
    query,
    variables,
    headers,
  );
  const error = body.errors?.[0] as { extensions?: { code?: string } } | undefined;
  if (error) return error.extensions?.code;
  return Object.values(body.data ?? {})[0]?.errors?.[0]?.code;
}

/** A checked-out order of `quantity` tickets for `customer`, waiting for payment. */
async function checkedOutOrder(customer: SignedInUser, quantity = 1): Promise<string> {
  const reservationId = await waitFor(async () => {
    const { reserveTickets } = await gatewayCall<{ reserveTickets: { reservation: { id: string } | null } }>(
      stack,
      'mutation($input: ReserveTicketsInput!) { reserveTickets(input: $input) { reservation { id } } }',
      { input: { eventId, items: [{ ticketTypeId, quantity }] } },
      customer.headers,
    );
    return reserveTickets.reservation?.id;
  });
  const { checkout } = await gatewayCall<{ checkout: { order: { id: string } } }>(
    stack,
    'mutation($input: CheckoutInput!) { checkout(input: $input) { order { id } } }',
    { input: { reservationId, buyer: { name: 'Rest Buyer', email: customer.email } } },
    customer.headers,
  );
  return checkout.order.id;
}

/** A paid order of two tickets for `buyer`, once orders has issued its tickets. */
async function paidOrder(): Promise<string> {
  const orderId = await checkedOutOrder(buyer, 2);
  // Billing learns of the order's charge by event: paying waits for it.
  await waitFor(async () => {
    const { payOrder } = await gatewayCall<{ payOrder: { payment: { status: string } | null } }>(
      stack,
      'mutation($input: PayOrderInput!) { payOrder(input: $input) { payment { status } } }',
      {
        input: {
          orderId,
          provider: 'SANDBOX',
          paymentMethodToken: 'tok_visa',
          idempotencyKey: `pay-${orderId}`,
        },
      },
      buyer.headers,
    );
    return payOrder.payment?.status === 'SUCCEEDED';
  });
  await waitFor(async () => {
    const { order } = await gatewayCall<{ order: { tickets: unknown[] } | null }>(
      stack,
      'query($id: ID!) { order(id: $id) { tickets { id } } }',
      { id: orderId },
      buyer.headers,
    );
    return order?.tickets.length === 2;
  });
  return orderId;
}

beforeAll(async () => {
  stack = await startTestStack('in-process');
  origin = new URL(stack.url).origin;
  ({ organizationId, owner, eventId, ticketTypeId } = await publishedEvent(stack, `rest-res-${Date.now()}`, {
    event: { refundPolicy: { kind: 'FULL_UNTIL', daysBeforeStart: 7 } },
    ticketType: { capacity: 50 },
  }));
  buyer = await stack.signUp();
  openapi = (await (await fetch(`${origin}/api/v1/openapi.json`)).json()) as OpenApi;
}, 120_000);

afterAll(async () => {
  await stack?.dispose();
});

describe('REST facade: orders, tickets, check-in, members', () => {
  it('documents each new route with a summary, in a document that validates', async () => {
    const result = await new Validator().validate(openapi as unknown as Record<string, unknown>);
    expect(result.errors).toBeUndefined();
    for (const [path, method] of [
      ['/api/v1/orders', 'get'],
      ['/api/v1/orders/{id}/refund', 'post'],
      ['/api/v1/orders/{id}/tickets', 'get'],
      ['/api/v1/check-ins', 'post'],
      ['/api/v1/organizations/{id}/members', 'get'],
    ] as const) {
      expect(openapi.paths[path]?.[method]?.summary, `${method} ${path}`).toMatch(/\w+/);
    }
  });

  it("pages the caller's orders with limit and starting_after, never skipping or repeating; only their own", async () => {
    const customer = await stack.signUp();
    const created: string[] = [];
    for (let i = 0; i < 5; i++) created.push(await checkedOutOrder(customer));
    const seen: string[] = [];
    let query: string | undefined = '?limit=2';
    let pages = 0;
    while (query !== undefined) {
      const page = await rest('GET', '/orders', { query, headers: customer.headers });
      expect(page.status).toBe(200);
      seen.push(...page.body.data.map((order: { id: string }) => order.id));
      const next = /^<\/api\/v1\/orders(\?[^>]+)>; rel="next"$/.exec(page.headers.get('link') ?? '')?.[1];
      expect(Boolean(next)).toBe(page.body.hasMore);
      query = next;
      pages++;
      expect(pages, 'the pages end').toBeLessThanOrEqual(3);
    }
    expect(pages).toBe(3);
    // Newest first, each once.
    expect(seen).toEqual([...created].reverse());

    const someoneElse = await rest('GET', '/orders', { headers: (await stack.signUp()).headers });
    expect(someoneElse.body).toMatchObject({ data: [], hasMore: false });
    const anonymous = await rest('GET', '/orders');
    expect(anonymous).toMatchObject({ status: 401, body: { code: 'UNAUTHENTICATED' } });
    expect(await graphqlRefusal('{ myOrders { edges { cursor } } }', {}, {})).toBe('UNAUTHENTICATED');
  });

  it("lists a paid order's tickets for its buyer; another customer gets 404 as from order(id)", async () => {
    const orderId = await paidOrder();
    const tickets = await rest('GET', '/orders/{id}/tickets', {
      params: { id: orderId },
      headers: buyer.headers,
    });
    expect(tickets.status).toBe(200);
    expect(tickets.body.data).toHaveLength(2);
    expect(tickets.body.data[0]).toMatchObject({ status: 'VALID', ticketType: { id: ticketTypeId } });

    const stranger = await stack.signUp();
    const refused = await rest('GET', '/orders/{id}/tickets', {
      params: { id: orderId },
      headers: stranger.headers,
    });
    expect(refused).toMatchObject({ status: 404, body: { code: 'NOT_FOUND' } });
    const { body } = await graphql<{ order: unknown }, unknown>(
      stack.url,
      'query($id: ID!) { order(id: $id) { id } }',
      { id: orderId },
      stranger.headers,
    );
    expect(body.data?.order).toBeNull();
  });

  it('refunds at the buyer request as the policy allows (200, the same refund again); strangers and anonymous callers 404 as requestRefund answers them', async () => {
    const orderId = await paidOrder();
    const requestRefund =
      'mutation($id: ID!) { requestRefund(input: { orderId: $id }) { refund { id } errors { code } } }';
    const stranger = await stack.signUp();
    const strangers = await rest('POST', '/orders/{id}/refund', {
      params: { id: orderId },
      headers: stranger.headers,
    });
    expect(await graphqlRefusal(requestRefund, { id: orderId }, stranger.headers)).toBe('NOT_FOUND');
    expect(strangers).toMatchObject({ status: 404, body: { code: 'NOT_FOUND' } });
    // Guests may ask for refunds (with their order's token): anonymous is not refused as such, the order is not theirs.
    const anonymous = await rest('POST', '/orders/{id}/refund', { params: { id: orderId } });
    expect(await graphqlRefusal(requestRefund, { id: orderId }, {})).toBe('NOT_FOUND');
    expect(anonymous).toMatchObject({ status: 404, body: { code: 'NOT_FOUND' } });

    const refunded = await rest('POST', '/orders/{id}/refund', {
      params: { id: orderId },
      headers: buyer.headers,
    });
    expect(refunded.status).toBe(200);
    expect(refunded.body).toMatchObject({ amount: { amount: 2000, currency: 'EUR' } });
    const again = await rest('POST', '/orders/{id}/refund', {
      params: { id: orderId },
      headers: buyer.headers,
    });
    expect(again).toMatchObject({ status: 200, body: { id: refunded.body.id } });
  });

  it("checks a ticket in with a check-in staff's API key; a second scan is refused as checkInTicket refuses it", async () => {
    const orderId = await paidOrder();
    const { createApiKey } = await gatewayCall<{ createApiKey: { secret: string } }>(
      stack,
      'mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { secret } }',
      { input: { organizationId, name: 'door scanner', scopes: ['checkin'], mode: 'LIVE' } },
      owner.headers,
    );
    const scanner = { authorization: `Bearer ${createApiKey.secret}` };
    const tickets = await rest('GET', '/orders/{id}/tickets', {
      params: { id: orderId },
      headers: buyer.headers,
    });
    const [first, second] = tickets.body.data as Array<{ id: string; signedPayload: string }>;

    const checkedIn = await rest('POST', '/check-ins', {
      headers: scanner,
      body: { code: first!.signedPayload, gate: 'North entrance' },
    });
    expect(checkedIn).toMatchObject({
      status: 200,
      body: { id: first!.id, status: 'CHECKED_IN', checkedInGate: 'North entrance' },
    });
    const twice = await rest('POST', '/check-ins', {
      headers: scanner,
      body: { code: first!.signedPayload, gate: 'South' },
    });
    expect(twice).toMatchObject({
      status: 422,
      body: { code: 'BAD_USER_INPUT', errors: [{ code: 'ALREADY_CHECKED_IN' }] },
    });
    expect(twice.body.detail).toContain('North entrance');

    const checkIn =
      'mutation($input: CheckInTicketInput!) { checkInTicket(input: $input) { ticket { id } errors { code } } }';
    const byBuyer = await rest('POST', '/check-ins', {
      headers: buyer.headers,
      body: { code: second!.signedPayload },
    });
    expect(byBuyer).toMatchObject({ status: 403, body: { code: 'FORBIDDEN' } });
    expect(await graphqlRefusal(checkIn, { input: { code: second!.signedPayload } }, buyer.headers)).toBe(
      'FORBIDDEN',
    );
    const anonymous = await rest('POST', '/check-ins', { body: { code: second!.signedPayload } });
    expect(anonymous.status).toBe(401);
    const forged = await rest('POST', '/check-ins', { headers: scanner, body: { code: 'not-a-ticket' } });
    expect(forged).toMatchObject({ status: 422, body: { errors: [{ code: 'INVALID_INPUT' }] } });
    const noCode = await rest('POST', '/check-ins', { headers: scanner, body: { gate: 'North' } });
    expect(noCode).toMatchObject({ status: 400, body: { errors: [{ path: ['body'] }] } });
  });

  it("lists an organization's members for its team; a customer gets 403 and an anonymous caller 401 as from GraphQL", async () => {
    const members = await rest('GET', '/organizations/{id}/members', {
      params: { id: organizationId },
      headers: owner.headers,
    });
    expect(members.status).toBe(200);
    expect(members.body.data).toEqual([
      expect.objectContaining({ role: 'OWNER', user: expect.objectContaining({ email: owner.email }) }),
    ]);

    const listMembers = 'query($id: ID!) { organization(id: $id) { members { role } } }';
    const byCustomer = await rest('GET', '/organizations/{id}/members', {
      params: { id: organizationId },
      headers: buyer.headers,
    });
    expect(byCustomer).toMatchObject({ status: 403, body: { code: 'FORBIDDEN' } });
    expect(await graphqlRefusal(listMembers, { id: organizationId }, buyer.headers)).toBe('FORBIDDEN');
    const anonymous = await rest('GET', '/organizations/{id}/members', { params: { id: organizationId } });
    expect(anonymous.status).toBe(401);
    expect(await graphqlRefusal(listMembers, { id: organizationId }, {})).toBe('UNAUTHENTICATED');

    const unknown = await rest('GET', '/organizations/{id}/members', {
      params: { id: '00000000-0000-0000-0000-000000000000' },
      headers: owner.headers,
    });
    expect(unknown).toMatchObject({ status: 404, body: { code: 'NOT_FOUND' } });
  });
});
