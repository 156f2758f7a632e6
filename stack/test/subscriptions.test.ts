/**
 * Issue 15's subscriptions: graphql-ws at the gateway, real client, real stack on JetStream. Each
 * message is the entity read again under the subscriber's own token through the supergraph.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { type RunningGateway, type SubgraphName, startGateway } from '@bilten/gateway';
import { identitySubgraph, openSigningKeys } from '@bilten/identity';
import { connectJetStreamBus, DEFAULT_AUTH, type EventBus, parseEnv } from '@bilten/platform';
import { captureLogs, TEST_NATS_URL, waitFor } from '@bilten/testkit';
import { drizzle } from 'drizzle-orm/postgres-js';
import { type Client, createClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { SUPERGRAPH_SDL_PATH } from '../src/stack.ts';
import { gatewayCall, publishedEvent, startTestStack, TEST_LIMITS, type TestStack } from './support.ts';

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack('jetstream');
});
afterAll(async () => {
  await stack?.dispose();
});

const clients: Client[] = [];
afterAll(async () => {
  for (const client of clients) await client.dispose();
});

/** A graphql-ws client of the gateway; `closed` resolves with the close code the server sent. */
function wsClient(authorization?: string, gatewayUrl = stack.url) {
  let onClosed: (code: number) => void = () => {};
  const closed = new Promise<number>((resolve) => {
    onClosed = resolve;
  });
  const client = createClient({
    url: gatewayUrl.replace(/^http/, 'ws'),
    webSocketImpl: WebSocket,
    connectionParams: authorization ? { authorization } : {},
    retryAttempts: 0,
    lazy: false,
    // A close the server chose is what `closed` reports; the client would print it otherwise.
    onNonLazyError: () => {},
    on: { closed: (event) => onClosed((event as { code: number }).code) },
  });
  clients.push(client);
  return { client, closed };
}

interface Feed<T> {
  /** Resolves with the next message's data (or rejects with the subscription's errors). */
  next(): Promise<T>;
  messages: T[];
  failed: Promise<unknown>;
}

function subscribe<T>(client: Client, query: string, variables: Record<string, unknown>): Feed<T> {
  const messages: T[] = [];
  const waiters: Array<() => void> = [];
  let fail: (errors: unknown) => void = () => {};
  const failed = new Promise<unknown>((resolve) => {
    fail = resolve;
  });
  client.subscribe<T>(
    { query, variables },
    {
      next: (result) => {
        if (result.errors) fail(result.errors);
        messages.push(result.data as T);
        waiters.shift()?.();
      },
      error: (errors) => fail(errors),
      complete: () => {},
    },
  );
  let read = 0;
  return {
    messages,
    failed,
    async next() {
      if (messages.length <= read)
        await Promise.race([
          new Promise<void>((resolve) => waiters.push(resolve)),
          failed.then((errors) => Promise.reject(new Error(JSON.stringify(errors)))),
        ]);
      return messages[read++]!;
    },
  };
}

const codesOf = (errors: unknown) =>
  (errors as Array<{ extensions?: { code?: string } }>).map((e) => e.extensions?.code);

async function pendingOrder(slug: string) {
  const event = await publishedEvent(stack, slug, { title: `Live ${slug}` });
  const buyer = await stack.signUp();
  const reservationId = await waitFor(async () => {
    const { reserveTickets } = await gatewayCall<{ reserveTickets: { reservation: { id: string } | null } }>(
      stack,
      `mutation($input: ReserveTicketsInput!) { reserveTickets(input: $input) { reservation { id } } }`,
      { input: { eventId: event.eventId, items: [{ ticketTypeId: event.ticketTypeId, quantity: 1 }] } },
      buyer.headers,
    );
    return reserveTickets.reservation?.id;
  });
  const { checkout } = await gatewayCall<{ checkout: { order: { id: string } } }>(
    stack,
    `mutation($input: CheckoutInput!) { checkout(input: $input) { order { id } } }`,
    { input: { reservationId, buyer: { name: 'Live Buyer', email: buyer.email } } },
    buyer.headers,
  );
  return { ...event, buyer, orderId: checkout.order.id };
}

