/**
 * Issue 12, "hardening what exists", at the public door: what clients can make the gateway keep
 * (metric labels), what its errors give away, and what it shows besides the API (/metrics,
 * suggestions, Sandbox, headers).
 */
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  gatewayEnv,
  gatewayOptionsFromEnv,
  type RunningGateway,
  startGateway,
  trustProxyFrom,
} from '@bilten/gateway';
import { MAX_OPERATION_LABELS, OTHER_LABEL, parseEnv, type RawEnv } from '@bilten/platform';
import { captureLogs, createTestSigner, freePort } from '@bilten/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SUPERGRAPH_SDL_PATH } from '../src/stack.ts';
import { internalsIn, startTestStack, TEST_LIMITS, type TestStack } from './support.ts';

const signer = await createTestSigner();
/** A key nobody trusts. */
const other = await createTestSigner();
let stack: TestStack;
beforeAll(async () => {
  // Subgraphs trust this signer, so tests can forge expired and badly signed tokens.
  stack = await startTestStack('in-process', { auth: { jwks: signer.jwks } });
});
afterAll(async () => {
  await stack?.dispose();
});

interface GraphQLBody {
  data?: unknown;
  errors?: { message: string; extensions?: { code?: string } }[];
}

const post = async (url: string, body: unknown, headers: Record<string, string> = {}) => {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return { headers: response.headers, text: await response.text() };
};
const errorsOf = (text: string) => (JSON.parse(text) as GraphQLBody).errors ?? [];

/** A gateway in front of the test stack's subgraphs, configured from variables as in a deployment. */
async function gatewayFromEnv(env: RawEnv): Promise<RunningGateway> {
  const config = parseEnv(gatewayEnv, { HOST: '127.0.0.1', GATEWAY_PORT: '0', ...env });
  return startGateway({
    ...gatewayOptionsFromEnv(config, captureLogs('gateway').log),
    supergraphSdl: readFileSync(SUPERGRAPH_SDL_PATH, 'utf8'),
    subgraphUrls: Object.fromEntries(Object.values(stack.subgraphs).map(({ name, url }) => [name, url])),
  });
}

/** The distinct values of one label in a Prometheus text exposition. */
const labelValues = (text: string, label: string) =>
  new Set([...text.matchAll(new RegExp(`[{,]${label}="([^"]*)"`, 'g'))].map(([, value]) => value!));

const EVENTS = '{ events(first: 1) { edges { cursor } } }';

describe('metric labels: what clients name costs bounded memory', () => {
  it('many distinct, long operation names leave /metrics small and the labels bounded, at the gateway and the subgraphs', async () => {
    // A GraphQL name is one token: only the body limit bounds it.
    for (let i = 0; i < 20; i++) {
      await post(stack.url, { query: `query Long${i}_${'x'.repeat(100_000)} ${EVENTS}` });
    }
    for (let i = 0; i < MAX_OPERATION_LABELS + 50; i++) {
      await post(stack.url, { query: `query Short${i} ${EVENTS}` });
    }
    for (const metricsUrl of [
      `${stack.operationsUrl}/metrics`,
      stack.subgraphs.catalog.url.replace('/graphql', '/metrics'),
    ]) {
      const text = await (await fetch(metricsUrl)).text();
      expect(text, metricsUrl).toContain('graphql_operation_duration_seconds_bucket');
      expect(text.length, metricsUrl).toBeLessThan(1_000_000);
      const operations = labelValues(text, 'operation');
      expect(operations.size, metricsUrl).toBeLessThanOrEqual(MAX_OPERATION_LABELS + 1);
      expect(operations, metricsUrl).toContain(OTHER_LABEL);
    }
  });
});

