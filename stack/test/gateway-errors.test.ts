import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { promisify } from 'node:util';
import { startGateway } from '@bilten/gateway';
import { captureLogs } from '@bilten/testkit';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { SUPERGRAPH_SDL_PATH } from '../src/stack.ts';
import { startTestStack, TEST_LIMITS, type TestStack } from './support.ts';

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack('in-process');
});
afterAll(async () => {
  await stack?.dispose();
});

interface Answer {
  status: number;
  body: { data?: unknown; errors?: { message: string; extensions?: { code?: string } }[] };
  /** Lines any service logged at error level (pino 50) or above while it was answered. */
  errorLogs: Record<string, unknown>[];
}

async function postOperation(query: string, operationName?: string): Promise<Answer> {
  const mark = stack.logs.length;
  const response = await fetch(stack.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query, operationName }),
  });
  const body = (await response.json()) as Answer['body'];
  const errorLogs = stack.logs.slice(mark).filter((line) => Number(line.level) >= 50);
  return { status: response.status, body, errorLogs };
}

const repeat = (count: number, text: (i: number) => string) =>
  Array.from({ length: count }, (_, i) => text(i)).join(' ');

describe('gateway: a bad operation is the client’s error (4xx), never the server’s', () => {
  it('answers an operation over the token limit with 400 and a clear message, not 500', async () => {
    // `{`, `}` and three tokens per alias: exactly GATEWAY_MAX_TOKENS tokens pass, one more does not.
    const aliases = repeat((TEST_LIMITS.maxTokens - 2) / 3, (i) => `a${i}: __typename`);
    const atLimit = await postOperation(`{ ${aliases} }`);
    expect(atLimit.status).toBe(200);

    for (const query of [`{ ${aliases} __typename }`, `{ ${repeat(1000, (i) => `a${i}: __typename`)} }`]) {
      const over = await postOperation(query);
      expect(over.status).toBe(400);
      expect(over.body.data).toBeUndefined();
      expect(over.body.errors).toEqual([
        {
          message: `Token limit of ${TEST_LIMITS.maxTokens} exceeded: the operation is too large.`,
          locations: [expect.any(Object)],
          extensions: { code: 'GRAPHQL_PARSE_FAILED' },
        },
      ]);
      expect(over.errorLogs).toEqual([]);
    }
  });

  it('answers a subscription over HTTP with 400: subscriptions are not available over HTTP', async () => {
    // Valid subscriptions (the supergraph has a Subscription type): they are served over graphql-ws.
    const id = '00000000-0000-7000-8000-000000000000';
    for (const query of [
      `subscription { ticketAvailability(eventId: "${id}") { id } }`,
      `subscription OnEvent { orderUpdated(orderId: "${id}") { id } }`,
    ]) {
      const answer = await postOperation(query);
      expect(answer.status).toBe(400);
      expect(answer.body.errors).toEqual([
        {
          message: 'Subscriptions are not available over HTTP: this endpoint serves queries and mutations.',
          extensions: { code: 'BAD_REQUEST' },
        },
      ]);
      expect(answer.errorLogs).toEqual([]);
    }
  });

  it('answers a document whose operation cannot be picked with 400, not 500', async () => {
    const twoOperations = 'query A { __typename } query B { __typename }';
    for (const [operationName, message] of [
      [undefined, 'Must provide operation name if query contains multiple operations.'],
      ['C', 'Unknown operation named "C".'],
    ] as const) {
      const answer = await postOperation(twoOperations, operationName);
      expect(answer.status).toBe(400);
      expect(answer.body.errors).toEqual([{ message, extensions: { code: 'OPERATION_RESOLUTION_FAILURE' } }]);
      expect(answer.errorLogs).toEqual([]);
    }
    expect((await postOperation(twoOperations, 'B')).body).toEqual({ data: { __typename: 'Query' } });
  });

  it.each([
    {
      name: 'over the depth limit',
      query: `{ ticketType(id: "x") { ${'event { ticketTypes { '.repeat(20)}id${' } }'.repeat(20)} } }`,
      message: /Query depth limit of 12 exceeded, found 4\d/,
    },
    {
      name: 'over the aliases limit',
      query: `{ ${repeat(TEST_LIMITS.maxAliases + 1, (i) => `e${i}: events(first: 1) { edges { cursor } }`)} }`,
      message: new RegExp(
        `Aliases limit of ${TEST_LIMITS.maxAliases} exceeded, found ${TEST_LIMITS.maxAliases + 1}`,
      ),
    },
    {
      name: 'over the cost limit',
      query: `{ ${repeat(25, (i) => `e${i}: events(first: 100) { edges { node { id title ticketTypes { id name } } } }`)} }`,
      message: /Query Cost limit of 5000 exceeded/,
    },
    {
      name: 'over the directives limit',
      query: `{ __typename ${'@skip(if: false) '.repeat(51)}}`,
      message: /Directives limit of 50 exceeded/,
    },
    {
      name: 'with an unknown field',
      query: '{ events { edges { node { nonsense } } } }',
      message: /Cannot query field "nonsense" on type "Event"/,
    },
  ])('answers an operation $name with 400 GRAPHQL_VALIDATION_FAILED', async ({ query, message }) => {
    const answer = await postOperation(query);
    expect(answer.status).toBe(400);
    expect(answer.body.data).toBeUndefined();
    expect(answer.body.errors?.map((error) => error.message)).toContainEqual(expect.stringMatching(message));
    expect(answer.body.errors?.every((error) => error.extensions?.code === 'GRAPHQL_VALIDATION_FAILED')).toBe(
      true,
    );
    expect(answer.errorLogs).toEqual([]);
  });

  it('answers a syntax error with 400 GRAPHQL_PARSE_FAILED', async () => {
    const answer = await postOperation('{ events { edges ');
    expect(answer.status).toBe(400);
    expect(answer.body.errors?.[0]?.extensions?.code).toBe('GRAPHQL_PARSE_FAILED');
    expect(answer.errorLogs).toEqual([]);
  });
});

