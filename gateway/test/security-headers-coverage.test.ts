/**
 * Security headers on every kind of HTTP answer (issue 18, "TLS in transit"): X-Content-Type-Options
 * and Referrer-Policy everywhere, HSTS over TLS, a CSP that forbids framing on HTML pages (theirs,
 * stricter, where a page sets one), on the gateway's public door (GraphQL, REST, problem errors,
 * 404, pages, 421, assets), its operations listener, its http→https redirect, and a subgraph's own
 * HTTP shell (createHttpApp), over real connections and a throw-away PKI.
 */
import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createHttpApp, createServiceMetrics, parseEnv } from '@bilten/platform';
import { captureLogs, freePort } from '@bilten/testkit';
import { createTestCertificates, type TestCertificates } from '@bilten/testkit/tls';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gatewayEnv, SUBGRAPH_NAMES } from '../src/config.ts';
import { gatewayOptionsFromEnv, type RunningGateway, startGateway } from '../src/server.ts';

const SUPERGRAPH = readFileSync(new URL('../../schema/supergraph.graphql', import.meta.url), 'utf8');

let certs: TestCertificates;
let gateway: RunningGateway;
let subgraph: FastifyInstance;
let subgraphUrl: string;
let opsUrl: string;

type Answer = { status: number; headers: Record<string, string | string[] | undefined> };

/** One request over https (trusting the test CA) or plain http; its status and headers. */
function call(
  url: string,
  {
    method = 'GET',
    body,
    headers = {},
  }: { method?: string; body?: string; headers?: Record<string, string> } = {},
): Promise<Answer> {
  const target = new URL(url);
  const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const request = send(
      url,
      {
        method,
        ca: certs.ca.cert,
        // The certificate names localhost, whatever Host a request claims.
        servername: 'localhost',
        agent: false,
        headers: { ...(body ? { 'content-type': 'application/json' } : {}), ...headers },
      },
      (response) => {
        response.resume();
        response.on('end', () => resolve({ status: response.statusCode!, headers: response.headers }));
      },
    );
    request.on('error', reject);
    request.end(body);
  });
}

function expectEveryAnswerHeaders(answer: Answer, where: string, tls: boolean) {
  expect(answer.headers['x-content-type-options'], where).toBe('nosniff');
  expect(answer.headers['referrer-policy'], where).toBe('no-referrer');
  if (tls) expect(answer.headers['strict-transport-security'], where).toBe('max-age=31536000');
  else expect(answer.headers['strict-transport-security'], where).toBeUndefined();
  if (String(answer.headers['content-type'] ?? '').startsWith('text/html')) {
    expect(answer.headers['content-security-policy'], where).toMatch(/frame-ancestors 'none'/);
  }
}

beforeAll(async () => {
  certs = createTestCertificates();
  // A subgraph's HTTP shell over TLS, standing in for every subgraph the gateway calls.
  subgraph = createHttpApp({
    log: captureLogs('headers-subgraph').log,
    metrics: createServiceMetrics('headers-subgraph'),
    health: [],
    tls: { ...certs.server },
  });
  subgraph.post('/graphql', async () => ({ data: { me: null } }));
  await subgraph.listen({ host: '127.0.0.1', port: 0 });
  subgraphUrl = `https://localhost:${(subgraph.server.address() as { port: number }).port}`;
  const opsPort = await freePort();
  const env = parseEnv(gatewayEnv, {
    HOST: '127.0.0.1',
    GATEWAY_PORT: '0',
    GATEWAY_OPS_PORT: String(opsPort),
    GATEWAY_OPS_HOST: '127.0.0.1',
    GATEWAY_TLS_CERT_FILE: certs.server.certFile,
    GATEWAY_TLS_KEY_FILE: certs.server.keyFile,
    GATEWAY_HTTP_REDIRECT_PORT: '0',
    GATEWAY_SUBGRAPH_CA_FILE: certs.ca.certFile,
    GATEWAY_RATE_LIMIT: 'off',
  });
  opsUrl = `http://127.0.0.1:${opsPort}`;
  gateway = await startGateway({
    ...gatewayOptionsFromEnv(env, captureLogs('headers-gateway').log),
    supergraphSdl: SUPERGRAPH,
    subgraphUrls: Object.fromEntries(SUBGRAPH_NAMES.map((name) => [name, `${subgraphUrl}/graphql`])),
  });
}, 60_000);

afterAll(async () => {
  await gateway?.stop();
  await subgraph?.close();
  certs?.remove();
});

describe('security headers on every answer', () => {
  it('the gateway’s public door: GraphQL, REST, problems, 404, pages, 421, assets', async () => {
    const origin = new URL(gateway.url).origin;
    const graphql = { method: 'POST', body: JSON.stringify({ query: '{ me { id } }' }) };
    const routes: Array<[string, string, Parameters<typeof call>[1]?]> = [
      ['GraphQL', '/graphql', graphql],
      ['GraphQL error (400)', '/graphql', { method: 'POST', body: '{not json' }],
      ['REST document', '/api/v1/openapi.json'],
      ['REST problem (404)', '/api/v1/no-such-resource'],
      ['unknown route (404)', '/no/such/route'],
      ['docs page (HTML)', '/api/docs'],
      ['account page (HTML)', '/account/verify-email?token=x'],
      ['unknown custom domain (421)', '/', { headers: { host: 'unverified.example.test' } }],
      ['missing brand asset (problem)', '/assets/brand/00000000-0000-0000-0000-000000000000/logo.png'],
    ];
    const statuses: Record<string, number> = {};
    for (const [where, path, options] of routes) {
      const answer = await call(`${origin}${path}`, options);
      statuses[where] = answer.status;
      expectEveryAnswerHeaders(answer, where, true);
    }
    expect(statuses).toMatchObject({
      GraphQL: 200,
      'GraphQL error (400)': 400,
      'REST document': 200,
      'REST problem (404)': 404,
      'unknown route (404)': 404,
      'docs page (HTML)': 200,
      'account page (HTML)': 200,
      'unknown custom domain (421)': 421,
    });
  });

  it('the gateway’s operations listener (health, metrics) and its http→https redirect', async () => {
    for (const path of ['/livez', '/readyz', '/metrics'])
      expectEveryAnswerHeaders(await call(`${opsUrl}${path}`), path, false);
    const redirect = await call(`${gateway.redirectUrl}/graphql`);
    expect(redirect.status).toBe(308);
    expectEveryAnswerHeaders(redirect, 'redirect', false);
  });

  it('a subgraph’s own answers: GraphQL, health, metrics, errors, 404; HSTS over its TLS', async () => {
    const answers: Array<[string, Answer]> = [
      ['graphql', await call(`${subgraphUrl}/graphql`, { method: 'POST', body: '{}' })],
      ['bad body', await call(`${subgraphUrl}/graphql`, { method: 'POST', body: '{not json' })],
      ['livez', await call(`${subgraphUrl}/livez`)],
      ['readyz', await call(`${subgraphUrl}/readyz`)],
      ['metrics', await call(`${subgraphUrl}/metrics`)],
      ['404', await call(`${subgraphUrl}/nothing-here`)],
    ];
    for (const [where, answer] of answers) expectEveryAnswerHeaders(answer, where, true);
    expect(answers.find(([where]) => where === '404')?.[1].status).toBe(404);
  });
});