describe('errors: nothing of ours reaches a client', () => {
  it('the check recognises what the gateway used to send for a bad token, SQL and stack traces', () => {
    const rawUnauthorized = {
      message: '401: Unauthorized',
      extensions: {
        response: { url: 'http://127.0.0.1:4001/graphql', status: 401, statusText: 'Unauthorized' },
        code: 'UNAUTHENTICATED',
      },
    };
    expect(internalsIn(JSON.stringify([rawUnauthorized]))).toEqual([
      'a URL',
      'a loopback address',
      "a subgraph's raw answer",
    ]);
    expect(
      internalsIn('[{"message":"Failed query: select \\"id\\" from \\"catalog\\".\\"events\\""}]'),
    ).toEqual(['SQL']);
    expect(internalsIn('relation "catalog.events" does not exist')).toEqual(['SQL']);
    expect(internalsIn('{"stacktrace":["    at run (/app/gateway/src/server.ts:10:5)"]}')).toEqual([
      'a stack trace',
    ]);
    expect(internalsIn('connect ECONNREFUSED catalog:4002')).toEqual(['a socket error']);
    expect(internalsIn('Cannot query field "nonsense" on type "Event".')).toEqual([]);
  });

  it('accepts a good token (so what follows is about the tokens)', async () => {
    const answer = await post(
      stack.url,
      { query: EVENTS },
      { authorization: `Bearer ${await signer.sign()}` },
    );
    expect(errorsOf(answer.text)).toEqual([]);
  });

  it.each([
    { name: 'malformed', authorization: async () => 'Bearer not-a-token' },
    { name: 'three parts of nonsense', authorization: async () => 'Bearer aaa.bbb.ccc' },
    { name: 'not a bearer token', authorization: async () => 'Basic dXNlcjpwYXNz' },
    { name: 'overlong', authorization: async () => `Bearer ${'a'.repeat(5_000)}` },
    { name: 'signed by someone else', authorization: async () => `Bearer ${await other.sign()}` },
    {
      name: 'signed by someone else, naming a session',
      authorization: async () => `Bearer ${await other.sign({ sid: randomUUID() })}`,
    },
    { name: 'expired', authorization: async () => `Bearer ${await signer.sign({}, { expiresIn: '-5m' })}` },
    {
      name: 'expired, naming a session',
      authorization: async () => `Bearer ${await signer.sign({ sid: randomUUID() }, { expiresIn: '-5m' })}`,
    },
    {
      name: 'for another audience',
      authorization: async () => `Bearer ${await signer.sign({}, { audience: 'x' })}`,
    },
    { name: 'an unknown API key', authorization: async () => `Bearer bk_live_${'A'.repeat(43)}` },
  ])('answers a bad token ($name) with UNAUTHENTICATED and nothing of ours', async ({ authorization }) => {
    const answer = await post(
      stack.url,
      { query: '{ events(first: 1) { edges { cursor } } me { id } }' },
      { authorization: await authorization() },
    );
    const errors = errorsOf(answer.text);
    expect(errors.length).toBeGreaterThan(0);
    expect(errors.map((error) => error.extensions?.code)).toEqual(errors.map(() => 'UNAUTHENTICATED'));
    expect(internalsIn(answer.text), answer.text).toEqual([]);
  });

  it('answers a subgraph that fails in any way with errors that name none of its internals', async () => {
    // Stands where catalog would be: a subgraph, or a proxy before it, misbehaving.
    let answer: (response: ServerResponse) => void = () => {};
    const upstream: Server = createServer((request, response) => {
      request.resume();
      request.on('end', () => answer(response));
    });
    upstream.listen(0, '127.0.0.1');
    await once(upstream, 'listening');
    const catalogUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/graphql`;
    const logs = captureLogs('gateway');
    const gateway = await startGateway({
      supergraphSdl: readFileSync(SUPERGRAPH_SDL_PATH, 'utf8'),
      subgraphUrls: { catalog: catalogUrl },
      limits: TEST_LIMITS,
      blockFieldSuggestions: false,
      log: logs.log,
      host: '127.0.0.1',
      port: 0,
    });
    const json = (status: number, body: unknown) => (response: ServerResponse) =>
      response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    const stacktrace = [
      'Error: boom',
      '    at query (/app/node_modules/postgres/cjs/src/connection.js:790:26)',
    ];
    try {
      for (const { name, respond, code } of [
        {
          name: '401 with its own error',
          respond: json(401, {
            errors: [
              { message: 'access token is invalid or expired', extensions: { code: 'UNAUTHENTICATED' } },
            ],
          }),
          code: 'UNAUTHENTICATED',
        },
        {
          name: "502 from a proxy's HTML page",
          respond: (response: ServerResponse) =>
            response
              .writeHead(502, { 'content-type': 'text/html' })
              .end('<h1>502</h1> upstream http://10.0.0.7:4002 failed (111: ECONNREFUSED) at localhost:8080'),
          code: 'INTERNAL',
        },
        {
          name: '500 with SQL and a stack trace',
          respond: json(500, {
            errors: [
              {
                message: 'relation "catalog.events" does not exist',
                extensions: { code: 'INTERNAL_SERVER_ERROR', stacktrace },
              },
            ],
          }),
          code: 'INTERNAL',
        },
        {
          name: '200 that is not JSON',
          respond: (response: ServerResponse) =>
            response.writeHead(200, { 'content-type': 'text/plain' }).end('see http://127.0.0.1:4002/debug'),
          code: 'INTERNAL',
        },
        {
          name: '200 with an unexpected error',
          respond: json(200, {
            data: null,
            errors: [
              {
                message: 'select * from catalog.events failed',
                extensions: { code: 'INTERNAL_SERVER_ERROR' },
              },
            ],
          }),
          code: 'INTERNAL',
        },
        {
          name: '200 with a client error carrying its exception',
          respond: json(200, {
            data: null,
            errors: [
              {
                message: 'first: must be between 1 and 100',
                extensions: { code: 'BAD_USER_INPUT', exception: { stacktrace }, stacktrace },
              },
            ],
          }),
          code: 'BAD_USER_INPUT',
        },
      ]) {
        answer = respond;
        const reply = await post(gateway.url, { query: EVENTS });
        const errors = errorsOf(reply.text);
        expect(
          errors.map((error) => error.extensions?.code),
          name,
        ).toEqual([code]);
        expect(internalsIn(reply.text), `${name}: ${reply.text}`).toEqual([]);
      }
      // Operators still learn what the subgraph said.
      expect(logs.lines).toContainEqual(
        expect.objectContaining({
          msg: 'subgraph answered an error status',
          subgraph: 'catalog',
          status: 502,
        }),
      );

      upstream.close();
      await once(upstream, 'close');
      const down = await post(gateway.url, { query: EVENTS });
      expect(errorsOf(down.text).map((error) => error.extensions?.code)).toEqual(['INTERNAL']);
      expect(internalsIn(down.text), down.text).toEqual([]);
    } finally {
      await gateway.stop();
      if (upstream.listening) upstream.close();
    }
  });

  it.each([
    { name: 'malformed JSON', body: '{"query": "{ __typename }"', contentType: 'application/json' },
    { name: 'an unknown media type', body: '<query/>', contentType: 'application/xml' },
    {
      name: 'a bad variable',
      body: JSON.stringify({
        query: 'query($n: Int) { events(first: $n) { edges { cursor } } }',
        variables: { n: 'x' },
      }),
    },
    {
      name: 'a page too large',
      body: JSON.stringify({ query: '{ events(first: 100000) { edges { cursor } } }' }),
    },
    {
      name: 'a forged cursor',
      body: JSON.stringify({ query: '{ events(first: 1, after: "bm9wZQ") { edges { cursor } } }' }),
    },
    {
      name: 'an unknown operation',
      body: JSON.stringify({ query: 'query A { __typename }', operationName: 'B' }),
    },
    { name: 'a syntax error', body: JSON.stringify({ query: '{ events(' }) },
  ])('answers $name without internals', async ({ body, contentType = 'application/json' }) => {
    const response = await fetch(stack.url, {
      method: 'POST',
      headers: { 'content-type': contentType },
      body,
    });
    const text = await response.text();
    expect(errorsOf(text).length, text).toBeGreaterThan(0);
    expect(internalsIn(text), text).toEqual([]);
  });

  it('answers a failing database with INTERNAL and no SQL', async () => {
    await stack.sql`alter table catalog.events rename to events_away`;
    try {
      const answer = await post(stack.url, { query: EVENTS });
      expect(errorsOf(answer.text).map((error) => error.extensions?.code)).toEqual(['INTERNAL']);
      expect(internalsIn(answer.text), answer.text).toEqual([]);
    } finally {
      await stack.sql`alter table catalog.events_away rename to events`;
    }
  });
});

describe('the operations surface', () => {
  it('serves /metrics only on the operations listener, on loopback; /livez and /readyz on both', async () => {
    const publicBase = stack.url.replace('/graphql', '');
    expect((await fetch(`${publicBase}/metrics`)).status).toBe(404);
    expect(new URL(stack.operationsUrl).hostname).toBe('127.0.0.1');
    const metrics = await fetch(`${stack.operationsUrl}/metrics`);
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toContain('http_request_duration_seconds_bucket');
    for (const base of [publicBase, stack.operationsUrl]) {
      expect((await fetch(`${base}/livez`)).status, base).toBe(200);
      expect(await (await fetch(`${base}/readyz`)).json(), base).toMatchObject({ status: 'ok' });
    }
  });

  it('listens for operations only where GATEWAY_OPS_PORT says, on loopback unless GATEWAY_OPS_HOST says otherwise', async () => {
    const { log } = captureLogs('gateway');
    expect(gatewayOptionsFromEnv(parseEnv(gatewayEnv, {}), log).operations).toBeUndefined();
    expect(
      gatewayOptionsFromEnv(parseEnv(gatewayEnv, { GATEWAY_OPS_PORT: '' }), log).operations,
    ).toBeUndefined();
    expect(gatewayOptionsFromEnv(parseEnv(gatewayEnv, { GATEWAY_OPS_PORT: '9464' }), log).operations).toEqual(
      {
        host: '127.0.0.1',
        port: 9464,
      },
    );
    const port = await freePort();
    const gateway = await gatewayFromEnv({ GATEWAY_OPS_PORT: String(port) });
    try {
      expect(gateway.operationsUrl).toBe(`http://127.0.0.1:${port}`);
      expect(await (await fetch(`${gateway.operationsUrl}/metrics`)).text()).toContain('service="gateway"');
      expect((await fetch(gateway.url.replace('/graphql', '/metrics'))).status).toBe(404);
    } finally {
      await gateway.stop();
    }
  });
});

