import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type SignedInUser, waitFor } from '@bilten/testkit';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventInput, startTestStack, type TestStack } from './support.ts';

/*
 * Issue 16's acceptance: a third party with only the REST reference creates a test key, lists
 * events, reserves, checks out and pays in test mode, receives a signed `order.paid` webhook and
 * checks a ticket in — all over /api/v1. Live never sees any of it.
 */

let stack: TestStack;
let origin: string;
let organizationId: string;
let owner: SignedInUser;
const received: Array<{ headers: IncomingHttpHeaders; body: string }> = [];
let receiver: Server;
let receiverUrl: string;

async function rest(
  method: 'GET' | 'POST',
  path: string,
  options: { headers?: Record<string, string>; body?: unknown } = {},
) {
  const response = await fetch(`${origin}/api/v1${path}`, {
    method,
    headers: {
      ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
      ...options.headers,
    },
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    // biome-ignore lint/suspicious/noExplicitAny: answers are checked field by field below
    body: (text ? JSON.parse(text) : undefined) as any,
  };
}

beforeAll(async () => {
  receiver = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk) => {
      body += chunk;
    });
    request.on('end', () => {
      received.push({ headers: request.headers, body });
      response.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/bilten`;
  stack = await startTestStack('in-process', {
    env: { WEBHOOK_ALLOW_HTTP: 'true', WEBHOOK_ALLOWED_HOSTS: '127.0.0.1', WEBHOOK_POLL_MS: '50' },
  });
  origin = new URL(stack.url).origin;
  ({ organizationId, owner } = await stack.organizationOwner(`acceptance-${Date.now()}`));
}, 120_000);

afterAll(async () => {
  await stack?.dispose();
  await new Promise((resolve) => receiver?.close(resolve));
});

describe('a third party integrates over REST in test mode', () => {
  it('creates a test key, sells and checks in a ticket, and receives signed webhooks; live sees none of it', async () => {
    // The reference it starts from.
    const docs = await fetch(`${origin}/api/docs`);
    expect(docs.status).toBe(200);

    // The organizer makes a test key (and a live one, to show what live sees).
    const scopes = ['events:read', 'events:write', 'orders:read', 'orders:write', 'checkin'];
    const testKey = await rest('POST', `/organizations/${organizationId}/api-keys`, {
      headers: owner.headers,
      body: { name: 'integration', scopes, mode: 'TEST' },
    });
    expect(testKey.status).toBe(201);
    expect(testKey.body.secret).toMatch(/^bk_test_/);
    const liveKey = await rest('POST', `/organizations/${organizationId}/api-keys`, {
      headers: owner.headers,
      body: { name: 'production', scopes, mode: 'LIVE' },
    });
    const asTest = { authorization: `Bearer ${testKey.body.secret}` };
    const asLive = { authorization: `Bearer ${liveKey.body.secret}` };
    const sandbox = await rest('POST', `/organizations/${organizationId}/sandbox`, {
      headers: owner.headers,
    });
    expect(sandbox.status).toBeLessThan(300);
    const sandboxId: string = sandbox.body.id;
    expect(sandboxId).not.toBe(organizationId);

    // With the test key: an event on sale in the sandbox, and an endpoint for its webhooks.
    const event = await rest('POST', '/events', {
      headers: asTest,
      body: eventInput(sandboxId, 'Integration Night'),
    });
    expect(event.status).toBe(201);
    const ticketType = await rest('POST', `/events/${event.body.id}/ticket-types`, {
      headers: asTest,
      body: { name: 'Regular', price: { amount: 2500, currency: 'EUR' }, capacity: 5 },
    });
    expect(ticketType.status).toBe(201);
    expect((await rest('POST', `/events/${event.body.id}/publish`, { headers: asTest })).status).toBe(200);
    const endpoint = await rest('POST', `/organizations/${sandboxId}/webhook-endpoints`, {
      headers: asTest,
      body: { url: receiverUrl, eventTypes: ['order.paid', 'ticket.checked_in'] },
    });
    expect(endpoint.status).toBe(201);
    const signing = new Webhook(endpoint.body.secret);

    // The key lists the sandbox's events; the live key does not see them.
    const listed = await waitFor(async () => {
      const page = await rest('GET', `/events?organizationId=${sandboxId}`, { headers: asTest });
      return page.body.data?.some((item: { id: string }) => item.id === event.body.id) ? page : undefined;
    });
    expect(listed.status).toBe(200);
    expect((await rest('GET', `/events/${event.body.id}`, { headers: asLive })).status).toBe(404);

    // The integrator's storefront: a guest reserves, checks out and pays with the Sandbox provider.
    const held = await waitFor(async () => {
      const answer = await rest('POST', '/reservations', {
        body: { eventId: event.body.id, items: [{ ticketTypeId: ticketType.body.id, quantity: 1 }] },
      });
      return answer.status === 201 ? answer : undefined;
    });
    const { guestToken } = held.body;
    const order = await rest('POST', `/reservations/${held.body.id}/checkout`, {
      body: { guestToken, buyer: { name: 'Ada Guest', email: 'ada.guest@example.com' } },
    });
    expect(order.status).toBe(201);
    const paid = await waitFor(async () => {
      const answer = await rest('POST', `/orders/${order.body.id}/payments`, {
        body: {
          guestToken,
          provider: 'SANDBOX',
          paymentMethodToken: 'tok_visa',
          idempotencyKey: `pay-${order.body.id}`,
        },
      });
      return answer.status === 201 && answer.body.status === 'SUCCEEDED' ? answer : undefined;
    });
    expect(paid.body.amount).toEqual({ amount: 2500, currency: 'EUR' });
    // The guest reads its hold and order back with the token in a header, never in the URL.
    const asGuest = { 'bilten-guest-token': guestToken };
    expect((await rest('GET', `/reservations/${held.body.id}`, { headers: asGuest })).status).toBe(200);
    // Orders marks it paid when billing's payment.succeeded arrives.
    const ownOrder = await waitFor(async () => {
      const answer = await rest('GET', `/orders/${order.body.id}`, { headers: asGuest });
      return answer.body?.status === 'PAID' ? answer : undefined;
    });
    expect(ownOrder).toMatchObject({ status: 200, body: { id: order.body.id } });
    expect((await rest('GET', `/orders/${order.body.id}`)).status).toBe(404);
    const tampered = { 'bilten-guest-token': `${guestToken.slice(0, -2)}xx` };
    expect((await rest('GET', `/orders/${order.body.id}`, { headers: tampered })).status).toBe(404);
    expect((await rest('GET', `/orders/${order.body.id}?guestToken=${guestToken}`)).status).toBe(400);

    // A signed order.paid arrives and verifies with the endpoint's secret.
    const orderPaid = await waitFor(async () =>
      received.find((message) => JSON.parse(message.body).type === 'order.paid'),
    );
    const verified = signing.verify(orderPaid.body, {
      'webhook-id': String(orderPaid.headers['webhook-id']),
      'webhook-timestamp': String(orderPaid.headers['webhook-timestamp']),
      'webhook-signature': String(orderPaid.headers['webhook-signature']),
    }) as { data: { orderId: string } };
    expect(verified.data.orderId).toBe(order.body.id);

    // The door: the test key reads the order's ticket and checks it in.
    const tickets = await waitFor(async () => {
      const answer = await rest('GET', `/orders/${order.body.id}/tickets`, { headers: asTest });
      return answer.status === 200 && answer.body.data?.length ? answer : undefined;
    });
    const ticketId: string = tickets.body.data[0].id;
    const checkIn = await rest('POST', `/tickets/${ticketId}/check-in`, {
      headers: asTest,
      body: { gate: 'A' },
    });
    expect(checkIn.status).toBe(200);
    const checkedIn = await waitFor(async () =>
      received.find((message) => JSON.parse(message.body).type === 'ticket.checked_in'),
    );
    expect(JSON.parse(checkedIn.body).data.ticketId).toBe(ticketId);

    // The buyer's confirmation was captured for the integrator, not mailed.
    const captured = await waitFor(async () => {
      const page = await rest('GET', `/organizations/${sandboxId}/test-messages`, { headers: asTest });
      return page.body.data?.length ? page : undefined;
    });
    expect(captured.body.data.map((message: { recipient: string }) => message.recipient)).toContain(
      'ada.guest@example.com',
    );

    // Live sees none of it: not the order, not the sandbox's orders.
    expect((await rest('GET', `/orders/${order.body.id}`, { headers: asLive })).status).toBe(404);
    expect(
      (await rest('GET', `/events/${event.body.id}/orders`, { headers: asLive })).status,
    ).toBeGreaterThanOrEqual(403);
  });
});