/**
 * Posts bodies over the limit from another process, as real clients do: in the test's own process
 * the server's reads and the client's writes share one event loop, which hides the race between
 * the client still sending and the server closing.
 */
const CLIENT = `
import { request } from 'node:http';
const [url, sizes] = JSON.parse(process.argv[1]);
const results = [];
const outcome = async (client, size, send) => {
  try { results.push({ client, size, ...(await send()) }); }
  catch (error) { results.push({ client, size, error: String(error.cause?.code ?? error.cause?.message ?? error.message) }); }
};
// A connection error even after the answer (EPIPE while still sending) counts as a failure.
const viaHttp = (body, chunked) => new Promise((resolve, reject) => {
  let failure;
  const req = request(url, { method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
    let text = '';
    res.on('data', (chunk) => { text += chunk; });
    res.on('end', () => setTimeout(() => failure ? reject(failure) : resolve({ status: res.statusCode, code: JSON.parse(text).errors[0].extensions.code }), 50));
  });
  req.on('error', (error) => { failure = error; reject(error); });
  if (!chunked) return req.end(body);
  for (let i = 0; i < body.length; i += 65536) req.write(body.slice(i, i + 65536));
  req.end();
});
for (const size of sizes) {
  const body = JSON.stringify({ query: '{ __typename }', variables: { pad: 'x'.repeat(size) } });
  for (let attempt = 0; attempt < 5; attempt++) {
    await outcome('fetch', size, async () => {
      const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      return { status: response.status, code: (await response.json()).errors[0].extensions.code };
    });
    await outcome('http.request', size, () => viaHttp(body, false));
    await outcome('http.request chunked', size, () => viaHttp(body, true));
  }
}
await outcome('fetch after', 0, async () => {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query":"{ __typename }"}' });
  return { status: response.status, code: null };
});
console.log(JSON.stringify(results));
`;

/** One HTTP/1.1 connection driven by hand: what it received, its errors, and when it closed. */
function rawConnection(url: string) {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  let received = '';
  let firstReceivedAt = 0;
  const errors: string[] = [];
  socket.on('data', (chunk) => {
    firstReceivedAt ||= Date.now();
    received += chunk;
  });
  socket.on('error', (error: NodeJS.ErrnoException) => errors.push(error.code ?? error.message));
  const write = (data: string | Buffer) =>
    new Promise<void>((resolve, reject) =>
      socket.write(data, (error) => (error ? reject(error) : resolve())),
    );
  const closed = new Promise<number>((resolve) => socket.once('close', () => resolve(Date.now())));
  return { socket, write, received: () => received, firstReceivedAt: () => firstReceivedAt, errors, closed };
}