describe('production: the API and nothing more', () => {
  let production: RunningGateway;
  let withSandbox: RunningGateway;
  beforeAll(async () => {
    production = await gatewayFromEnv({ NODE_ENV: 'production' });
    withSandbox = await gatewayFromEnv({ NODE_ENV: 'production', GATEWAY_SANDBOX: 'on' });
  });
  afterAll(async () => {
    await production?.stop();
    await withSandbox?.stop();
  });

  it.each([
    { name: 'a field', body: { query: '{ evnts(first: 1) { edges { cursor } } }' } },
    { name: 'an argument', body: { query: '{ events(frist: 1) { edges { cursor } } }' } },
    { name: 'an enum value', body: { query: '{ events(sort: NEWES) { edges { cursor } } }' } },
    {
      name: "a variable's enum value",
      body: {
        query: 'query($sort: EventSort) { events(sort: $sort) { edges { cursor } } }',
        variables: { sort: 'NEWES' },
      },
    },
    {
      name: 'a type',
      body: { query: 'query($sort: EventSrot) { events(sort: $sort) { edges { cursor } } }' },
    },
  ])('suggests nothing for a misspelt $name (development does)', async ({ body }) => {
    const development = errorsOf((await post(stack.url, body)).text);
    expect(development.map((error) => error.message).join(' ')).toMatch(/Did you mean/);
    const errors = errorsOf((await post(production.url, body)).text);
    expect(errors.length).toBeGreaterThan(0);
    for (const { message } of errors)
      expect(message).not.toMatch(/Did you mean|Suggestion hidden|NEWEST|"first"|"events"/);
  });

  it('serves no Sandbox and no introspection unless GATEWAY_SANDBOX=on', async () => {
    const page = async (gateway: RunningGateway) =>
      (await fetch(gateway.url, { headers: { accept: 'text/html' } })).text();
    expect(await page(production)).not.toContain('embeddable-sandbox');
    expect(await page(withSandbox)).toContain('embeddable-sandbox');
    const introspection = { query: '{ __schema { queryType { name } } }' };
    expect(errorsOf((await post(production.url, introspection)).text).length).toBeGreaterThan(0);
    expect(JSON.parse((await post(withSandbox.url, introspection)).text)).toEqual({
      data: { __schema: { queryType: { name: 'Query' } } },
    });
  });
});

