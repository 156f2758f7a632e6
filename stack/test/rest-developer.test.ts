import { createHmac } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type SignedInUser, waitFor } from '@bilten/testkit';
import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  documentedCall,
  graphqlRefusal,
  type OpenApi,
  type RestCallOptions,
  type RestMethod,
} from './openapi-check.ts';
import { eventInput, gatewayCall, startTestStack, type TestStack } from './support.ts';

/*
 * The REST facade's developer-platform routes (issue 16): API keys, the sandbox and its captured
 * messages, webhook endpoints and their deliveries. Each answers as the OpenAPI document says and
 * refuses whom its GraphQL twin refuses.
 */

let stack: TestStack;
let origin: string;
let openapi: OpenApi;
let organizationId: string;
let owner: SignedInUser;
let receiver: {
  url: string;
  received: Array<{ headers: IncomingHttpHeaders; body: string }>;
  server: Server;
};

/** Calls a route and checks the answer against its documentation: status, content type, body. */
const rest = (method: RestMethod, route: string, options?: RestCallOptions) =>
  documentedCall(origin, openapi, method, route, options);

/** The code the GraphQL twin refuses with. */
const twinRefusal = (query: string, variables: Record<string, unknown>, headers: Record<string, string>) =>
  graphqlRefusal(stack.url, query, variables, headers);

/** An API key of the organization made over GraphQL by its owner. */
async function apiKey(scopes: string[], mode: 'LIVE' | 'TEST' = 'LIVE'): Promise<Record<string, string>> {
  const { createApiKey } = await gatewayCall<{ createApiKey: { secret: string } }>(
    stack,
    'mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { secret } }',
    { input: { organizationId, name: `key ${scopes.join(' ')}`, scopes, mode } },
    owner.headers,
  );
  return { authorization: `Bearer ${createApiKey.secret}` };
}

/** Standard Webhooks: v1 is base64 HMAC-SHA256, keyed with the secret's bytes, of `id.timestamp.body`. */
function signatureOf(secret: string, headers: IncomingHttpHeaders, body: string): string {
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  const signed = `${headers['webhook-id']}.${headers['webhook-timestamp']}.${body}`;
  return `v1,${createHmac('sha256', key).update(signed).digest('base64')}`;
}

