import { graphql, type SignedInUser, waitFor } from '@bilten/testkit';
import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  documentedCall,
  graphqlRefusal,
  type OpenApi,
  type RestCallOptions,
  type RestMethod,
} from './openapi-check.ts';
import { eventInput, gatewayCall, publishedEvent, startTestStack, type TestStack } from './support.ts';

/*
 * The REST facade's event changes, orders, tickets, check-in and members routes (issue 16): each
 * answers as the OpenAPI document says, and refuses whom its GraphQL twin refuses.
 */

let stack: TestStack;
let origin: string;
let openapi: OpenApi;
let organizationId: string;
let owner: SignedInUser;
let eventId: string;
let ticketTypeId: string;
let buyer: SignedInUser;

/** Calls a route and checks the answer against its documentation: status, content type, body. */
const rest = (method: RestMethod, route: string, options?: RestCallOptions) =>
  documentedCall(origin, openapi, method, route, options);

/** The code the GraphQL twin refuses with. */
const twinRefusal = (query: string, variables: Record<string, unknown>, headers: Record<string, string>) =>
  graphqlRefusal(stack.url, query, variables, headers);

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
      ['/api/v1/events/{id}', 'patch'],
      ['/api/v1/events/{id}/cancel', 'post'],
      ['/api/v1/events/{id}/orders', 'get'],
      ['/api/v1/tickets/{id}/check-in', 'post'],
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
    expect(await twinRefusal('{ myOrders { edges { cursor } } }', {}, {})).toBe('UNAUTHENTICATED');
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
    expect(await twinRefusal(requestRefund, { id: orderId }, stranger.headers)).toBe('NOT_FOUND');
    expect(strangers).toMatchObject({ status: 404, body: { code: 'NOT_FOUND' } });
    // Guests may ask for refunds (with their order's token): anonymous is not refused as such, the order is not theirs.
    const anonymous = await rest('POST', '/orders/{id}/refund', { params: { id: orderId } });
    expect(await twinRefusal(requestRefund, { id: orderId }, {})).toBe('NOT_FOUND');
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
    expect(await twinRefusal(checkIn, { input: { code: second!.signedPayload } }, buyer.headers)).toBe(
      'FORBIDDEN',
    );
    const anonymous = await rest('POST', '/check-ins', { body: { code: second!.signedPayload } });
    expect(anonymous.status).toBe(401);
    const forged = await rest('POST', '/check-ins', { headers: scanner, body: { code: 'not-a-ticket' } });
    expect(forged).toMatchObject({ status: 422, body: { errors: [{ code: 'INVALID_INPUT' }] } });
    // The code or (on /tickets/{id}/check-in) the ticket id: the rules ask for one of them.
    const noCode = await rest('POST', '/check-ins', { headers: scanner, body: { gate: 'North' } });
    expect(noCode).toMatchObject({ status: 422, body: { errors: [{ path: ['body', 'code'] }] } });
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
    expect(await twinRefusal(listMembers, { id: organizationId }, buyer.headers)).toBe('FORBIDDEN');
    const anonymous = await rest('GET', '/organizations/{id}/members', { params: { id: organizationId } });
    expect(anonymous.status).toBe(401);
    expect(await twinRefusal(listMembers, { id: organizationId }, {})).toBe('UNAUTHENTICATED');

    const unknown = await rest('GET', '/organizations/{id}/members', {
      params: { id: '00000000-0000-0000-0000-000000000000' },
      headers: owner.headers,
    });
    expect(unknown).toMatchObject({ status: 404, body: { code: 'NOT_FOUND' } });
  });
});

/** A checkin-scoped API key of `organization`, as a door scanner holds one. */
async function scannerKey(organization: string, by: SignedInUser): Promise<Record<string, string>> {
  const { createApiKey } = await gatewayCall<{ createApiKey: { secret: string } }>(
    stack,
    'mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { secret } }',
    { input: { organizationId: organization, name: 'door scanner', scopes: ['checkin'], mode: 'LIVE' } },
    by.headers,
  );
  return { authorization: `Bearer ${createApiKey.secret}` };
}