describe('security headers', () => {
  const answers = () => {
    const base = stack.url.replace('/graphql', '');
    const graphqlPost = (body: string, contentType = 'application/json') =>
      fetch(stack.url, { method: 'POST', headers: { 'content-type': contentType }, body });
    return {
      'a GraphQL answer': () => graphqlPost(JSON.stringify({ query: '{ __typename }' })),
      'malformed JSON': () => graphqlPost('{'),
      'an unknown media type': () => graphqlPost('<q/>', 'application/xml'),
      'an unknown route': () => fetch(`${base}/nope`),
      '/livez': () => fetch(`${base}/livez`),
      'the signing keys': () => fetch(`${base}/.well-known/jwks.json`),
      'the Sandbox page': () => fetch(stack.url, { headers: { accept: 'text/html' } }),
      'an account page': () => fetch(`${base}/account/verify-email?token=x`),
    };
  };

  it('sends nosniff and no-referrer on every answer, forbids framing pages, and no HSTS over http', async () => {
    for (const [name, request] of Object.entries(answers())) {
      const response = await request();
      await response.arrayBuffer();
      expect(response.headers.get('x-content-type-options'), name).toBe('nosniff');
      expect(response.headers.get('referrer-policy'), name).toBe('no-referrer');
      if (response.headers.get('content-type')?.startsWith('text/html')) {
        expect(response.headers.get('x-frame-options'), name).toBe('DENY');
        expect(response.headers.get('content-security-policy'), name).toContain("frame-ancestors 'none'");
      }
      expect(response.headers.get('strict-transport-security'), name).toBeNull();
    }
    const page = await answers()['the Sandbox page']();
    expect(page.headers.get('content-type')).toContain('text/html');
  });

  it('sends HSTS over https, as a trusted proxy says, never on the word of anyone else', async () => {
    const overHttps = { 'x-forwarded-proto': 'https' };
    const untrusted = await post(stack.url, { query: '{ __typename }' }, overHttps);
    expect(untrusted.headers.get('strict-transport-security')).toBeNull();

    const behindProxy = await startGateway({
      supergraphSdl: readFileSync(SUPERGRAPH_SDL_PATH, 'utf8'),
      subgraphUrls: {},
      limits: TEST_LIMITS,
      blockFieldSuggestions: false,
      trustProxy: trustProxyFrom('127.0.0.1'),
      log: captureLogs('gateway').log,
      host: '127.0.0.1',
      port: 0,
    });
    try {
      const trusted = await post(behindProxy.url, { query: '{ __typename }' }, overHttps);
      expect(trusted.headers.get('strict-transport-security')).toBe('max-age=31536000');
      const plain = await post(behindProxy.url, { query: '{ __typename }' });
      expect(plain.headers.get('strict-transport-security')).toBeNull();
    } finally {
      await behindProxy.stop();
    }
  });
});