beforeAll(async () => {
  const received: Array<{ headers: IncomingHttpHeaders; body: string }> = [];
  const server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk) => {
      body += chunk;
    });
    request.on('end', () => {
      received.push({ headers: request.headers, body });
      response.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  receiver = { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`, received, server };
  stack = await startTestStack('in-process', {
    env: {
      WEBHOOK_ALLOW_HTTP: 'true',
      WEBHOOK_ALLOWED_HOSTS: '127.0.0.1',
      WEBHOOK_RETRY_SCALE: '0.001',
      WEBHOOK_POLL_MS: '50',
    },
  });
  origin = new URL(stack.url).origin;
  ({ organizationId, owner } = await stack.organizationOwner(`rest-dev-${Date.now()}`));
  openapi = (await (await fetch(`${origin}/api/v1/openapi.json`)).json()) as OpenApi;
}, 120_000);

afterAll(async () => {
  await stack?.dispose();
  await new Promise((resolve) => receiver?.server.close(resolve));
});

describe('REST facade: API keys, sandbox, test messages, webhooks', () => {
  it('documents each route with a summary, in a document that validates', async () => {
    const result = await new Validator().validate(openapi as unknown as Record<string, unknown>);
    expect(result.errors).toBeUndefined();
    for (const [path, method] of [
      ['/api/v1/organizations/{id}/api-keys', 'get'],
      ['/api/v1/organizations/{id}/api-keys', 'post'],
      ['/api/v1/api-keys/{id}/revoke', 'post'],
      ['/api/v1/organizations/{id}/sandbox', 'post'],
      ['/api/v1/organizations/{id}/test-messages', 'get'],
      ['/api/v1/organizations/{id}/webhook-endpoints', 'get'],
      ['/api/v1/organizations/{id}/webhook-endpoints', 'post'],
      ['/api/v1/webhook-endpoints/{id}', 'get'],
      ['/api/v1/webhook-endpoints/{id}', 'patch'],
      ['/api/v1/webhook-endpoints/{id}', 'delete'],
      ['/api/v1/webhook-endpoints/{id}/rotate-secret', 'post'],
      ['/api/v1/webhook-endpoints/{id}/deliveries', 'get'],
      ['/api/v1/webhook-deliveries/{id}/replay', 'post'],
      ['/api/v1/webhook-event-types', 'get'],
      ['/api/v1/reservations/{id}/checkout', 'post'],
      ['/api/v1/orders/{id}/payments', 'post'],
      ['/api/v1/payments/{id}', 'get'],
    ] as const) {
      expect(openapi.paths[path]?.[method]?.summary, `${method} ${path}`).toMatch(/\w+/);
    }
    // The secret is answered beside the key, documented as such.
    const created = openapi.paths['/api/v1/organizations/{id}/api-keys']!.post!.responses['201']!;
    expect(created.content!['application/json']!.schema).toMatchObject({
      properties: { secret: { type: 'string' } },
      required: expect.arrayContaining(['secret']),
    });
    // A guest hold's token only where there is one.
    const held = openapi.paths['/api/v1/reservations']!.post!.responses['201']!;
    const heldSchema = held.content!['application/json']!.schema as {
      properties: object;
      required: string[];
    };
    expect(heldSchema.properties).toHaveProperty('guestToken');
    expect(heldSchema.required).not.toContain('guestToken');
  });

  it('creates an API key for a signed-in admin (201, the secret once, Location lists it); keys and customers cannot', async () => {
    const created = await rest('POST', '/organizations/{id}/api-keys', {
      params: { id: organizationId },
      headers: owner.headers,
      body: { name: 'box office', scopes: ['events:read', 'orders:read'], mode: 'LIVE' },
    });
    expect(created).toMatchObject({ status: 201, body: { name: 'box office', mode: 'LIVE' } });
    expect(created.body.secret).toMatch(/^bk_live_/);
    expect(created.body.secret.startsWith(created.body.prefix)).toBe(true);
    expect(created.headers.get('location')).toBe(`/api/v1/organizations/${organizationId}/api-keys`);
    const listed = await rest('GET', '/organizations/{id}/api-keys', {
      params: { id: organizationId },
      headers: owner.headers,
    });
    expect(listed.body.data.map((key: { id: string }) => key.id)).toContain(created.body.id);
    expect(JSON.stringify(listed.body)).not.toContain(created.body.secret);

    const createApiKey =
      'mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { apiKey { id } errors { code } } }';
    const input = { name: 'more', scopes: ['events:read'], mode: 'LIVE' };
    const keyHeaders = { authorization: `Bearer ${created.body.secret}` };
    const byKey = await rest('POST', '/organizations/{id}/api-keys', {
      params: { id: organizationId },
      headers: keyHeaders,
      body: input,
    });
    const keyRefusal = await twinRefusal(createApiKey, { input: { ...input, organizationId } }, keyHeaders);
    expect(['FORBIDDEN', 'UNAUTHENTICATED']).toContain(keyRefusal);
    expect(byKey.body.code).toBe(keyRefusal);
    const customer = await stack.signUp();
    const byCustomer = await rest('POST', '/organizations/{id}/api-keys', {
      params: { id: organizationId },
      headers: customer.headers,
      body: input,
    });
    expect(byCustomer.body.code).toBe(
      await twinRefusal(createApiKey, { input: { ...input, organizationId } }, customer.headers),
    );
    expect([403, 404]).toContain(byCustomer.status);
    const badScope = await rest('POST', '/organizations/{id}/api-keys', {
      params: { id: organizationId },
      headers: owner.headers,
      body: { ...input, scopes: ['everything'] },
    });
    expect(badScope.status).toBe(422);
    expect(badScope.body.errors[0].path[0]).toBe('body');
  });

  it('revokes an API key (200, kept with revokedAt; again the same); the key stops working; customers and keys cannot', async () => {
    const created = await rest('POST', '/organizations/{id}/api-keys', {
      params: { id: organizationId },
      headers: owner.headers,
      body: { name: 'to revoke', scopes: ['events:read'], mode: 'LIVE' },
    });
    const keyHeaders = { authorization: `Bearer ${created.body.secret}` };
    expect(
      (
        await rest('GET', '/organizations/{id}/api-keys', {
          params: { id: organizationId },
          headers: keyHeaders,
        })
      ).status,
    ).not.toBe(401);
    const customer = await stack.signUp();
    for (const headers of [customer.headers, keyHeaders]) {
      const refused = await rest('POST', '/api-keys/{id}/revoke', {
        params: { id: created.body.id },
        headers,
      });
      expect([403, 404]).toContain(refused.status);
    }
    const revoked = await rest('POST', '/api-keys/{id}/revoke', {
      params: { id: created.body.id },
      headers: owner.headers,
    });
    expect(revoked).toMatchObject({ status: 200, body: { id: created.body.id } });
    expect(revoked.body.revokedAt).toEqual(expect.any(String));
    const again = await rest('POST', '/api-keys/{id}/revoke', {
      params: { id: created.body.id },
      headers: owner.headers,
    });
    expect(again.body.revokedAt).toBe(revoked.body.revokedAt);
    // The gateway asks identity again within a second: then the key is refused.
    await waitFor(async () => {
      const response = await fetch(`${origin}/api/v1/organizations/${organizationId}/api-keys`, {
        headers: keyHeaders,
      });
      return response.status === 401;
    });
    const malformed = await rest('POST', '/api-keys/{id}/revoke', {
      params: { id: 'not-a-uuid' },
      headers: owner.headers,
    });
    expect([400, 404, 422]).toContain(malformed.status);
  });

  it('opens the sandbox (the same one again) and a bk_test_ key reads its captured messages; live has none to read', async () => {
    const opened = await rest('POST', '/organizations/{id}/sandbox', {
      params: { id: organizationId },
      headers: owner.headers,
    });
    expect(opened).toMatchObject({ status: 200, body: { testMode: true } });
    const again = await rest('POST', '/organizations/{id}/sandbox', {
      params: { id: organizationId },
      headers: owner.headers,
    });
    expect(again.body.id).toBe(opened.body.id);

    const testKey = await rest('POST', '/organizations/{id}/api-keys', {
      params: { id: organizationId },
      headers: owner.headers,
      body: { name: 'integration tests', scopes: ['events:read', 'orders:write'], mode: 'TEST' },
    });
    expect(testKey.body.secret).toMatch(/^bk_test_/);
    const messages = await rest('GET', '/organizations/{id}/test-messages', {
      params: { id: opened.body.id },
      headers: { authorization: `Bearer ${testKey.body.secret}` },
    });
    expect(messages).toMatchObject({ status: 200, body: { data: expect.any(Array), hasMore: false } });

    const live = await rest('GET', '/organizations/{id}/test-messages', {
      params: { id: organizationId },
      headers: owner.headers,
    });
    const refusal = await twinRefusal(
      'query($id: ID!) { testMessages(organizationId: $id) { edges { cursor } } }',
      { id: organizationId },
      owner.headers,
    );
    expect(live).toMatchObject({ status: 403, body: { code: refusal } });
  });

  it('lets a guest reserve, check out and pay over REST with the guest token answered once; others cannot', async () => {
    const event = await rest('POST', '/events', {
      headers: owner.headers,
      body: eventInput(organizationId, 'Guest Night'),
    });
    const ticketType = await rest('POST', '/events/{id}/ticket-types', {
      params: { id: event.body.id },
      headers: owner.headers,
      body: { name: 'Regular', price: { amount: 1500, currency: 'EUR' }, capacity: 10 },
    });
    await rest('POST', '/events/{id}/publish', { params: { id: event.body.id }, headers: owner.headers });
    // Orders learns of the published offer by event.
    const held = await waitFor(async () => {
      const answer = await rest('POST', '/reservations', {
        body: { eventId: event.body.id, items: [{ ticketTypeId: ticketType.body.id, quantity: 2 }] },
      });
      return answer.status === 201 ? answer : undefined;
    });
    const { guestToken } = held.body;
    expect(guestToken).toEqual(expect.any(String));
    expect(held.headers.get('location')).toBe(`/api/v1/reservations/${held.body.id}`);

    const buyer = { name: 'Guest Buyer', email: 'guest.buyer@example.com' };
    const withoutToken = await rest('POST', '/reservations/{id}/checkout', {
      params: { id: held.body.id },
      body: { buyer },
    });
    expect(withoutToken).toMatchObject({ status: 404, body: { code: 'NOT_FOUND' } });
    const order = await rest('POST', '/reservations/{id}/checkout', {
      params: { id: held.body.id },
      body: { guestToken, buyer },
    });
    expect(order).toMatchObject({
      status: 201,
      body: { status: 'PENDING_PAYMENT', total: { amount: 3000, currency: 'EUR' } },
    });
    expect(order.headers.get('location')).toBe(`/api/v1/orders/${order.body.id}`);

    const payment = {
      provider: 'SANDBOX',
      paymentMethodToken: 'tok_visa',
      idempotencyKey: `pay-${order.body.id}`,
    };
    const stranger = await stack.signUp();
    // Billing learns of the order's charge by event: paying waits for it.
    const paid = await waitFor(async () => {
      const answer = await rest('POST', '/orders/{id}/payments', {
        params: { id: order.body.id },
        body: { ...payment, guestToken },
      });
      return answer.status === 201 && answer.body.status === 'SUCCEEDED' ? answer : undefined;
    });
    expect(paid.body).toMatchObject({
      amount: { amount: 3000, currency: 'EUR' },
      order: { id: order.body.id },
    });
    expect(paid.headers.get('location')).toBe(`/api/v1/payments/${paid.body.id}`);
    const byStranger = await rest('POST', '/orders/{id}/payments', {
      params: { id: order.body.id },
      headers: stranger.headers,
      body: { ...payment, idempotencyKey: `stranger-${order.body.id}` },
    });
    expect([403, 404]).toContain(byStranger.status);
    expect(
      await rest('GET', '/payments/{id}', { params: { id: paid.body.id }, headers: stranger.headers }),
    ).toMatchObject({ status: 404 });
  });

  it('lists the webhook event types', async () => {
    const types = await rest('GET', '/webhook-event-types');
    expect(types.body.data).toEqual(
      expect.arrayContaining(['order.paid', 'event.published', 'ticket.checked_in']),
    );
  });

  it('registers an endpoint (secret once), changes and rotates it, delivers signed, replays with the same webhook-id, deletes it', async () => {
    const key = await apiKey(['events:read', 'events:write']);
    const created = await rest('POST', '/organizations/{id}/webhook-endpoints', {
      params: { id: organizationId },
      headers: key,
      body: { url: receiver.url, eventTypes: ['event.published'], description: 'box office' },
    });
    expect(created).toMatchObject({ status: 201, body: { url: receiver.url, enabled: true } });
    expect(created.body.secret).toMatch(/^whsec_/);
    const id = created.body.id as string;
    expect(created.headers.get('location')).toBe(`/api/v1/webhook-endpoints/${id}`);
    const read = await rest('GET', '/webhook-endpoints/{id}', { params: { id }, headers: key });
    expect(read.body).not.toHaveProperty('secret');
    const listed = await rest('GET', '/organizations/{id}/webhook-endpoints', {
      params: { id: organizationId },
      headers: owner.headers,
    });
    expect(listed.body.data.map((endpoint: { id: string }) => endpoint.id)).toEqual([id]);

    const changed = await rest('PATCH', '/webhook-endpoints/{id}', {
      params: { id },
      headers: key,
      body: { description: 'box office, north' },
    });
    expect(changed.body).toMatchObject({ description: 'box office, north', url: receiver.url });
    const rotated = await rest('POST', '/webhook-endpoints/{id}/rotate-secret', {
      params: { id },
      headers: key,
    });
    expect(rotated.status).toBe(200);
    expect(rotated.body.secret).toMatch(/^whsec_/);
    expect(rotated.body.secret).not.toBe(created.body.secret);

    // A published event is delivered, signed with the new secret and the old one while its grace lasts.
    const event = await rest('POST', '/events', {
      headers: key,
      body: eventInput(organizationId, 'Webhook Night'),
    });
    await gatewayCall(
      stack,
      'mutation($input: AddTicketTypeInput!) { addTicketType(input: $input) { ticketType { id } } }',
      {
        input: {
          eventId: event.body.id,
          name: 'Regular',
          price: { amount: 1000, currency: 'EUR' },
          capacity: 10,
        },
      },
      owner.headers,
    );
    await rest('POST', '/events/{id}/publish', { params: { id: event.body.id }, headers: key });
    const first = await waitFor(async () => receiver.received[0], 20_000);
    const signatures = String(first.headers['webhook-signature']).split(' ');
    expect(signatures).toContain(signatureOf(rotated.body.secret, first.headers, first.body));
    expect(signatures).toContain(signatureOf(created.body.secret, first.headers, first.body));
    expect(JSON.parse(first.body)).toMatchObject({ type: 'event.published' });

    const deliveries = await waitFor(async () => {
      const page = await rest('GET', '/webhook-endpoints/{id}/deliveries', { params: { id }, headers: key });
      return page.body.data[0]?.status === 'DELIVERED' ? page : undefined;
    });
    const delivery = deliveries.body.data[0];
    expect(delivery.messageId).toBe(first.headers['webhook-id']);
    const replayed = await rest('POST', '/webhook-deliveries/{id}/replay', {
      params: { id: delivery.id },
      headers: key,
    });
    expect(replayed).toMatchObject({ status: 200, body: { messageId: delivery.messageId } });
    const second = await waitFor(async () => receiver.received[1], 20_000);
    expect(second.headers['webhook-id']).toBe(first.headers['webhook-id']);

    // Another organization's key sees nothing of it.
    const other = await stack.organizationOwner(`rest-dev-other-${Date.now()}`);
    const { createApiKey } = await gatewayCall<{ createApiKey: { secret: string } }>(
      stack,
      'mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { secret } }',
      { input: { organizationId: other.organizationId, name: 'x', scopes: ['events:write'], mode: 'LIVE' } },
      other.owner.headers,
    );
    const othersKey = { authorization: `Bearer ${createApiKey.secret}` };
    expect(
      await rest('GET', '/webhook-endpoints/{id}', { params: { id }, headers: othersKey }),
    ).toMatchObject({
      status: 404,
    });
    expect(
      await rest('DELETE', '/webhook-endpoints/{id}', { params: { id }, headers: othersKey }),
    ).toMatchObject({
      status: 404,
    });
    expect(
      await rest('POST', '/webhook-deliveries/{id}/replay', {
        params: { id: delivery.id },
        headers: othersKey,
      }),
    ).toMatchObject({ status: 404 });
    const anonymous = await rest('GET', '/webhook-endpoints/{id}', { params: { id } });
    expect(anonymous.status).toBe(401);

    const deleted = await rest('DELETE', '/webhook-endpoints/{id}', { params: { id }, headers: key });
    expect(deleted.status).toBe(204);
    expect(await rest('GET', '/webhook-endpoints/{id}', { params: { id }, headers: key })).toMatchObject({
      status: 404,
    });
    expect(await rest('DELETE', '/webhook-endpoints/{id}', { params: { id }, headers: key })).toMatchObject({
      status: 404,
    });
  });

  it('refuses a private address, a non-URL and an unknown event type with 422 naming the body field', async () => {
    const key = await apiKey(['events:write']);
    const privateTarget = await rest('POST', '/organizations/{id}/webhook-endpoints', {
      params: { id: organizationId },
      headers: key,
      body: { url: 'http://10.1.2.3/hooks', eventTypes: ['order.paid'] },
    });
    expect(privateTarget).toMatchObject({ status: 422, body: { errors: [{ path: ['body', 'url'] }] } });
    const notUrl = await rest('POST', '/organizations/{id}/webhook-endpoints', {
      params: { id: organizationId },
      headers: key,
      body: { url: 'not a url', eventTypes: ['order.paid'] },
    });
    expect(notUrl).toMatchObject({ status: 422, body: { errors: [{ path: ['body', 'url'] }] } });
    const unknownType = await rest('POST', '/organizations/{id}/webhook-endpoints', {
      params: { id: organizationId },
      headers: key,
      body: { url: receiver.url, eventTypes: ['order.eaten'] },
    });
    expect(unknownType.status).toBe(422);
    expect(unknownType.body.errors[0].path.slice(0, 2)).toEqual(['body', 'eventTypes']);
    const noUrl = await rest('POST', '/organizations/{id}/webhook-endpoints', {
      params: { id: organizationId },
      headers: key,
      body: { eventTypes: ['order.paid'] },
    });
    expect(noUrl.status).toBe(400);
  });
});
