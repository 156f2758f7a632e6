import { readFileSync } from 'node:fs';
import { startGateway } from '@bilten/gateway';
import { captureLogs, type SignedInUser, waitFor } from '@bilten/testkit';
import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SUPERGRAPH_SDL_PATH } from '../src/stack.ts';
import { type OpenApi, type Schema, schemaViolations } from './openapi-check.ts';
import { eventInput, gatewayCall, startTestStack, TEST_LIMITS, type TestStack } from './support.ts';

let stack: TestStack;
let origin: string;
let organizationId: string;
let owner: SignedInUser;
let organizerKey: Record<string, string>;
let customer: SignedInUser;
let openapi: OpenApi;

const violations = (value: unknown, schema: Schema, at?: string) =>
  schemaViolations(openapi, value, schema, at);

/** Calls the REST facade and checks the answer against the document: status documented, content type, body schema. */
async function rest(
  method: string,
  path: string,
  options: { headers?: Record<string, string>; body?: unknown; route?: string; origin?: string } = {},
) {
  const response = await fetch(`${options.origin ?? origin}${path}`, {
    method,
    headers: {
      ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
      ...options.headers,
    },
    body:
      options.body === undefined
        ? undefined
        : typeof options.body === 'string'
          ? options.body
          : JSON.stringify(options.body),
  });
  const text = await response.text();
  const body = text ? JSON.parse(text) : undefined;
  const route = options.route ?? path.split('?')[0]!;
  const documented = openapi.paths[route]?.[method.toLowerCase()];
  expect(documented, `${method} ${route} is documented`).toBeDefined();
  let answer = documented!.responses[String(response.status)];
  expect(answer, `${method} ${route} documents ${response.status}: ${text}`).toBeDefined();
  if (answer!.$ref) answer = openapi.components.responses[answer!.$ref.split('/').at(-1)!];
  const requestSchema = documented!.requestBody?.content['application/json']?.schema;
  if (requestSchema && typeof options.body === 'object') {
    // A body is malformed (400) exactly when the document says it does not fit.
    expect(violations(options.body, requestSchema), `${method} ${route}: body as documented`).toEqual(
      response.status === 400 ? expect.arrayContaining([expect.any(String)]) : [],
    );
  }
  if (response.status !== 304) {
    const [contentType, media] = Object.entries(answer!.content!)[0]!;
    expect(response.headers.get('content-type')).toContain(contentType);
    expect(violations(body, media.schema), `${method} ${path} → ${response.status}`).toEqual([]);
  }
  return { status: response.status, headers: response.headers, body };
}

beforeAll(async () => {
  stack = await startTestStack('in-process');
  origin = new URL(stack.url).origin;
  ({ organizationId, owner } = await stack.organizationOwner(`rest-${Date.now()}`));
  const { createApiKey } = await gatewayCall<{ createApiKey: { secret: string } }>(
    stack,
    'mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { secret } }',
    {
      input: {
        organizationId,
        name: 'box office',
        scopes: ['events:read', 'events:write', 'orders:read', 'orders:write'],
        mode: 'LIVE',
      },
    },
    owner.headers,
  );
  organizerKey = { authorization: `Bearer ${createApiKey.secret}` };
  customer = await stack.signUp();
  openapi = (await (await fetch(`${origin}/api/v1/openapi.json`)).json()) as OpenApi;
}, 120_000);

afterAll(async () => {
  await stack?.dispose();
});

