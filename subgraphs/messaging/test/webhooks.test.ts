import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { eventPublished } from '@bilten/contracts/catalog';
import { orderCreated, orderPaid, ticketCheckedIn } from '@bilten/contracts/orders';
import { type DomainEvent, newEvent } from '@bilten/platform';
import {
  type CallerHeaders,
  startTestSubgraph,
  TEST_NATS_URL,
  type TestSubgraph,
  type UserError,
  waitFor,
} from '@bilten/testkit';
import { type JetStreamManager, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Webhook } from 'standardwebhooks';
import { v7 as uuidv7 } from 'uuid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWebhookSender } from '../src/adapters/webhook-sender.ts';
import { MAX_ENDPOINTS_PER_ORGANIZATION } from '../src/domain/webhook-endpoints.ts';
import { messagingSubgraph } from '../src/server.ts';
import { consumerCaughtUp } from './support.ts';

const DATA_KEY = 'k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=';

interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** A local receiver: records every request; `/status/<code>…` answers each code in turn, then 200. */
let receiver: Server;
let base: string;
const received: Received[] = [];
const plans = new Map<string, number[]>();

let subgraph: TestSubgraph;
let nats: NatsConnection;
let jsm: JetStreamManager;

beforeAll(async () => {
  receiver = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const path = request.url ?? '/';
      received.push({ path, headers: request.headers, body: Buffer.concat(chunks).toString('utf8') });
      const status = plans.get(path)?.shift() ?? 200;
      response.writeHead(status, { 'content-type': 'text/plain' }).end(status === 200 ? 'ok' : 'nope');
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  subgraph = await startTestSubgraph(messagingSubgraph, 'jetstream', {
    env: {
      DATA_ENCRYPTION_KEYS: DATA_KEY,
      WEBHOOK_ALLOW_HTTP: 'true',
      // 127.0.0.1 only: `localhost` resolves to a loopback address and stays refused.
      WEBHOOK_ALLOWED_HOSTS: '127.0.0.1',
      WEBHOOK_RETRY_SCALE: '0.001',
      WEBHOOK_POLL_MS: '20',
    },
  });
  nats = await connect({ servers: TEST_NATS_URL });
  jsm = await jetstreamManager(nats);
});

afterAll(async () => {
  await nats?.close();
  await subgraph?.dispose();
  await new Promise((resolve) => receiver?.close(resolve));
});

const admin = (organizationId: string) => subgraph.bearer({ orgs: { [organizationId]: 'ADMIN' } });
const apiKey = (organizationId: string, scopes: string[]) =>
  subgraph.bearer({ kind: 'api_key', org: organizationId, scopes, mode: 'LIVE' });

const ENDPOINT =
  'id organizationId url description eventTypes enabled disabledReason previousSecretExpiresAt createdAt';
const DELIVERY =
  'id messageId eventType status attempts nextAttemptAt lastResponseStatus lastError payload createdAt deliveredAt';

interface Endpoint {
  id: string;
  organizationId: string;
  url: string;
  eventTypes: string[];
  enabled: boolean;
  disabledReason: string | null;
  previousSecretExpiresAt: string | null;
}
interface Delivery {
  id: string;
  messageId: string;
  eventType: string;
  status: 'PENDING' | 'DELIVERED' | 'FAILED';
  attempts: number;
  lastResponseStatus: number | null;
  lastError: string | null;
  payload: string;
}
type Payload<K extends string, T> = Record<K, T & { errors: UserError[] }>;

async function createEndpoint(
  headers: CallerHeaders,
  input: { organizationId: string; url: string; eventTypes: string[]; description?: string },
) {
  return subgraph.gql<Payload<'createWebhookEndpoint', { endpoint: Endpoint | null; secret: string | null }>>(
    `mutation($input: CreateWebhookEndpointInput!) {
      createWebhookEndpoint(input: $input) { endpoint { ${ENDPOINT} } secret errors { code message field } }
    }`,
    { input },
    headers,
  );
}