const ORDER_UPDATED = `subscription($id: ID!) {
  orderUpdated(orderId: $id) { id status tickets { id } event { title } }
}`;

/** Pays the order with the Sandbox, asking again until billing has heard of it (orders' order.created). */
const payWithSandbox = (orderId: string, headers: Record<string, string>) =>
  waitFor(async () => {
    const { payOrder } = await gatewayCall<{ payOrder: { payment: { status: string } | null } }>(
      stack,
      `mutation($input: PayOrderInput!) { payOrder(input: $input) { payment { status } } }`,
      {
        input: {
          orderId,
          provider: 'SANDBOX',
          paymentMethodToken: 'tok_visa',
          idempotencyKey: `k-${orderId}`,
        },
      },
      headers,
    );
    return payOrder.payment;
  });

describe('orderUpdated', () => {
  it('shows the buyer PENDING_PAYMENT, then PAID after a Sandbox payment, with orders and catalog fields', async () => {
    const { orderId, buyer } = await pendingOrder('live-order');
    const { client } = wsClient(buyer.headers.authorization);
    const feed = subscribe<{
      orderUpdated: { status: string; tickets: unknown[]; event: { title: string } };
    }>(client, ORDER_UPDATED, { id: orderId });
    expect((await feed.next()).orderUpdated).toMatchObject({
      status: 'PENDING_PAYMENT',
      tickets: [],
      event: { title: 'Live live-order' },
    });
    await payWithSandbox(orderId, buyer.headers);
    const paid = (await feed.next()).orderUpdated;
    expect(paid.status).toBe('PAID');
    expect(paid.tickets).toHaveLength(1);
    expect(paid.event.title).toBe('Live live-order');
  });

  it("refuses another user's order, an anonymous subscriber, and an id that is not an order", async () => {
    const { orderId } = await pendingOrder('live-refused');
    const stranger = await stack.signUp();
    const other = subscribe(wsClient(stranger.headers.authorization).client, ORDER_UPDATED, { id: orderId });
    expect(codesOf(await other.failed)).toEqual(['FORBIDDEN']);
    const anonymous = subscribe(wsClient().client, ORDER_UPDATED, { id: orderId });
    expect(codesOf(await anonymous.failed)).toEqual(['UNAUTHENTICATED']);
    const bogus = subscribe(wsClient(stranger.headers.authorization).client, ORDER_UPDATED, { id: 'nope' });
    expect(codesOf(await bogus.failed)[0]).toMatch(/BAD_USER_INPUT|FORBIDDEN/);
    expect(other.messages).toEqual([]);
  });

  it('ends the connection with 4401 when the access token expires, and refuses an expired one', async () => {
    const { orderId, buyer } = await pendingOrder('live-expiry');
    const keys = await openSigningKeys({
      db: drizzle(stack.sql),
      env: parseEnv(identitySubgraph.config, stack.env),
      issuer: DEFAULT_AUTH.issuer,
      audience: DEFAULT_AUTH.audience,
      log: captureLogs('signing-keys').log,
    });
    const claims = JSON.parse(Buffer.from(buyer.accessToken.split('.')[1]!, 'base64url').toString());
    const { iat: _iat, exp: _exp, iss: _iss, aud: _aud, ...own } = claims;
    const shortLived = await keys.sign({ ...own, jti: randomUUID() }, 3);
    const { client, closed } = wsClient(`Bearer ${shortLived}`);
    const feed = subscribe<{ orderUpdated: { status: string } }>(client, ORDER_UPDATED, { id: orderId });
    expect((await feed.next()).orderUpdated.status).toBe('PENDING_PAYMENT');
    expect(await closed).toBe(4401);

    const expired = await keys.sign({ ...own, jti: randomUUID() }, -60);
    const late = wsClient(`Bearer ${expired}`);
    subscribe(late.client, ORDER_UPDATED, { id: orderId });
    expect(await late.closed).toBe(4401);
  });
});

