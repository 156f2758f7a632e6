/**
 * Issue 15's subscriptions: graphql-ws at the gateway, real client, real stack on JetStream. Each
 * message is the entity read again under the subscriber's own token through the supergraph.
 */
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { notificationCreated } from '@bilten/contracts/messaging';
import { type RunningGateway, type SubgraphName, startGateway } from '@bilten/gateway';
import { identitySubgraph, openSigningKeys } from '@bilten/identity';
import { connectJetStreamBus, DEFAULT_AUTH, type EventBus, newEvent, parseEnv } from '@bilten/platform';
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

/** The sum of a metric's series whose labels include `labels`, from a /metrics page at `baseUrl`. */
async function metric(baseUrl: string, name: string, labels: Record<string, string> = {}) {
  const text = await (await fetch(new URL('/metrics', baseUrl))).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    const match = /^([a-z_]+)(\{[^}]*\})? (\S+)$/.exec(line);
    if (match?.[1] !== name) continue;
    if (Object.entries(labels).every(([label, value]) => match[2]?.includes(`${label}="${value}"`)))
      sum += Number(match[3]);
  }
  return sum;
}
const gatewayMetric = (name: string, labels?: Record<string, string>) =>
  metric(stack.gateway.operationsUrl!, name, labels);

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

/** Orders learns of an event by catalog's event; until then it has no availability to show. */
const availabilityKnown = (eventId: string) =>
  waitFor(async () => {
    const { event } = await gatewayCall<{ event: { availability: { remaining: number } | null } }>(
      stack,
      `query($id: ID!) { event(id: $id) { availability { remaining } } }`,
      { id: eventId },
      {},
    );
    return event.availability;
  });
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
    expect(codesOf(await bogus.failed)).toEqual(['BAD_USER_INPUT']);
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
    const expiredBefore = await gatewayMetric('gateway_websocket_disconnects_total', { reason: 'expired' });
    const shortLived = await keys.sign({ ...own, jti: randomUUID() }, 3);
    const { client, closed } = wsClient(`Bearer ${shortLived}`);
    const feed = subscribe<{ orderUpdated: { status: string } }>(client, ORDER_UPDATED, { id: orderId });
    expect((await feed.next()).orderUpdated.status).toBe('PENDING_PAYMENT');
    expect(await closed).toBe(4401);

    const expired = await keys.sign({ ...own, jti: randomUUID() }, -60);
    const late = wsClient(`Bearer ${expired}`);
    subscribe(late.client, ORDER_UPDATED, { id: orderId });
    expect(await late.closed).toBe(4401);
    expect(await gatewayMetric('gateway_websocket_disconnects_total', { reason: 'expired' })).toBe(
      expiredBefore + 2,
    );
  });
});