/** A new organization with one endpoint at `path` of the receiver; answers its id and secret. */
async function endpointAt(path: string, eventTypes = ['order.paid']) {
  const organizationId = uuidv7();
  const { data } = await createEndpoint(await admin(organizationId), {
    organizationId,
    url: `${base}${path}`,
    eventTypes,
  });
  const { endpoint, secret } = data!.createWebhookEndpoint;
  return { organizationId, endpoint: endpoint!, secret: secret!, headers: await admin(organizationId) };
}

async function deliveriesOf(endpointId: string, headers: CallerHeaders, first = 20, after?: string) {
  const { data, errors } = await subgraph.gql<{
    webhookEndpoint: {
      deliveries: { edges: Array<{ cursor: string; node: Delivery }>; pageInfo: { hasNextPage: boolean } };
    } | null;
  }>(
    `query($id: ID!, $first: Int, $after: String) {
      webhookEndpoint(id: $id) { deliveries(first: $first, after: $after) {
        edges { cursor node { ${DELIVERY} } } pageInfo { hasNextPage } } }
    }`,
    { id: endpointId, first, after },
    headers,
  );
  expect(errors).toBeUndefined();
  return data!.webhookEndpoint!.deliveries;
}

const paid = (organizationId: string) => {
  const orderId = uuidv7();
  return newEvent(orderPaid, orderId, 2, {
    orderId,
    eventId: uuidv7(),
    organizationId,
    buyerId: null,
    buyerEmail: 'guest@example.test',
    buyerName: 'Guest Buyer',
    eventTitle: 'Sarajevo Jazz Night',
    tickets: [{ ticketId: uuidv7(), sealedToken: 'sealed-secret-token' }],
    total: { amount: 4500, currency: 'BAM' },
  });
};

const publish = (event: DomainEvent) => subgraph.testBus.bus.publish(event);
const requestsTo = (path: string) => received.filter((request) => request.path === path);
const verify = (secret: string, request: Received) =>
  new Webhook(secret).verify(request.body, request.headers as Record<string, string>) as {
    type: string;
    timestamp: string;
    data: Record<string, unknown>;
  };