describe('REST facade: /api/v1', () => {
  it('serves an OpenAPI 3.1 document that validates, with a summary and a success and error answer per route', async () => {
    const result = await new Validator().validate(openapi as unknown as Record<string, unknown>);
    expect(result.errors).toBeUndefined();
    expect(result.valid).toBe(true);
    const operations = Object.values(openapi.paths).flatMap((methods) => Object.values(methods));
    expect(operations).toHaveLength(35);
    for (const operation of operations) {
      expect(operation.summary).toMatch(/\w+/);
      expect(Object.keys(operation.responses)).toEqual(expect.arrayContaining(['400', '401', '429', '500']));
    }
    expect(openapi.paths['/api/v1/events']!.post!.summary).toBe(
      'Create an event (a draft, until published).',
    );
  });

  it('creates with an organizer API key: 201 and a Location that reads the resource back', async () => {
    const created = await rest('POST', '/api/v1/events', {
      headers: organizerKey,
      body: eventInput(organizationId, 'REST Night'),
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ title: 'REST Night', status: 'DRAFT' });
    expect(created.headers.get('location')).toBe(`/api/v1/events/${created.body.id}`);
    const read = await rest('GET', created.headers.get('location')!, {
      headers: organizerKey,
      route: '/api/v1/events/{id}',
    });
    expect(read.status).toBe(200);
    expect(read.body).toEqual(created.body);
  });

  it('answers a read with an ETag, and 304 to If-None-Match while it is unchanged', async () => {
    const created = await rest('POST', '/api/v1/events', {
      headers: organizerKey,
      body: eventInput(organizationId, 'REST Night'),
    });
    const path = `/api/v1/events/${created.body.id}`;
    const options = { headers: organizerKey, route: '/api/v1/events/{id}' };
    const first = await rest('GET', path, options);
    const etag = first.headers.get('etag')!;
    expect(etag).toMatch(/^"[\w-]+"$/);
    const again = await rest('GET', path, {
      ...options,
      headers: { ...organizerKey, 'if-none-match': etag },
    });
    expect(again.status).toBe(304);
    expect(again.body).toBeUndefined();

    await rest('POST', '/api/v1/events/{id}/ticket-types'.replace('{id}', created.body.id), {
      headers: organizerKey,
      route: '/api/v1/events/{id}/ticket-types',
      body: { name: 'Regular', price: { amount: 1500, currency: 'EUR' }, capacity: 10 },
    });
    const published = await rest('POST', `${path}/publish`, {
      headers: organizerKey,
      route: '/api/v1/events/{id}/publish',
    });
    expect(published).toMatchObject({ status: 200, body: { status: 'PUBLISHED' } });
    const changed = await rest('GET', path, {
      ...options,
      headers: { ...organizerKey, 'if-none-match': etag },
    });
    expect(changed.status).toBe(200);
    expect(changed.headers.get('etag')).not.toBe(etag);
  });

  it('pages with limit and starting_after through Link headers, never skipping or repeating', async () => {
    const { organizationId: pagedOrg, owner: pagedOwner } = await stack.organizationOwner(
      `rest-pages-${Date.now()}`,
    );
    const created: string[] = [];
    for (let i = 0; i < 7; i++) {
      const { body } = await rest('POST', '/api/v1/events', {
        headers: pagedOwner.headers,
        body: eventInput(pagedOrg, `Paged ${i}`),
      });
      created.push(body.id);
    }
    const seen: string[] = [];
    let next: string | undefined = `/api/v1/events?organizationId=${pagedOrg}&limit=3`;
    let pages = 0;
    while (next) {
      const page = await rest('GET', next, { headers: pagedOwner.headers, route: '/api/v1/events' });
      expect(page.status).toBe(200);
      expect(page.body.totalCount).toBe(7);
      seen.push(...page.body.data.map((event: { id: string }) => event.id));
      next = /^<([^>]+)>; rel="next"$/.exec(page.headers.get('link') ?? '')?.[1];
      expect(Boolean(next)).toBe(page.body.hasMore);
      pages++;
      expect(pages, 'the pages end').toBeLessThanOrEqual(3);
    }
    expect(pages).toBe(3);
    expect(seen).toHaveLength(7);
    expect(new Set(seen)).toEqual(new Set(created));
  });

  it('refuses a customer (403) and an anonymous caller (401) as problems', async () => {
    const body = eventInput(organizationId, 'REST Night');
    const forbidden = await rest('POST', '/api/v1/events', { headers: customer.headers, body });
    expect(forbidden.status).toBe(403);
    expect(forbidden.headers.get('content-type')).toContain('application/problem+json');
    expect(forbidden.body).toMatchObject({
      status: 403,
      code: 'FORBIDDEN',
      type: expect.stringMatching(/^https:/),
    });
    const anonymous = await rest('POST', '/api/v1/events', {
      body,
      headers: { 'x-request-id': 'rest-anonymous-1' },
    });
    expect(anonymous.status).toBe(401);
    expect(anonymous.body).toMatchObject({
      status: 401,
      code: 'UNAUTHENTICATED',
      instance: 'rest-anonymous-1',
    });
  });

  it('answers a malformed request with a 400 problem naming the fields, and a refused one with 422', async () => {
    const wrongTypes = await rest('POST', '/api/v1/events', {
      headers: organizerKey,
      body: eventInput(organizationId, 'REST Night', { title: 5, capacity: 'many', colour: 'red' }),
    });
    expect(wrongTypes.status).toBe(400);
    const paths = wrongTypes.body.errors.map((error: { path: string[] }) => error.path.join('.'));
    expect(paths).toEqual(expect.arrayContaining(['body.title', 'body.capacity', 'body']));
    expect(JSON.stringify(wrongTypes.body.errors)).toContain('colour');

    const notJson = await rest('POST', '/api/v1/events', { headers: organizerKey, body: '{"title": ' });
    expect(notJson).toMatchObject({ status: 400, body: { code: 'BAD_REQUEST' } });

    const unknownParameter = await rest('GET', '/api/v1/events?colour=red', { route: '/api/v1/events' });
    expect(unknownParameter).toMatchObject({
      status: 400,
      body: { errors: [{ path: ['query', 'colour'], code: 'UNKNOWN_PARAMETER' }] },
    });
    const noRoute = await fetch(`${origin}/api/v1/concerts`);
    expect(noRoute.status).toBe(404);
    expect(noRoute.headers.get('content-type')).toContain('application/problem+json');
    const badLimit = await rest('GET', '/api/v1/events?limit=lots', { route: '/api/v1/events' });
    expect(badLimit).toMatchObject({ status: 400, body: { errors: [{ path: ['query', 'limit'] }] } });

    const endsBeforeStart = await rest('POST', '/api/v1/events', {
      headers: organizerKey,
      body: eventInput(organizationId, 'REST Night', { endsAt: '2027-05-01T19:00:00Z' }),
    });
    expect(endsBeforeStart.status).toBe(422);
    expect(endsBeforeStart.body.errors[0].path[0]).toBe('body');
  });

  it('reserves tickets (201 + Location), and reads ticket types, the reservation and an order', async () => {
    const created = await rest('POST', '/api/v1/events', {
      headers: organizerKey,
      body: eventInput(organizationId, 'REST Night'),
    });
    const eventId = created.body.id as string;
    const ticketTypes = '/api/v1/events/{id}/ticket-types';
    const added = await rest('POST', ticketTypes.replace('{id}', eventId), {
      headers: organizerKey,
      route: ticketTypes,
      body: { name: 'Balcony', price: { amount: 2500, currency: 'EUR' }, capacity: 5 },
    });
    expect(added.status).toBe(201);
    expect(added.headers.get('location')).toBe(`/api/v1/events/${eventId}/ticket-types`);
    await rest('POST', `/api/v1/events/${eventId}/publish`, {
      headers: organizerKey,
      route: '/api/v1/events/{id}/publish',
    });
    const listed = await rest('GET', added.headers.get('location')!, { route: ticketTypes });
    expect(listed.body.data).toEqual([added.body]);

    // Orders learns of the ticket type by event: reserving waits for it.
    const reserved = await waitFor(async () => {
      const answer = await rest('POST', '/api/v1/reservations', {
        headers: customer.headers,
        body: { eventId, items: [{ ticketTypeId: added.body.id, quantity: 2 }] },
      });
      return answer.status === 201 && answer;
    });
    expect(reserved.body).toMatchObject({ status: 'HELD', total: { amount: 5000, currency: 'EUR' } });
    const reservation = await rest('GET', reserved.headers.get('location')!, {
      headers: customer.headers,
      route: '/api/v1/reservations/{id}',
    });
    expect(reservation.body).toEqual(reserved.body);

    const { checkout } = await gatewayCall<{ checkout: { order: { id: string } } }>(
      stack,
      'mutation($input: CheckoutInput!) { checkout(input: $input) { order { id } } }',
      { input: { reservationId: reserved.body.id, buyer: { name: 'Rest Buyer', email: customer.email } } },
      customer.headers,
    );
    const order = await rest('GET', `/api/v1/orders/${checkout.order.id}`, {
      headers: customer.headers,
      route: '/api/v1/orders/{id}',
    });
    expect(order.body).toMatchObject({ id: checkout.order.id, status: 'PENDING_PAYMENT' });
    const othersOrder = await rest('GET', `/api/v1/orders/${checkout.order.id}`, {
      headers: (await stack.signUp()).headers,
      route: '/api/v1/orders/{id}',
    });
    expect(othersOrder).toMatchObject({ status: 404, body: { code: 'NOT_FOUND' } });
  });

  it('runs under the GraphQL rate limits: RateLimit headers count down, then a 429 problem with Retry-After', async () => {
    const window = { capacity: 20, windowSeconds: 600 };
    const limited = await startGateway({
      supergraphSdl: readFileSync(SUPERGRAPH_SDL_PATH, 'utf8'),
      subgraphUrls: Object.fromEntries(
        Object.values(stack.subgraphs).map((service) => [service.name, service.url]),
      ),
      limits: TEST_LIMITS,
      blockFieldSuggestions: false,
      log: captureLogs('gateway').log,
      host: '127.0.0.1',
      port: 0,
      rateLimits: { policies: { apiKey: window, user: window, address: window } },
    });
    try {
      const limitedOrigin = new URL(limited.url).origin;
      const remaining: number[] = [];
      let refused: Awaited<ReturnType<typeof rest>> | undefined;
      while (!refused && remaining.length < window.capacity + 1) {
        const answer = await rest('GET', '/api/v1/events/00000000-0000-0000-0000-000000000000', {
          origin: limitedOrigin,
          route: '/api/v1/events/{id}',
        });
        if (answer.status === 429) refused = answer;
        else remaining.push(Number(/;r=(\d+)/.exec(answer.headers.get('ratelimit') ?? '')?.[1]));
      }
      expect(remaining.length).toBeGreaterThan(0);
      expect(remaining.every(Number.isInteger), `RateLimit remaining: ${remaining}`).toBe(true);
      expect(remaining).toEqual([...remaining].sort((a, b) => b - a));
      expect(refused).toBeDefined();
      expect(refused!.headers.get('content-type')).toContain('application/problem+json');
      expect(Number(refused!.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(refused!.body).toMatchObject({ status: 429, code: 'RATE_LIMITED' });
    } finally {
      await limited.stop();
    }
  });
});