describe('ticketAvailability and eventSales', () => {
  it('pushes availability at most once a second during a burst of reservations, the last state last', async () => {
    const { eventId, ticketTypeId } = await publishedEvent(stack, 'live-burst', {
      ticketType: { capacity: 50, maxPerBuyer: null },
    });
    await availabilityKnown(eventId);
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
    // Coalesced: 8 reservations, far fewer messages, never two within a second. Measured where they
    // arrive, so a late first message shortens the next gap: 200 ms of slack for a loaded machine
    // (uncoalesced pushes come tens of ms apart).
    expect(feed.messages.length).toBeLessThan(8);
    for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBeGreaterThanOrEqual(800);
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
  options: Partial<
    Pick<
      Parameters<typeof startGateway>[0],
      'subscriptionLimits' | 'limits' | 'operations' | 'trustProxy' | 'subgraphUrls'
    >
  > = {},
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
    limits: TEST_LIMITS,
    blockFieldSuggestions: false,
    log,
    host: '127.0.0.1',
    port: 0,
    bus,
    ...options,
    subgraphUrls: {
      ...(Object.fromEntries(
        Object.values(stack.subgraphs).map((service) => [service.name, service.url]),
      ) as Partial<Record<SubgraphName, string>>),
      ...options.subgraphUrls,
    },
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
      operations: { host: '127.0.0.1', port: 0 },
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
      expect(
        await metric(other.gateway.operationsUrl!, 'gateway_websocket_disconnects_total', { reason: 'slow' }),
      ).toBe(1);
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

const NOTIFICATION_RECEIVED = `subscription {
  notificationReceived { id subject body readAt recipient { id displayName } }
}`;
const UNREAD_COUNT = 'subscription { unreadNotificationCount }';

interface ReceivedNotification {
  notificationReceived: {
    id: string;
    subject: string;
    body: string;
    readAt: string | null;
    recipient: { id: string; displayName: string };
  };
}

/** Posts an in-app notification as a platform ADMIN (messaging's sendNotification): its id. */
async function sendNotification(admin: Record<string, string>, recipientId: string, subject: string) {
  const { sendNotification } = await gatewayCall<{
    sendNotification: { notification: { id: string } | null; errors: unknown[] };
  }>(
    stack,
    `mutation($input: SendNotificationInput!) { sendNotification(input: $input) { notification { id } errors { code } } }`,
    { input: { recipientId, subject, body: `${subject}, in full.` } },
    admin,
  );
  expect(sendNotification.errors).toEqual([]);
  return sendNotification.notification!.id;
}

/** Waits until the gateway runs `count` more subscriptions of `field` than `before`: they listen. */
const listening = (field: string, before: number, count: number) =>
  waitFor(
    async () =>
      (await gatewayMetric('gateway_subscriptions_active', { field })) >= before + count || undefined,
  );

describe('notificationReceived and unreadNotificationCount', () => {
  it("pushes the signed-in user's own notifications, with messaging and identity fields, and their unread count", async () => {
    const [recipient, other, admin] = await Promise.all([
      stack.signUp({ displayName: 'Nora Live' }),
      stack.signUp({ displayName: 'Otto Other' }),
      stack.signUpAdmin(),
    ]);
    const before = await gatewayMetric('gateway_subscriptions_active', { field: 'notificationReceived' });
    const mine = wsClient(recipient.headers.authorization).client;
    const received = subscribe<ReceivedNotification>(mine, NOTIFICATION_RECEIVED, {});
    const count = subscribe<{ unreadNotificationCount: number }>(mine, UNREAD_COUNT, {});
    const othersFeed = subscribe<ReceivedNotification>(
      wsClient(other.headers.authorization).client,
      NOTIFICATION_RECEIVED,
      {},
    );
    expect((await count.next()).unreadNotificationCount).toBe(0);
    await listening('notificationReceived', before, 2);

    const first = await sendNotification(admin.headers, recipient.userId, 'Doors open at 8');
    expect((await received.next()).notificationReceived).toEqual({
      id: first,
      subject: 'Doors open at 8',
      body: 'Doors open at 8, in full.',
      readAt: null,
      recipient: { id: recipient.userId, displayName: 'Nora Live' },
    });
    expect((await count.next()).unreadNotificationCount).toBe(1);
    const second = await sendNotification(admin.headers, recipient.userId, 'Bring your ticket');
    expect((await received.next()).notificationReceived.id).toBe(second);
    expect((await count.next()).unreadNotificationCount).toBe(2);

    // The other user heard none of it: their first message is their own notification.
    const theirs = await sendNotification(admin.headers, other.userId, 'Yours only');
    expect((await othersFeed.next()).notificationReceived).toMatchObject({
      id: theirs,
      recipient: { displayName: 'Otto Other' },
    });
    expect(othersFeed.messages).toHaveLength(1);
    expect(received.messages).toHaveLength(2);

    // Reading (or archiving an unread one) pushes the count back down; a no-op pushes nothing.
    const markRead = (input: Record<string, unknown>, headers = recipient.headers) =>
      gatewayCall<{ markNotificationsRead: { count: number } }>(
        stack,
        `mutation($input: NotificationIdsInput!) { markNotificationsRead(input: $input) { count } }`,
        { input },
        headers,
      );
    expect((await markRead({ ids: [first] })).markNotificationsRead.count).toBe(1);
    expect((await count.next()).unreadNotificationCount).toBe(1);
    // The other user cannot read the recipient's: nothing changes, nothing is pushed.
    expect((await markRead({ ids: [second] }, other.headers)).markNotificationsRead.count).toBe(0);
    await gatewayCall(
      stack,
      `mutation($input: ArchiveNotificationInput!) { archiveNotification(input: $input) { notification { id } } }`,
      { input: { id: second } },
      recipient.headers,
    );
    expect((await count.next()).unreadNotificationCount).toBe(0);
    expect((await markRead({ all: true })).markNotificationsRead.count).toBe(0);
    // The next message is the next notification's, so neither no-op pushed one in between.
    const third = await sendNotification(admin.headers, recipient.userId, 'Last call');
    expect((await received.next()).notificationReceived.id).toBe(third);
    expect((await count.next()).unreadNotificationCount).toBe(1);
    expect(count.messages.map((message) => message.unreadNotificationCount)).toEqual([0, 1, 2, 1, 0, 1]);
    expect(received.messages).toHaveLength(3);
  });

  it('pushes a notification once when its event is published again (a relay retrying)', async () => {
    const [recipient, admin] = await Promise.all([stack.signUp(), stack.signUpAdmin()]);
    const before = await gatewayMetric('gateway_subscriptions_active', { field: 'notificationReceived' });
    const received = subscribe<ReceivedNotification>(
      wsClient(recipient.headers.authorization).client,
      NOTIFICATION_RECEIVED,
      {},
    );
    await listening('notificationReceived', before, 1);
    const first = await sendNotification(admin.headers, recipient.userId, 'Once');
    expect((await received.next()).notificationReceived.id).toBe(first);
    const { log } = captureLogs('replay');
    const bus = await connectJetStreamBus({
      url: TEST_NATS_URL,
      stream: stack.stream!,
      subjectPrefix: `t${stack.stream!.slice('TEST_'.length)}.`,
      name: 'bilten-test-replay',
      log,
    });
    try {
      const replay = newEvent(notificationCreated, first, 1, {
        notificationId: first,
        recipientId: recipient.userId,
      });
      await bus.publish(replay);
      await bus.publish({ ...replay, id: randomUUID() });
    } finally {
      await bus.close();
    }
    const next = await sendNotification(admin.headers, recipient.userId, 'Next');
    expect((await received.next()).notificationReceived.id).toBe(next);
    expect(received.messages.map((message) => message.notificationReceived.id)).toEqual([first, next]);
  });

  it('refuses anonymous subscribers, and takes no recipient argument', async () => {
    const anonymous = wsClient().client;
    expect(codesOf(await subscribe(anonymous, NOTIFICATION_RECEIVED, {}).failed)).toEqual([
      'UNAUTHENTICATED',
    ]);
    expect(codesOf(await subscribe(anonymous, UNREAD_COUNT, {}).failed)).toEqual(['UNAUTHENTICATED']);
    const user = await stack.signUp();
    const withArgument = subscribe(
      wsClient(user.headers.authorization).client,
      `subscription($id: ID!) { notificationReceived(recipientId: $id) { id } }`,
      { id: randomUUID() },
    );
    expect(JSON.stringify(await withArgument.failed)).toContain('recipientId');
  });
});

describe('crowds and metrics', () => {
  it('200 watchers of one event share one read per change, and all get the last state', async () => {
    const { eventId, ticketTypeId } = await publishedEvent(stack, 'live-crowd', {
      ticketType: { capacity: 100, maxPerBuyer: null },
    });
    await availabilityKnown(eventId);
    const query = `subscription($id: ID!) { ticketAvailability(eventId: $id) { id availability { remaining } } }`;
    const buyer = await stack.signUp();
    const activeBefore = await gatewayMetric('gateway_subscriptions_active', { field: 'ticketAvailability' });
    const connectionsBefore = await gatewayMetric('gateway_websocket_connections');
    // Anonymous and signed-in watchers alike: the answer of a public field is the same for all.
    const feeds = Array.from({ length: 200 }, (_, i) =>
      subscribe<{ ticketAvailability: { availability: { remaining: number } } }>(
        wsClient(i % 2 ? buyer.headers.authorization : undefined).client,
        query,
        { id: eventId },
      ),
    );
    for (const feed of feeds) expect((await feed.next()).ticketAvailability.availability.remaining).toBe(100);
    await listening('ticketAvailability', activeBefore, 200);
    expect(await gatewayMetric('gateway_websocket_connections')).toBeGreaterThanOrEqual(
      connectionsBefore + 200,
    );

    const orders = new URL(stack.subgraphs.orders.url).origin;
    const ordersOperations = () => metric(orders, 'graphql_operation_duration_seconds_count');
    const readsBefore = await gatewayMetric('gateway_subscription_reads_total', {
      field: 'ticketAvailability',
    });
    const operationsBefore = await ordersOperations();
    const messagesBefore = await gatewayMetric('gateway_subscription_messages_total', {
      field: 'ticketAvailability',
    });
    const { reserveTickets } = await gatewayCall<{ reserveTickets: { reservation: { id: string } | null } }>(
      stack,
      `mutation($input: ReserveTicketsInput!) { reserveTickets(input: $input) { reservation { id } } }`,
      { input: { eventId, items: [{ ticketTypeId, quantity: 3 }] } },
      buyer.headers,
    );
    expect(reserveTickets.reservation).not.toBeNull();
    for (const feed of feeds) expect((await feed.next()).ticketAvailability.availability.remaining).toBe(97);

    // One read for 200 subscribers: at the gateway, and at orders (the reservation is the other call).
    expect(
      (await gatewayMetric('gateway_subscription_reads_total', { field: 'ticketAvailability' })) -
        readsBefore,
    ).toBe(1);
    expect((await ordersOperations()) - operationsBefore).toBe(2);
    expect(
      (await gatewayMetric('gateway_subscription_messages_total', { field: 'ticketAvailability' })) -
        messagesBefore,
    ).toBe(200);
    for (const feed of feeds) expect(feed.messages).toHaveLength(2);
  });

  it('counts connections, refusals over the limit, and a message over the size limit', async () => {
    const other = await secondGateway({
      subscriptionLimits: { maxPerConnection: 1 },
      operations: { host: '127.0.0.1', port: 0 },
    });
    try {
      const ops = other.gateway.operationsUrl!;
      const { eventId } = await publishedEvent(stack, 'live-metrics');
      const { client } = wsClient(undefined, other.gateway.url);
      const query = `subscription($id: ID!) { ticketAvailability(eventId: $id) { id } }`;
      const feed = subscribe<{ ticketAvailability: { id: string } }>(client, query, { id: eventId });
      expect((await feed.next()).ticketAvailability.id).toBe(eventId);
      expect(codesOf(await subscribe(client, query, { id: eventId }).failed)).toEqual(['RATE_LIMITED']);
      expect(await metric(ops, 'gateway_subscriptions_refused_total', { code: 'RATE_LIMITED' })).toBe(1);
      expect(await metric(ops, 'gateway_websocket_connections')).toBe(1);
      expect(await metric(ops, 'gateway_subscriptions_active', { field: 'ticketAvailability' })).toBe(1);
      expect(await metric(ops, 'gateway_subscription_messages_total', { field: 'ticketAvailability' })).toBe(
        1,
      );

      // Over the 64 KiB a message may have: ws closes the connection with 1009.
      const socket = new WebSocket(other.gateway.url.replace(/^http/, 'ws'), 'graphql-transport-ws');
      const closed = new Promise<number>((resolve) => socket.on('close', (code) => resolve(code)));
      socket.on('open', () => socket.send('x'.repeat(70 * 1024)));
      expect(await closed).toBe(1009);
      // Logged as one line of ours, not a stack trace on stderr.
      await waitFor(async () =>
        other.lines.some((line) => line.msg === 'websocket error, connection closed'),
      );
      await waitFor(
        async () =>
          (await metric(ops, 'gateway_websocket_disconnects_total', { reason: 'limit' })) === 1 || undefined,
      );

      await client.dispose();
      await waitFor(async () => (await metric(ops, 'gateway_websocket_connections')) === 0 || undefined);
      expect(await metric(ops, 'gateway_subscriptions_active', { field: 'ticketAvailability' })).toBe(0);
    } finally {
      await other.stop();
    }
  });

  it('passes the websocket client address to the subgraphs as GATEWAY_TRUST_PROXY says', async () => {
    // A recording hop in front of messaging, which `unreadNotificationCount` reads.
    const forwardedFor: Array<string | undefined> = [];
    const recorder = createServer(async (request, response) => {
      forwardedFor.push(request.headers['x-forwarded-for'] as string | undefined);
      const upstream = await fetch(stack.subgraphs.messaging.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(request.headers.authorization ? { authorization: request.headers.authorization } : {}),
        },
        body: await new Response(request as unknown as ReadableStream).text(),
      });
      response.writeHead(upstream.status, { 'content-type': 'application/json' });
      response.end(await upstream.text());
    });
    recorder.listen(0, '127.0.0.1');
    await once(recorder, 'listening');
    const messaging = `http://127.0.0.1:${(recorder.address() as AddressInfo).port}/graphql`;
    const user = await stack.signUp();
    /** The addresses messaging was told for one count subscription through `gateway`, claiming 203.0.113.7. */
    const addressesSeen = async (gateway: RunningGateway) => {
      forwardedFor.length = 0;
      class ThroughProxy extends WebSocket {
        constructor(url: string, protocols?: string | string[]) {
          super(url, protocols, { headers: { 'x-forwarded-for': '203.0.113.7' } });
        }
      }
      const client = createClient({
        url: gateway.url.replace(/^http/, 'ws'),
        webSocketImpl: ThroughProxy,
        connectionParams: { authorization: user.headers.authorization },
        retryAttempts: 0,
      });
      clients.push(client);
      const feed = subscribe<{ unreadNotificationCount: number }>(client, UNREAD_COUNT, {});
      expect((await feed.next()).unreadNotificationCount).toBe(0);
      await client.dispose();
      return new Set(forwardedFor);
    };
    const trusting = await secondGateway({ trustProxy: ['127.0.0.1'], subgraphUrls: { messaging } });
    const untrusting = await secondGateway({ subgraphUrls: { messaging } });
    try {
      expect(await addressesSeen(trusting.gateway)).toEqual(new Set(['203.0.113.7']));
      // Not from a trusted proxy: the client's own claim, replaced by the address it came from.
      expect(await addressesSeen(untrusting.gateway)).toEqual(new Set(['127.0.0.1']));
    } finally {
      await trusting.stop();
      await untrusting.stop();
      recorder.close();
    }
  });
});