describe('ticketAvailability and eventSales', () => {
  it('pushes availability at most once a second during a burst of reservations, the last state last', async () => {
    const { eventId, ticketTypeId } = await publishedEvent(stack, 'live-burst', {
      ticketType: { capacity: 50, maxPerBuyer: null },
    });
    // Orders learns of the event by catalog's event; until then it has no availability to show.
    await waitFor(async () => {
      const { event } = await gatewayCall<{ event: { availability: { remaining: number } | null } }>(
        stack,
        `query($id: ID!) { event(id: $id) { availability { remaining } } }`,
        { id: eventId },
        {},
      );
      return event.availability;
    });
    const feed = subscribe<{
      ticketAvailability: { availability: { remaining: number; ticketTypes: Array<{ remaining: number }> } };
    }>(
      wsClient().client,
      `subscription($id: ID!) { ticketAvailability(eventId: $id) { availability { remaining ticketTypes { remaining } } } }`,
      {
        id: eventId,
      },
    );
    const times: number[] = [];
    const first = await feed.next();
    times.push(Date.now());
    expect(first.ticketAvailability.availability.remaining).toBe(50);
    const buyers = await Promise.all(Array.from({ length: 8 }, () => stack.signUp()));
    await waitFor(async () => {
      const results = await Promise.all(
        buyers.map((buyer) =>
          gatewayCall<{ reserveTickets: { reservation: { id: string } | null } }>(
            stack,
            `mutation($input: ReserveTicketsInput!) { reserveTickets(input: $input) { reservation { id } } }`,
            { input: { eventId, items: [{ ticketTypeId, quantity: 1 }] } },
            buyer.headers,
          ),
        ),
      );
      return results.every((result) => result.reserveTickets.reservation);
    });
    let last = first;
    while (last.ticketAvailability.availability.remaining !== 42) {
      last = await feed.next();
      times.push(Date.now());
    }
    expect(last.ticketAvailability.availability.ticketTypes).toEqual([{ remaining: 42 }]);
    // Coalesced: 8 reservations, far fewer messages, never two within a second (timer slack aside).
    expect(feed.messages.length).toBeLessThan(8);
    for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBeGreaterThanOrEqual(900);
  });

  it("eventSales is for the organization's staff: the owner sees a sale, a customer is refused", async () => {
    const { orderId, buyer, eventId, owner } = await pendingOrder('live-sales');
    const query = `subscription($id: ID!) { eventSales(eventId: $id) { sold held } }`;
    const refusedFeed = subscribe(wsClient(buyer.headers.authorization).client, query, { id: eventId });
    expect(new Set(codesOf(await refusedFeed.failed))).toEqual(new Set(['FORBIDDEN']));
    const feed = subscribe<{ eventSales: { sold: number; held: number } }>(
      wsClient(owner.headers.authorization).client,
      query,
      { id: eventId },
    );
    expect((await feed.next()).eventSales).toEqual({ sold: 0, held: 1 });
    await payWithSandbox(orderId, buyer.headers);
    expect((await feed.next()).eventSales).toEqual({ sold: 1, held: 0 });
  });
});

/**
 * Another gateway process's worth: its own NATS connection on the stack's stream, its own HTTP and
 * websocket server, routed to the same subgraphs.
 */