describe("REST facade: changing and cancelling events, an event's orders, check-in by ticket id", () => {
  it('lists events at the default and the largest page size within the query-cost limit (no descriptions in lists)', async () => {
    for (const query of ['', '?limit=100']) {
      const page = await rest('GET', '/events', { query });
      expect(page.status, `GET /events${query}`).toBe(200);
      expect(page.body.data.map((event: { id: string }) => event.id)).toContain(eventId);
      expect(page.body.data[0]).not.toHaveProperty('description');
    }
  });

  it('changes an event with PATCH (fields left out stay); a stale expectedVersion is 409 and a stranger is refused as by updateEvent', async () => {
    const created = await rest('POST', '/events', {
      headers: owner.headers,
      body: eventInput(organizationId, 'Patch Night'),
    });
    const id = created.body.id as string;
    const patched = await rest('PATCH', '/events/{id}', {
      params: { id },
      headers: owner.headers,
      body: { expectedVersion: created.body.version, title: 'Patched Night', description: 'With a band.' },
    });
    expect(patched).toMatchObject({
      status: 200,
      body: {
        id,
        title: 'Patched Night',
        description: 'With a band.',
        capacity: 100,
        onlineUrl: created.body.onlineUrl,
        version: created.body.version + 1,
      },
    });
    expect(patched.headers.get('location')).toBeNull();

    const stale = await rest('PATCH', '/events/{id}', {
      params: { id },
      headers: owner.headers,
      body: { expectedVersion: created.body.version, title: 'Lost update' },
    });
    expect(stale).toMatchObject({ status: 409, body: { code: 'CONFLICT' } });
    // The body cannot move the event: the path names it.
    const moved = await rest('PATCH', '/events/{id}', {
      params: { id },
      headers: owner.headers,
      body: { id: eventId, expectedVersion: patched.body.version, title: 'Still this one' },
    });
    expect(moved.body).toMatchObject({ id, title: 'Still this one' });
    const read = await rest('GET', '/events/{id}', { params: { id }, headers: owner.headers });
    expect(read.body).toMatchObject({ title: 'Still this one', version: patched.body.version + 1 });

    const noVersion = await rest('PATCH', '/events/{id}', {
      params: { id },
      headers: owner.headers,
      body: { title: 'No version' },
    });
    expect(noVersion).toMatchObject({ status: 400, body: { errors: [{ path: ['body'] }] } });
    expect(noVersion.body.errors[0].message).toContain('expectedVersion');
    const badId = await rest('PATCH', '/events/{id}', {
      params: { id: 'not-an-id' },
      headers: owner.headers,
      body: { expectedVersion: 1, title: 'Nowhere' },
    });
    expect(badId).toMatchObject({ status: 422, body: { errors: [{ path: ['path', 'id'] }] } });

    const updateEvent =
      'mutation($input: UpdateEventInput!) { updateEvent(input: $input) { event { id } errors { code } } }';
    const byStranger = await rest('PATCH', '/events/{id}', {
      params: { id },
      headers: buyer.headers,
      body: { expectedVersion: read.body.version, title: 'Taken over' },
    });
    const refusal = await twinRefusal(
      updateEvent,
      { input: { id, expectedVersion: read.body.version, title: 'Taken over' } },
      buyer.headers,
    );
    expect(['FORBIDDEN', 'NOT_FOUND']).toContain(refusal);
    expect(byStranger).toMatchObject({
      status: refusal === 'FORBIDDEN' ? 403 : 404,
      body: { code: refusal },
    });
    const anonymous = await rest('PATCH', '/events/{id}', {
      params: { id },
      body: { expectedVersion: read.body.version, title: 'Taken over' },
    });
    expect(anonymous.status).toBe(401);
  });

  it('cancels an event with or without a body; cancelling again answers the same; a stranger is refused as by cancelEvent', async () => {
    const created = await rest('POST', '/events', {
      headers: owner.headers,
      body: eventInput(organizationId, 'Cancel Night'),
    });
    const id = created.body.id as string;
    const cancelEvent =
      'mutation($input: CancelEventInput!) { cancelEvent(input: $input) { event { id } errors { code } } }';
    const byStranger = await rest('POST', '/events/{id}/cancel', { params: { id }, headers: buyer.headers });
    const refusal = await twinRefusal(cancelEvent, { input: { id } }, buyer.headers);
    expect(['FORBIDDEN', 'NOT_FOUND']).toContain(refusal);
    expect(byStranger).toMatchObject({
      status: refusal === 'FORBIDDEN' ? 403 : 404,
      body: { code: refusal },
    });

    const cancelled = await rest('POST', '/events/{id}/cancel', { params: { id }, headers: owner.headers });
    expect(cancelled).toMatchObject({ status: 200, body: { id, status: 'CANCELLED' } });
    const again = await rest('POST', '/events/{id}/cancel', {
      params: { id },
      headers: owner.headers,
      body: { reason: 'The band fell ill.' },
    });
    expect(again).toMatchObject({
      status: 200,
      body: { id, status: 'CANCELLED', version: cancelled.body.version },
    });
    const unknown = await rest('POST', '/events/{id}/cancel', {
      params: { id: '00000000-0000-7000-8000-000000000000' },
      headers: owner.headers,
    });
    expect(unknown).toMatchObject({ status: 404, body: { code: 'NOT_FOUND' } });
    const notJson = await fetch(`${origin}/api/v1/events/${id}/cancel`, {
      method: 'POST',
      headers: { ...owner.headers, 'content-type': 'text/plain' },
      body: 'please',
    });
    expect(notJson.status).toBe(400);
  });

  it("pages an event's orders for its organization, filtered; a customer gets 404 as event.orders is null for them", async () => {
    const customer = await stack.signUp();
    const created: string[] = [];
    for (let i = 0; i < 3; i++) created.push(await checkedOutOrder(customer));
    const seen: string[] = [];
    let query: string | undefined = `?limit=2&email=${encodeURIComponent(customer.email.toUpperCase())}`;
    let pages = 0;
    while (query !== undefined) {
      const page = await rest('GET', '/events/{id}/orders', {
        params: { id: eventId },
        query,
        headers: owner.headers,
      });
      expect(page.status).toBe(200);
      seen.push(...page.body.data.map((order: { id: string }) => order.id));
      const next = /^<\/api\/v1\/events\/{id}\/orders(\?[^>]+)>; rel="next"$/.exec(
        page.headers.get('link') ?? '',
      )?.[1];
      expect(Boolean(next)).toBe(page.body.hasMore);
      query = next;
      expect(++pages, 'the pages end').toBeLessThanOrEqual(2);
    }
    expect(seen).toEqual([...created].reverse());
    const paid = await rest('GET', '/events/{id}/orders', {
      params: { id: eventId },
      query: `?status=PAID&email=${encodeURIComponent(customer.email)}`,
      headers: owner.headers,
    });
    expect(paid.body).toMatchObject({ data: [], hasMore: false });

    const byCustomer = await rest('GET', '/events/{id}/orders', {
      params: { id: eventId },
      headers: customer.headers,
    });
    expect(byCustomer).toMatchObject({ status: 404, body: { code: 'NOT_FOUND' } });
    const { body } = await graphql<{ event: { orders: unknown } | null }, unknown>(
      stack.url,
      'query($id: ID!) { event(id: $id) { orders { edges { cursor } } } }',
      { id: eventId },
      customer.headers,
    );
    expect(body.data?.event?.orders).toBeNull();
    const badStatus = await rest('GET', '/events/{id}/orders', {
      params: { id: eventId },
      query: '?status=SOMETIMES',
      headers: owner.headers,
    });
    expect(badStatus).toMatchObject({ status: 400, body: { errors: [{ path: ['query', 'status'] }] } });
  });

  it("checks a ticket in by its id with a checkin key; again, another organization's key, another ticket's code and a malformed id are refused", async () => {
    const orderId = await paidOrder();
    const scanner = await scannerKey(organizationId, owner);
    const tickets = await rest('GET', '/orders/{id}/tickets', {
      params: { id: orderId },
      headers: buyer.headers,
    });
    const [first, second] = tickets.body.data as Array<{ id: string; signedPayload: string }>;

    const checkedIn = await rest('POST', '/tickets/{id}/check-in', {
      params: { id: first!.id },
      headers: scanner,
      body: { gate: 'East' },
    });
    expect(checkedIn).toMatchObject({
      status: 200,
      body: { id: first!.id, status: 'CHECKED_IN', checkedInGate: 'East' },
    });
    const twice = await rest('POST', '/tickets/{id}/check-in', {
      params: { id: first!.id },
      headers: scanner,
    });
    expect(twice).toMatchObject({ status: 422, body: { errors: [{ code: 'ALREADY_CHECKED_IN' }] } });
    expect(twice.body.detail).toContain('East');

    const other = await stack.organizationOwner(`rest-res-other-${Date.now()}`);
    const othersScanner = await scannerKey(other.organizationId, other.owner);
    const byOthers = await rest('POST', '/tickets/{id}/check-in', {
      params: { id: second!.id },
      headers: othersScanner,
    });
    expect(byOthers).toMatchObject({ status: 404, body: { code: 'NOT_FOUND' } });
    const checkInById =
      'mutation($input: CheckInTicketInput!) { checkInTicket(input: $input) { ticket { id } errors { code } } }';
    expect(await twinRefusal(checkInById, { input: { ticketId: second!.id } }, othersScanner)).toBe(
      'NOT_FOUND',
    );
    const byBuyer = await rest('POST', '/tickets/{id}/check-in', {
      params: { id: second!.id },
      headers: buyer.headers,
    });
    expect(byBuyer).toMatchObject({ status: 403, body: { code: 'FORBIDDEN' } });
    const anonymous = await rest('POST', '/tickets/{id}/check-in', { params: { id: second!.id } });
    expect(anonymous.status).toBe(401);
    const malformed = await rest('POST', '/tickets/{id}/check-in', {
      params: { id: 'ticket-1' },
      headers: scanner,
    });
    expect(malformed).toMatchObject({ status: 422, body: { errors: [{ path: ['path', 'id'] }] } });
    const wrongCode = await rest('POST', '/tickets/{id}/check-in', {
      params: { id: second!.id },
      headers: scanner,
      body: { code: first!.signedPayload },
    });
    expect(wrongCode).toMatchObject({ status: 422, body: { errors: [{ code: 'INVALID_INPUT' }] } });

    const withItsCode = await rest('POST', '/tickets/{id}/check-in', {
      params: { id: second!.id },
      headers: scanner,
      body: { code: second!.signedPayload },
    });
    expect(withItsCode).toMatchObject({ status: 200, body: { id: second!.id, status: 'CHECKED_IN' } });
  });
});