describe('webhook endpoints', () => {
  it('lists the event types anyone can subscribe to', async () => {
    const { data } = await subgraph.gql<{ webhookEventTypes: string[] }>('{ webhookEventTypes }');
    expect(data!.webhookEventTypes).toEqual(
      expect.arrayContaining([
        'order.paid',
        'order.refunded',
        'ticket.checked_in',
        'event.published',
        'event.cancelled',
      ]),
    );
  });

  it('shows the secret once, stores it encrypted, and validates the input', async () => {
    const organizationId = uuidv7();
    const headers = await admin(organizationId);
    const { data } = await createEndpoint(headers, {
      organizationId,
      url: `${base}/created`,
      eventTypes: ['order.paid', 'order.paid', 'event.published'],
      description: 'CRM sync',
    });
    const { endpoint, secret, errors } = data!.createWebhookEndpoint;
    expect(errors).toEqual([]);
    expect(endpoint).toMatchObject({
      organizationId,
      enabled: true,
      eventTypes: ['order.paid', 'event.published'],
    });
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
    expect(Buffer.from(secret!.slice(6), 'base64')).toHaveLength(32);
    const [row] =
      await subgraph.sql`select secret_sealed from messaging.webhook_endpoints where id = ${endpoint!.id}`;
    expect(row!.secret_sealed).not.toContain(secret!.slice(6));
    // Never again: no read answers it.
    const read = await subgraph.gql(
      `query($id: ID!) { webhookEndpoint(id: $id) { ${ENDPOINT} } }`,
      { id: endpoint!.id },
      headers,
    );
    const listed = await subgraph.gql(
      `query($org: ID!) { webhookEndpoints(organizationId: $org) { ${ENDPOINT} } }`,
      { org: organizationId },
      headers,
    );
    expect(JSON.stringify([read, listed])).not.toContain(secret!.slice(6, 30));

    const bad = await createEndpoint(headers, {
      organizationId,
      url: `${base}/x`,
      eventTypes: ['order.exploded'],
    });
    expect(bad.data!.createWebhookEndpoint.errors[0]).toMatchObject({
      code: 'INVALID_INPUT',
      field: ['input', 'eventTypes', '0'],
    });
    const none = await createEndpoint(headers, { organizationId, url: `${base}/x`, eventTypes: [] });
    expect(none.data!.createWebhookEndpoint.errors[0]).toMatchObject({ field: ['input', 'eventTypes'] });
  });

  it.each([
    ['a private address', 'http://10.0.0.1/hook'],
    ['the cloud metadata address', 'http://169.254.169.254/latest/meta-data'],
    ['a name resolving to loopback', 'http://localhost:9/hook'],
    ['IPv6 loopback', 'http://[::1]/hook'],
    ['an IPv4-mapped loopback', 'http://[::ffff:127.0.0.2]/hook'],
    ['CGNAT', 'http://100.64.0.1/hook'],
    ['the unspecified address', 'http://0.0.0.0/hook'],
    ['credentials', 'https://user:secret@example.com/hook'],
    ['another scheme', 'ftp://example.com/hook'],
    ['a huge URL', `https://example.com/${'a'.repeat(2_100)}`],
    ['no URL at all', 'not a url'],
  ])('refuses %s with a user error', async (_, url) => {
    const organizationId = uuidv7();
    const { data, errors } = await createEndpoint(await admin(organizationId), {
      organizationId,
      url,
      eventTypes: ['order.paid'],
    });
    expect(errors).toBeUndefined();
    expect(data!.createWebhookEndpoint.endpoint).toBeNull();
    expect(data!.createWebhookEndpoint.errors).toEqual([
      expect.objectContaining({ code: 'INVALID_INPUT', field: ['input', 'url'] }),
    ]);
    expect(
      await subgraph.sql`select 1 from messaging.webhook_endpoints where organization_id = ${organizationId}`,
    ).toHaveLength(0);
  });

  it('refuses a private address on update too', async () => {
    const { endpoint, headers } = await endpointAt('/update');
    const { data } = await subgraph.gql<Payload<'updateWebhookEndpoint', { endpoint: Endpoint | null }>>(
      `mutation($input: UpdateWebhookEndpointInput!) { updateWebhookEndpoint(input: $input) { endpoint { url } errors { code field } } }`,
      { input: { id: endpoint.id, url: 'http://192.168.1.10/hook' } },
      headers,
    );
    expect(data!.updateWebhookEndpoint.errors).toEqual([
      expect.objectContaining({ field: ['input', 'url'] }),
    ]);
    const [row] = await subgraph.sql`select url from messaging.webhook_endpoints where id = ${endpoint.id}`;
    expect(row!.url).toBe(`${base}/update`);
  });

  it(`allows at most ${MAX_ENDPOINTS_PER_ORGANIZATION} endpoints per organization`, async () => {
    const organizationId = uuidv7();
    const headers = await admin(organizationId);
    const input = { organizationId, url: `${base}/many`, eventTypes: ['order.paid'] };
    const answers = await Promise.all(
      Array.from({ length: MAX_ENDPOINTS_PER_ORGANIZATION + 3 }, () => createEndpoint(headers, input)),
    );
    const refused = answers.filter((answer) => answer.data!.createWebhookEndpoint.errors.length);
    expect(refused).toHaveLength(3);
    expect(refused[0]!.data!.createWebhookEndpoint.errors[0]!.code).toBe('CONFLICT');
  });

  it("keeps other organizations' users and keys out, and read-only keys from changing anything", async () => {
    const { organizationId, endpoint } = await endpointAt('/private');
    const other = uuidv7();
    const outsiders = [await admin(other), await apiKey(other, ['events:write'])];
    for (const headers of outsiders) {
      const read = await subgraph.gql<{ webhookEndpoint: Endpoint | null }>(
        `query($id: ID!) { webhookEndpoint(id: $id) { id } }`,
        { id: endpoint.id },
        headers,
      );
      expect(read.data!.webhookEndpoint).toBeNull();
      const list = await subgraph.gql(
        `query($org: ID!) { webhookEndpoints(organizationId: $org) { id } }`,
        { org: organizationId },
        headers,
      );
      expect(list.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      for (const mutation of ['updateWebhookEndpoint', 'deleteWebhookEndpoint', 'rotateWebhookSecret']) {
        const type = `${mutation[0]!.toUpperCase()}${mutation.slice(1)}Input`;
        const input =
          mutation === 'updateWebhookEndpoint'
            ? { id: endpoint.id, url: `${base}/stolen` }
            : { id: endpoint.id };
        const { data } = await subgraph.gql<Record<string, { errors: UserError[] }>>(
          `mutation($input: ${type}!) { ${mutation}(input: $input) { errors { code } } }`,
          { input },
          headers,
        );
        expect(data![mutation]!.errors).toEqual([{ code: 'NOT_FOUND' }]);
      }
      const create = await createEndpoint(headers, {
        organizationId,
        url: `${base}/theirs`,
        eventTypes: ['order.paid'],
      });
      expect(create.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    }
    const [row] =
      await subgraph.sql`select url, secret_sealed from messaging.webhook_endpoints where id = ${endpoint.id}`;
    expect(row!.url).toBe(`${base}/private`);

    // Its own read-only key reads, and changes nothing; STAFF and anonymous callers get nothing.
    const readOnly = await apiKey(organizationId, ['orders:read']);
    const read = await subgraph.gql<{ webhookEndpoint: Endpoint | null }>(
      `query($id: ID!) { webhookEndpoint(id: $id) { id } }`,
      { id: endpoint.id },
      readOnly,
    );
    expect(read.data!.webhookEndpoint?.id).toBe(endpoint.id);
    const rotate = await subgraph.gql(
      `mutation($input: RotateWebhookSecretInput!) { rotateWebhookSecret(input: $input) { secret } }`,
      { input: { id: endpoint.id } },
      readOnly,
    );
    expect(rotate.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const staff = await subgraph.bearer({ orgs: { [organizationId]: 'STAFF' } });
    const staffRead = await subgraph.gql<{ webhookEndpoint: Endpoint | null }>(
      `query($id: ID!) { webhookEndpoint(id: $id) { id } }`,
      { id: endpoint.id },
      staff,
    );
    expect(staffRead.data!.webhookEndpoint).toBeNull();
    const anonymous = await subgraph.gql(`query($id: ID!) { webhookEndpoint(id: $id) { id } }`, {
      id: endpoint.id,
    });
    expect(anonymous.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    // A key with events:write manages its own organization's endpoints.
    const writer = await createEndpoint(await apiKey(organizationId, ['events:write']), {
      organizationId,
      url: `${base}/by-key`,
      eventTypes: ['event.published'],
    });
    expect(writer.data!.createWebhookEndpoint.errors).toEqual([]);
  });
});

describe('webhook deliveries', () => {
  it('delivers an order.paid once, signed, without the ticket links, whatever redelivers', async () => {
    const { organizationId, endpoint, secret, headers } = await endpointAt('/paid', ['order.paid']);
    const event = paid(organizationId);
    await publish(event);
    await publish(
      newEvent(orderCreated, event.payload.orderId, 2, createdPayload(organizationId, event.payload.orderId)),
    );
    await waitFor(async () => requestsTo('/paid').length === 1);
    // The same event again (a redelivery): nothing more is queued.
    await publish(event);
    await consumerCaughtUp(jsm, subgraph, 'webhooks-order-paid');
    await consumerCaughtUp(jsm, subgraph, 'webhooks-order-created');
    const request = requestsTo('/paid')[0]!;
    expect(request.headers['webhook-id']).toBe(`msg_${event.id}`);
    expect(request.headers['content-type']).toBe('application/json');
    const body = verify(secret, request);
    expect(body).toMatchObject({
      type: 'order.paid',
      timestamp: event.occurredAt,
      data: { orderId: event.payload.orderId, status: 'PAID', total: { amount: 4500, currency: 'BAM' } },
    });
    expect(request.body).not.toContain('sealed-secret-token');
    expect(request.body).not.toContain('guest@example.test');
    expect(() =>
      new Webhook(`whsec_${Buffer.alloc(32, 1).toString('base64')}`).verify(
        request.body,
        request.headers as Record<string, string>,
      ),
    ).toThrow();
    const tampered = request.body.replace('4500', '1');
    expect(() => new Webhook(secret).verify(tampered, request.headers as Record<string, string>)).toThrow();

    // The receiver has the request before the worker records its answer.
    const { edges } = await waitFor(async () => {
      const page = await deliveriesOf(endpoint.id, headers);
      return page.edges[0]?.node.status === 'DELIVERED' && page;
    });
    expect(edges.map((edge) => edge.node)).toEqual([
      expect.objectContaining({
        status: 'DELIVERED',
        attempts: 1,
        lastResponseStatus: 200,
        messageId: `msg_${event.id}`,
      }),
    ]);
    expect(requestsTo('/paid')).toHaveLength(1);
  });

  it('retries a failing receiver on the schedule until it answers 2xx', async () => {
    plans.set('/flaky', [500, 503]);
    const { organizationId, endpoint, secret, headers } = await endpointAt('/flaky');
    const event = paid(organizationId);
    await publish(event);
    await waitFor(
      async () => (await deliveriesOf(endpoint.id, headers)).edges[0]?.node.status === 'DELIVERED',
    );
    const requests = requestsTo('/flaky');
    expect(requests).toHaveLength(3);
    expect(new Set(requests.map((request) => request.headers['webhook-id']))).toEqual(
      new Set([`msg_${event.id}`]),
    );
    for (const request of requests) expect(verify(secret, request).type).toBe('order.paid');
    const [delivery] = (await deliveriesOf(endpoint.id, headers)).edges;
    expect(delivery!.node).toMatchObject({ attempts: 3, lastResponseStatus: 200, lastError: null });
    const attempts = await subgraph.sql`
      select response_status from messaging.webhook_delivery_attempts where delivery_id = ${delivery!.node.id} order by attempt`;
    expect(attempts.map((attempt) => attempt.response_status)).toEqual([500, 503, 200]);
    // Metered once for the organization (issue 19): the delivery, not its failed attempts.
    const metered = await subgraph.sql`
      select metric, quantity::int from messaging.usage_hourly where organization_id = ${organizationId}`;
    expect(metered.map((row) => ({ ...row }))).toEqual([{ metric: 'webhook_deliveries', quantity: 1 }]);
    const metrics = await (await fetch(subgraph.service.url.replace(/\/graphql$/, '/metrics'))).text();
    const counted = (status: string) =>
      Number(
        new RegExp(`^messaging_webhook_deliveries_total\\{[^}]*status="${status}"[^}]*\\} (\\d+)$`, 'm').exec(
          metrics,
        )?.[1],
      );
    expect(counted('retried')).toBeGreaterThanOrEqual(2);
    expect(counted('delivered')).toBeGreaterThanOrEqual(1);
  });

  it('gives up after the last attempt of the schedule', async () => {
    plans.set('/down', Array(8).fill(500));
    const { organizationId, endpoint, headers } = await endpointAt('/down');
    await publish(paid(organizationId));
    await waitFor(async () => {
      // The later waits (scaled hours are still seconds) cut short, once the attempt before is recorded (not leased).
      await subgraph.sql`update messaging.webhook_deliveries d set next_attempt_at = now()
        where endpoint_id = ${endpoint.id} and status = 'PENDING' and next_attempt_at > now()
          and attempts = (select count(*) from messaging.webhook_delivery_attempts a where a.delivery_id = d.id)`;
      return (await deliveriesOf(endpoint.id, headers)).edges[0]?.node.status === 'FAILED';
    }, 20_000);
    const [delivery] = (await deliveriesOf(endpoint.id, headers)).edges;
    expect(delivery!.node).toMatchObject({
      attempts: 8,
      lastResponseStatus: 500,
      lastError: 'HTTP 500: nope',
    });
    expect(requestsTo('/down')).toHaveLength(8);
  });

  it('replays a delivery with the same webhook-id and payload', async () => {
    const { organizationId, endpoint, secret, headers } = await endpointAt('/replay');
    const event = paid(organizationId);
    await publish(event);
    await waitFor(async () => requestsTo('/replay').length === 1);
    const original = (await deliveriesOf(endpoint.id, headers)).edges[0]!.node;
    const { data } = await subgraph.gql<Payload<'replayWebhookDelivery', { delivery: Delivery | null }>>(
      `mutation($input: ReplayWebhookDeliveryInput!) { replayWebhookDelivery(input: $input) { delivery { ${DELIVERY} } errors { code } } }`,
      { input: { id: original.id } },
      headers,
    );
    expect(data!.replayWebhookDelivery.delivery).toMatchObject({
      messageId: original.messageId,
      payload: original.payload,
    });
    await waitFor(async () => requestsTo('/replay').length === 2);
    const [first, second] = requestsTo('/replay');
    expect(second!.headers['webhook-id']).toBe(first!.headers['webhook-id']);
    expect(verify(secret, second!)).toEqual(verify(secret, first!));
    const log = await deliveriesOf(endpoint.id, headers, 1);
    expect(log.edges[0]!.node.id).toBe(data!.replayWebhookDelivery.delivery!.id);
    expect(log.pageInfo.hasNextPage).toBe(true);
    const older = await deliveriesOf(endpoint.id, headers, 1, log.edges[0]!.cursor);
    expect(older.edges.map((edge) => edge.node.id)).toEqual([original.id]);
    expect(older.pageInfo.hasNextPage).toBe(false);
    // Another organization cannot replay it.
    const stranger = await subgraph.gql<Payload<'replayWebhookDelivery', { delivery: Delivery | null }>>(
      `mutation($input: ReplayWebhookDeliveryInput!) { replayWebhookDelivery(input: $input) { delivery { id } errors { code } } }`,
      { input: { id: original.id } },
      await admin(uuidv7()),
    );
    expect(stranger.data!.replayWebhookDelivery.errors).toEqual([{ code: 'NOT_FOUND' }]);
  });

  it('disables an endpoint that answers 410 Gone', async () => {
    plans.set('/gone', [410]);
    const { organizationId, endpoint, headers } = await endpointAt('/gone');
    // A delivery waiting for a later retry: it ends with the endpoint.
    const waiting = uuidv7();
    await subgraph.sql`insert into messaging.webhook_deliveries
      (id, endpoint_id, organization_id, source_event_id, message_id, event_type, payload, next_attempt_at)
      values (${waiting}, ${endpoint.id}, ${organizationId}, ${uuidv7()}, 'msg_waiting', 'order.paid', '{}', now() + interval '1 hour')`;
    await publish(paid(organizationId));
    await waitFor(async () => (await deliveriesOf(endpoint.id, headers)).edges[0]?.node.status === 'FAILED');
    const { data } = await subgraph.gql<{ webhookEndpoint: Endpoint }>(
      `query($id: ID!) { webhookEndpoint(id: $id) { ${ENDPOINT} } }`,
      { id: endpoint.id },
      headers,
    );
    expect(data!.webhookEndpoint).toMatchObject({
      enabled: false,
      disabledReason: expect.stringContaining('410'),
    });
    const [ended] =
      await subgraph.sql`select status, last_error from messaging.webhook_deliveries where id = ${waiting}`;
    expect(ended).toMatchObject({ status: 'FAILED', last_error: expect.stringContaining('disabled') });
    // Nothing more is queued for it, until it is enabled again.
    const next = paid(organizationId);
    await publish(next);
    await consumerCaughtUp(jsm, subgraph, 'webhooks-order-paid');
    expect((await deliveriesOf(endpoint.id, headers)).edges).toHaveLength(2);
    expect(requestsTo('/gone')).toHaveLength(1);
    const enabled = await subgraph.gql<Payload<'updateWebhookEndpoint', { endpoint: Endpoint | null }>>(
      `mutation($input: UpdateWebhookEndpointInput!) { updateWebhookEndpoint(input: $input) { endpoint { ${ENDPOINT} } errors { code } } }`,
      { input: { id: endpoint.id, enabled: true } },
      headers,
    );
    expect(enabled.data!.updateWebhookEndpoint.endpoint).toMatchObject({
      enabled: true,
      disabledReason: null,
    });
    await publish(paid(organizationId));
    await waitFor(async () => requestsTo('/gone').length === 2);
  });

  it('refuses at send time a target that now resolves to a private address', async () => {
    const { organizationId, endpoint, headers } = await endpointAt('/moved');
    // As if its DNS had changed since it was saved.
    await subgraph.sql`update messaging.webhook_endpoints set url = 'http://10.1.2.3/hook' where id = ${endpoint.id}`;
    await publish(paid(organizationId));
    await waitFor(async () => (await deliveriesOf(endpoint.id, headers)).edges[0]?.node.status === 'FAILED');
    const [delivery] = (await deliveriesOf(endpoint.id, headers)).edges;
    expect(delivery!.node).toMatchObject({
      attempts: 1,
      lastResponseStatus: null,
      lastError: expect.stringMatching(/^refused/),
    });
  });

  it('signs with both secrets during a rotation, each verifying alone', async () => {
    const { organizationId, endpoint, secret: old, headers } = await endpointAt('/rotated');
    const { data } = await subgraph.gql<
      Payload<'rotateWebhookSecret', { endpoint: Endpoint | null; secret: string | null }>
    >(
      `mutation($input: RotateWebhookSecretInput!) { rotateWebhookSecret(input: $input) { endpoint { ${ENDPOINT} } secret errors { code } } }`,
      { input: { id: endpoint.id } },
      headers,
    );
    const { secret: current, endpoint: rotated } = data!.rotateWebhookSecret;
    expect(current).toMatch(/^whsec_/);
    expect(current).not.toBe(old);
    const grace = new Date(rotated!.previousSecretExpiresAt!).getTime() - Date.now();
    expect(grace).toBeGreaterThan(23.9 * 3_600_000);
    expect(grace).toBeLessThanOrEqual(24 * 3_600_000);
    await publish(paid(organizationId));
    await waitFor(async () => requestsTo('/rotated').length === 1);
    const request = requestsTo('/rotated')[0]!;
    expect(String(request.headers['webhook-signature']).split(' ')).toHaveLength(2);
    expect(verify(current!, request).type).toBe('order.paid');
    expect(verify(old, request).type).toBe('order.paid');
    // Once the grace is over, only the new secret signs.
    await subgraph.sql`update messaging.webhook_endpoints set previous_secret_expires_at = now() where id = ${endpoint.id}`;
    await publish(paid(organizationId));
    await waitFor(async () => requestsTo('/rotated').length === 2);
    const later = requestsTo('/rotated')[1]!;
    expect(String(later.headers['webhook-signature']).split(' ')).toHaveLength(1);
    expect(() => verify(old, later)).toThrow();
    expect(verify(current!, later).type).toBe('order.paid');
  });

  it('sends check-ins and publications to the endpoints that asked for them only', async () => {
    const { organizationId, secret } = await endpointAt('/door', ['ticket.checked_in']);
    const ticketId = uuidv7();
    const checkedIn = newEvent(ticketCheckedIn, ticketId, 1, {
      ticketId,
      orderId: uuidv7(),
      eventId: uuidv7(),
      organizationId,
      gate: 'North',
      checkedInAt: new Date().toISOString(),
    });
    const eventId = uuidv7();
    await publish(
      newEvent(eventPublished, eventId, 1, {
        eventId,
        organizationId,
        title: 'Published, not subscribed',
        visibility: 'PUBLIC',
        startsAt: '2031-09-01T18:00:00.000Z',
        endsAt: '2031-09-01T21:00:00.000Z',
        timezone: 'Europe/Sarajevo',
        venue: null,
        onlineUrl: null,
      }),
    );
    await publish(checkedIn);
    await waitFor(async () => requestsTo('/door').length === 1);
    await consumerCaughtUp(jsm, subgraph, 'webhooks-event-published');
    expect(verify(secret, requestsTo('/door')[0]!)).toMatchObject({
      type: 'ticket.checked_in',
      data: { ticketId, gate: 'North', organizationId },
    });
    expect(requestsTo('/door')).toHaveLength(1);
  });
});

describe('the webhook sender', () => {
  it('refuses loopback targets not allowed, whether named by address or by a name resolving to one', async () => {
    const sender = createWebhookSender({ policy: { allowHttp: true, allowedHosts: [] }, timeoutMs: 2_000 });
    const port = (receiver.address() as AddressInfo).port;
    const before = received.length;
    for (const url of [`http://127.0.0.1:${port}/ssrf`, `http://localhost:${port}/ssrf`]) {
      const answer = await sender.send({
        url,
        messageId: 'msg_x',
        body: '{}',
        secrets: [`whsec_${Buffer.alloc(24, 7).toString('base64')}`],
      });
      expect(answer).toMatchObject({
        status: null,
        refused: true,
        detail: expect.stringMatching(/^refused/),
      });
    }
    expect(received.length).toBe(before);
  });

  it('follows no redirect and gives up on a receiver that does not answer in time', async () => {
    const slow = createServer((request, response) => {
      if (request.url === '/redirect') response.writeHead(307, { location: `${base}/redirected` }).end();
      // /hang never answers
    });
    await new Promise<void>((resolve) => slow.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(slow.address() as AddressInfo).port}`;
    const sender = createWebhookSender({
      policy: { allowHttp: true, allowedHosts: ['127.0.0.1'] },
      timeoutMs: 300,
    });
    const secrets = [`whsec_${Buffer.alloc(24, 7).toString('base64')}`];
    try {
      expect(
        await sender.send({ url: `${url}/redirect`, messageId: 'msg_r', body: '{}', secrets }),
      ).toMatchObject({ status: 307, refused: false });
      expect(requestsTo('/redirected')).toHaveLength(0);
      const hung = await sender.send({ url: `${url}/hang`, messageId: 'msg_h', body: '{}', secrets });
      expect(hung).toMatchObject({
        status: null,
        refused: false,
        detail: expect.stringContaining('no answer'),
      });
      expect(hung.durationMs).toBeLessThan(2_000);
    } finally {
      slow.closeAllConnections();
      await new Promise((resolve) => slow.close(resolve));
    }
  });
});

function createdPayload(organizationId: string, orderId: string) {
  const money = (amount: number) => ({ amount, currency: 'BAM' });
  return {
    orderId,
    eventId: uuidv7(),
    organizationId,
    buyerId: null,
    guestTokenHash: 'a'.repeat(64),
    buyerEmail: 'guest@example.test',
    buyerName: 'Guest Buyer',
    eventTitle: 'Sarajevo Jazz Night',
    lines: [{ ticketTypeId: uuidv7(), name: 'Standard', quantity: 1, unitPrice: money(4500) }],
    subtotal: money(4500),
    fees: money(0),
    taxes: money(0),
    taxBasisPoints: 0,
    total: money(4500),
    expiresAt: new Date(Date.now() + 600_000).toISOString(),
    refundPolicy: { kind: 'NONE' as const, daysBeforeStart: null, percent: null },
    eventStartsAt: '2031-09-01T18:00:00.000Z',
  };
}