async function secondGateway(
  options: Partial<Pick<Parameters<typeof startGateway>[0], 'subscriptionLimits' | 'limits'>> = {},
) {
  const { log, lines } = captureLogs('gateway-2');
  const bus: EventBus = await connectJetStreamBus({
    url: TEST_NATS_URL,
    stream: stack.stream!,
    subjectPrefix: `t${stack.stream!.slice('TEST_'.length)}.`,
    name: 'bilten-test-gateway-2',
    log,
  });
  const gateway: RunningGateway = await startGateway({
    supergraphSdl: readFileSync(SUPERGRAPH_SDL_PATH, 'utf8'),
    subgraphUrls: Object.fromEntries(
      Object.values(stack.subgraphs).map((service) => [service.name, service.url]),
    ) as Partial<Record<SubgraphName, string>>,
    limits: TEST_LIMITS,
    blockFieldSuggestions: false,
    log,
    host: '127.0.0.1',
    port: 0,
    bus,
    ...options,
  });
  return {
    gateway,
    lines,
    async stop() {
      await gateway.stop();
      await bus.close();
    },
  };
}

describe('several gateways and slow clients', () => {
  it('two gateway processes on one NATS both deliver to their own clients', async () => {
    const other = await secondGateway();
    try {
      const { orderId, buyer } = await pendingOrder('live-two');
      const feeds = [stack.url, other.gateway.url].map((url) =>
        subscribe<{ orderUpdated: { status: string } }>(
          wsClient(buyer.headers.authorization, url).client,
          ORDER_UPDATED,
          { id: orderId },
        ),
      );
      for (const feed of feeds) expect((await feed.next()).orderUpdated.status).toBe('PENDING_PAYMENT');
      await waitFor(async () => {
        const { payOrder } = await gatewayCall<{ payOrder: { payment: { status: string } | null } }>(
          stack,
          `mutation($input: PayOrderInput!) { payOrder(input: $input) { payment { status } } }`,
          {
            input: {
              orderId,
              provider: 'SANDBOX',
              paymentMethodToken: 'tok_visa',
              idempotencyKey: `k-${orderId}`,
            },
          },
          buyer.headers,
        );
        return payOrder.payment;
      });
      for (const feed of feeds) expect((await feed.next()).orderUpdated.status).toBe('PAID');
    } finally {
      await other.stop();
    }
  });

  it('refuses subscriptions over the per-connection limit, queries, and malformed input, keeping the connection', async () => {
    const other = await secondGateway({ subscriptionLimits: { maxPerConnection: 2 } });
    try {
      const { eventId } = await publishedEvent(stack, 'live-limits');
      const { client } = wsClient(undefined, other.gateway.url);
      const query = `subscription($id: ID!) { ticketAvailability(eventId: $id) { id } }`;
      const feeds = [1, 2].map(() =>
        subscribe<{ ticketAvailability: { id: string } }>(client, query, { id: eventId }),
      );
      for (const feed of feeds) expect((await feed.next()).ticketAvailability.id).toBe(eventId);
      const third = subscribe(client, query, { id: eventId });
      expect(codesOf(await third.failed)).toEqual(['RATE_LIMITED']);

      const { client: fresh } = wsClient(undefined, other.gateway.url);
      const asQuery = subscribe(fresh, `query($id: ID!) { event(id: $id) { id } }`, { id: eventId });
      expect(codesOf(await asQuery.failed)).toEqual(['BAD_USER_INPUT']);
      const badVariable = subscribe(fresh, query, { id: 42 });
      expect((await badVariable.failed) as unknown[]).toHaveLength(1);
      const throughFragment = subscribe(
        fresh,
        `subscription($id: ID!) { ...F } fragment F on Subscription { ticketAvailability(eventId: $id) { id } }`,
        { id: eventId },
      );
      expect(codesOf(await throughFragment.failed)).toEqual(['BAD_USER_INPUT']);
      const unknownField = subscribe(fresh, `subscription { nope }`, {});
      expect(JSON.stringify(await unknownField.failed)).toContain('nope');
      // Still connected: a good subscription on the same connection works.
      const good = subscribe<{ ticketAvailability: { id: string } }>(fresh, query, { id: eventId });
      expect((await good.next()).ticketAvailability.id).toBe(eventId);
    } finally {
      await other.stop();
    }
  });

  it('disconnects a client that does not read its messages instead of buffering them', async () => {
    const other = await secondGateway({
      limits: { ...TEST_LIMITS, maxCost: 1_000_000, maxAliases: 300 },
      subscriptionLimits: { maxBufferedBytes: 256 * 1024 },
    });
    try {
      const { eventId, ticketTypeId } = await publishedEvent(stack, 'live-slow', {
        // Near catalog's limits: 10000-character blocks, 50 KB of HTML.
        event: { description: Array(4).fill('lorem ipsum '.repeat(750)).join('\n\n') },
        ticketType: { capacity: 50, maxPerBuyer: null },
      });
      // About 7 MB a message: more than the kernel's socket buffers take while the client reads nothing.
      const aliases = Array.from({ length: 100 }, (_, i) => `d${i}: description h${i}: descriptionHtml`).join(
        ' ',
      );
      const socket = new WebSocket(other.gateway.url.replace(/^http/, 'ws'), 'graphql-transport-ws');
      const closed = new Promise<number>((resolve) => socket.on('close', (code) => resolve(code)));
      let received = 0;
      const first = new Promise<void>((resolve) =>
        socket.on('message', (data) => {
          const message = JSON.parse(String(data));
          if (message.type === 'connection_ack')
            socket.send(
              JSON.stringify({
                id: '1',
                type: 'subscribe',
                payload: {
                  query: `subscription($id: ID!) { ticketAvailability(eventId: $id) { ${aliases} } }`,
                  variables: { id: eventId },
                },
              }),
            );
          if (message.type === 'next' && ++received === 1) resolve();
        }),
      );
      socket.on('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: {} })));
      await first;
      // The client stops reading; each reservation makes the gateway push another big message.
      (socket as unknown as { _socket: { pause(): void; resume(): void } })._socket.pause();
      const buyer = await stack.signUp();
      await waitFor(async () => {
        const { reserveTickets } = await gatewayCall<{
          reserveTickets: { reservation: { id: string } | null };
        }>(
          stack,
          `mutation($input: ReserveTicketsInput!) { reserveTickets(input: $input) { reservation { id } } }`,
          { input: { eventId, items: [{ ticketTypeId, quantity: 1 }] } },
          buyer.headers,
        );
        if (!other.lines.some((line) => line.msg === 'subscriber too slow, disconnected')) return undefined;
        return reserveTickets.reservation;
      });
      (socket as unknown as { _socket: { resume(): void } })._socket.resume();
      expect(await closed).toBe(1008);
    } finally {
      await other.stop();
    }
  }, 30_000);
});

describe('under npm start (the in-process bus)', () => {
  it('serves the same subscriptions', async () => {
    const local = await startTestStack('in-process');
    try {
      const { eventId, ticketTypeId } = await publishedEvent(local, 'live-local');
      const buyer = await local.signUp();
      await waitFor(async () => {
        const { reserveTickets } = await gatewayCall<{
          reserveTickets: { reservation: { id: string } | null };
        }>(
          local,
          `mutation($input: ReserveTicketsInput!) { reserveTickets(input: $input) { reservation { id } } }`,
          { input: { eventId, items: [{ ticketTypeId, quantity: 1 }] } },
          buyer.headers,
        );
        return reserveTickets.reservation;
      });
      const feed = subscribe<{ ticketAvailability: { availability: { remaining: number } } }>(
        wsClient(undefined, local.url).client,
        `subscription($id: ID!) { ticketAvailability(eventId: $id) { availability { remaining } } }`,
        { id: eventId },
      );
      expect((await feed.next()).ticketAvailability.availability.remaining).toBe(9);
      await gatewayCall(
        local,
        `mutation($input: ReserveTicketsInput!) { reserveTickets(input: $input) { reservation { id } } }`,
        { input: { eventId, items: [{ ticketTypeId, quantity: 2 }] } },
        buyer.headers,
      );
      expect((await feed.next()).ticketAvailability.availability.remaining).toBe(7);
    } finally {
      await local.dispose();
    }
  });
});
