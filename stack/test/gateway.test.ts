import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startGateway, trustProxyFrom } from '@bilten/gateway';
import { captureLogs, graphql } from '@bilten/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SUPERGRAPH_SDL_PATH } from '../src/stack.ts';
import { CreateOrganizationDocument } from './generated/operations.ts';
import { startTestStack, TEST_LIMITS, type TestStack } from './support.ts';

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack('in-process');
});
afterAll(async () => {
  await stack?.dispose();
});

const post = (body: string, headers: Record<string, string> = {}) =>
  fetch(stack.url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });

const errorCodeOf = async (response: Response) =>
  ((await response.json()) as { errors: { extensions: { code: string } }[] }).errors[0]?.extensions.code;

describe('gateway: the public door', () => {
  it('serves the Apollo Sandbox page to browsers on GET /graphql', async () => {
    const response = await fetch(stack.url, { headers: { accept: 'text/html' } });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/html');
    expect(await response.text()).toContain('embeddable-sandbox');
  });

  it('echoes the client x-request-id and logs it on the subgraph that served the request', async () => {
    const requestId = `test-${Date.now()}`;
    const { headers, body } = await graphql(
      stack.url,
      CreateOrganizationDocument,
      { input: { name: 'Traced', slug: `traced-${Date.now()}` } },
      { 'x-request-id': requestId, ...(await stack.signUp()).headers },
    );
    expect(body.data?.createOrganization.errors).toEqual([]);
    expect(headers.get('x-request-id')).toBe(requestId);
    const identityLine = stack.logs.find(
      (line) =>
        line.service === 'identity' && line.requestId === requestId && line.msg === 'graphql operation',
    );
    expect(identityLine).toMatchObject({
      operationName: expect.stringMatching(/^CreateOrganization/),
      errors: 0,
    });
    expect(stack.logs.some((line) => line.service === 'gateway' && line.requestId === requestId)).toBe(true);
  });

  it('propagates the W3C traceparent to the subgraphs, or starts a trace when there is none', async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const requestId = `trace-${Date.now()}`;
    await graphql(stack.url, '{ events(first: 1) { edges { cursor } } }', undefined, {
      traceparent: `00-${traceId}-00f067aa0ba902b7-01`,
      'x-request-id': requestId,
    });
    const catalogLine = stack.logs.find((line) => line.service === 'catalog' && line.requestId === requestId);
    expect(catalogLine?.traceId).toBe(traceId);

    const untraced = `untraced-${Date.now()}`;
    await graphql(stack.url, '{ events(first: 1) { edges { cursor } } }', undefined, {
      'x-request-id': untraced,
    });
    const started = stack.logs.find((line) => line.service === 'catalog' && line.requestId === untraced);
    expect(started?.traceId).toMatch(/^[0-9a-f]{32}$/);
  });

  it('creates a request id when the client sends none, or an unsafe one', async () => {
    const plain = await post('{"query":"{ __typename }"}');
    expect(plain.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    const unsafe = await post('{"query":"{ __typename }"}', { 'x-request-id': 'a b\tc'.repeat(50) });
    expect(unsafe.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('answers malformed JSON with 400 and a JSON error', async () => {
    const response = await post('{"query": "{ __typename }"');
    expect(response.status).toBe(400);
    expect(await errorCodeOf(response)).toBe('BAD_REQUEST');
  });

  it('rejects an unknown field with a validation error', async () => {
    const { body } = await graphql(stack.url, '{ events { edges { node { nonsense } } } }');
    expect(body.errors?.[0]).toMatchObject({
      message: expect.stringContaining('Cannot query field "nonsense"'),
      extensions: { code: 'GRAPHQL_VALIDATION_FAILED' },
    });
  });

  it('never leaks internals: a bad variable type is a clear error, not a stack trace', async () => {
    const { body } = await graphql(stack.url, CreateOrganizationDocument, {
      input: { name: 42, slug: null },
    } as never);
    expect(body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(JSON.stringify(body)).not.toMatch(/stack|at .*\.ts/);
  });

  it('serves /livez, /readyz, and Prometheus /metrics with operation latency on its operations port', async () => {
    const base = stack.url.replace('/graphql', '');
    expect((await fetch(`${base}/livez`)).status).toBe(200);
    expect(await (await fetch(`${base}/readyz`)).json()).toMatchObject({ status: 'ok' });
    const metrics = await (await fetch(`${stack.operationsUrl}/metrics`)).text();
    expect(metrics).toContain('graphql_operation_duration_seconds_bucket');
    expect(metrics).toContain('http_request_duration_seconds_bucket');
    expect(metrics).toMatch(/graphql_errors_total\{[^}]*code="GRAPHQL_VALIDATION_FAILED"/);
    // No outbox, no consumers: no event series that would always read 0.
    expect(metrics).not.toMatch(/^(outbox_|events_|event_)/m);
  });
});

describe('gateway → subgraph headers', () => {
  it('forwards authorization, x-request-id, traceparent, the client address and user agent to the subgraph', async () => {
    // A recording hop in front of the real identity subgraph.
    const seen: IncomingHttpHeaders[] = [];
    const recorder = createServer(async (request, response) => {
      seen.push(request.headers);
      const body = await new Response(request as unknown as ReadableStream).text();
      const upstream = await fetch(stack.subgraphs.identity.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      });
      response.writeHead(upstream.status, { 'content-type': 'application/json' });
      response.end(await upstream.text());
    });
    recorder.listen(0, '127.0.0.1');
    await once(recorder, 'listening');
    const gateway = await startGateway({
      supergraphSdl: readFileSync(SUPERGRAPH_SDL_PATH, 'utf8'),
      subgraphUrls: { identity: `http://127.0.0.1:${(recorder.address() as AddressInfo).port}/graphql` },
      limits: TEST_LIMITS,
      blockFieldSuggestions: false,
      log: captureLogs('gateway').log,
      host: '127.0.0.1',
      port: 0,
    });
    try {
      const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
      const { body } = await graphql(
        gateway.url,
        '{ organizationBySlug(slug: "nobody") { id } }',
        undefined,
        {
          authorization: 'Bearer token-123',
          'x-request-id': 'forwarded-1',
          traceparent,
          'user-agent': 'BiltenWeb/1.0',
          // Not from a trusted proxy: the client's own claim, replaced by the address it came from.
          'x-forwarded-for': '203.0.113.66',
        },
      );
      expect(body).toEqual({ data: { organizationBySlug: null } });
      expect(seen).toHaveLength(1);
      expect(seen[0]).toMatchObject({
        authorization: 'Bearer token-123',
        'x-request-id': 'forwarded-1',
        traceparent,
        'user-agent': 'BiltenWeb/1.0',
        'x-forwarded-for': '127.0.0.1',
        'x-real-ip': '127.0.0.1',
      });
    } finally {
      await gateway.stop();
    }

    // Behind a trusted proxy (GATEWAY_TRUST_PROXY), the address it names is the client.
    const proxied = await startGateway({
      supergraphSdl: readFileSync(SUPERGRAPH_SDL_PATH, 'utf8'),
      subgraphUrls: { identity: `http://127.0.0.1:${(recorder.address() as AddressInfo).port}/graphql` },
      limits: TEST_LIMITS,
      blockFieldSuggestions: false,
      trustProxy: trustProxyFrom('127.0.0.1'),
      log: captureLogs('gateway').log,
      host: '127.0.0.1',
      port: 0,
    });
    try {
      await graphql(proxied.url, '{ organizationBySlug(slug: "nobody") { id } }', undefined, {
        'x-forwarded-for': '198.51.100.23',
      });
      expect(seen[1]).toMatchObject({ 'x-forwarded-for': '198.51.100.23', 'x-real-ip': '198.51.100.23' });
    } finally {
      await proxied.stop();
      recorder.close();
    }
  });
});