const BODY_SIZE = 2 * 1024 * 1024;
const postHead = (size: number) =>
  `POST /graphql HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\nContent-Length: ${size}\r\n\r\n`;

describe('gateway: a body over the limit', () => {
  it('answers 413 that fetch and http.request in another process read, a 2 MB POST and a 5 MB one', async () => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--input-type=module', '-e', CLIENT, JSON.stringify([stack.url, [BODY_SIZE, 5 * 1024 * 1024]])],
      { timeout: 60_000, maxBuffer: 1024 * 1024 },
    );
    const results = JSON.parse(stdout) as {
      client: string;
      size: number;
      status?: number;
      code?: string;
      error?: string;
    }[];
    const failed = results.filter(
      (result) => result.error || result.status !== (result.client === 'fetch after' ? 200 : 413),
    );
    expect(failed).toEqual([]);
    expect(results).toHaveLength(2 * 5 * 3 + 1);
    expect(new Set(results.filter((result) => result.status === 413).map((result) => result.code))).toEqual(
      new Set(['PAYLOAD_TOO_LARGE']),
    );
  });

  it('answers before the body has arrived, then reads the rest and keeps the connection for the next request', async () => {
    const connection = rawConnection(stack.url);
    await connection.write(postHead(BODY_SIZE) + 'x'.repeat(64 * 1024));
    await vi.waitFor(() => expect(connection.received()).toMatch(/^HTTP\/1\.1 413 /));
    expect(connection.received()).not.toMatch(/^connection: close/im);

    const rest = Buffer.alloc(BODY_SIZE - 64 * 1024, 'x');
    for (let sent = 0; sent < rest.length; sent += 64 * 1024) {
      await connection.write(rest.subarray(sent, sent + 64 * 1024));
    }
    await connection.write('GET /livez HTTP/1.1\r\nHost: gateway\r\n\r\n');
    await vi.waitFor(() => expect(connection.received()).toMatch(/HTTP\/1\.1 200 [\s\S]*"status":"ok"/));
    expect(connection.errors).toEqual([]);
    connection.socket.destroy();
  });

  it('closes the connection when the rest of a refused body has not come within the grace period', async () => {
    const gateway = await startGateway({
      supergraphSdl: readFileSync(SUPERGRAPH_SDL_PATH, 'utf8'),
      subgraphUrls: {},
      limits: { ...TEST_LIMITS, unreadBodyGraceMs: 300 },
      blockFieldSuggestions: false,
      log: captureLogs('gateway').log,
      host: '127.0.0.1',
      port: 0,
    });
    try {
      const connection = rawConnection(gateway.url);
      await connection.write(postHead(BODY_SIZE) + 'x'.repeat(64 * 1024));
      await vi.waitFor(() => expect(connection.received()).toMatch(/^HTTP\/1\.1 413 /));
      // The client stalls with most of its body unsent: the connection lasts the grace period, no more.
      const open = (await connection.closed) - connection.firstReceivedAt();
      expect(open).toBeGreaterThanOrEqual(250);
      expect(open).toBeLessThan(5_000);
    } finally {
      await gateway.stop();
    }
  });

  it('outlives the grace period after an account page ran its mutation in-process (no socket to cut)', async () => {
    const logs = captureLogs('gateway');
    const gateway = await startGateway({
      supergraphSdl: readFileSync(SUPERGRAPH_SDL_PATH, 'utf8'),
      subgraphUrls: {},
      limits: { ...TEST_LIMITS, unreadBodyGraceMs: 100 },
      blockFieldSuggestions: false,
      log: logs.log,
      host: '127.0.0.1',
      port: 0,
    });
    try {
      const page = new URL('/account/verify-email', gateway.url);
      const posted = await fetch(page, {
        method: 'POST',
        headers: { origin: page.origin, 'content-type': 'application/x-www-form-urlencoded' },
        body: 'token=not-a-real-token',
      });
      // No identity here: the page answers that it cannot verify now (502); what matters is what follows.
      expect(posted.status).toBe(502);
      // Before the fix, the in-process request's stand-in socket threw from a timer here.
      await new Promise((resolve) => setTimeout(resolve, 400));
      expect((await fetch(new URL('/livez', gateway.url))).status).toBe(200);
    } finally {
      await gateway.stop();
    }
  });
});
