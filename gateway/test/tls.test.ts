/**
 * TLS at the gateway, over real connections with a throw-away PKI: HTTPS with HSTS at the public
 * door, the plain-http listener that redirects there (ACME challenges excepted), and TLS with
 * mutual authentication to subgraphs (stand-ins served by the subgraphs' own HTTP shell).
 */
import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { TLSSocket } from 'node:tls';
import {
  ConfigError,
  createHttpApp,
  createServiceMetrics,
  type HttpsOptions,
  parseEnv,
  platformEnv,
  subgraphTlsFrom,
} from '@bilten/platform';
import { captureLogs } from '@bilten/testkit';
import { createTestCertificates, type TestCertificate, type TestCertificates } from '@bilten/testkit/tls';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { gatewayEnv, SUBGRAPH_NAMES } from '../src/config.ts';
import { gatewayOptionsFromEnv, type RunningGateway, startGateway, tlsOptionsFrom } from '../src/server.ts';

const SUPERGRAPH = readFileSync(new URL('../../schema/supergraph.graphql', import.meta.url), 'utf8');
const TOKEN = 'evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA';

let certs: TestCertificates;
let gateway: RunningGateway;
/** Subgraph stand-ins: `trusted` asks for the gateway's client certificate; the others fail it. */
const subgraphs: Record<'trusted' | 'unknownCa' | 'strangersOnly', { app: FastifyInstance; url: string }> =
  {} as never;
/** Common names of the client certificates `trusted` saw. */
const clientNames: string[] = [];

async function standIn(tls: HttpsOptions) {
  const app = createHttpApp({
    log: captureLogs('tls-subgraph').log,
    metrics: createServiceMetrics('tls-subgraph'),
    health: [],
    tls,
  });
  app.post('/graphql', async (request) => {
    clientNames.push(String((request.raw.socket as TLSSocket).getPeerCertificate().subject?.CN));
    return { data: { me: null, event: null } };
  });
  app.get(
    '/internal/acme-challenge/:token',
    async (request) => `${(request.params as { token: string }).token}.thumb`,
  );
  await app.listen({ host: '127.0.0.1', port: 0 });
  return { app, url: `https://localhost:${(app.server.address() as { port: number }).port}/graphql` };
}

/** One https request trusting `ca` (and presenting `client`), answered or refused. */
function get(
  url: string,
  {
    ca,
    client,
    method = 'GET',
    body,
  }: { ca: string; client?: TestCertificate; method?: string; body?: string },
) {
  return new Promise<{ status: number; headers: Record<string, unknown>; body: string }>(
    (resolve, reject) => {
      const request = httpsRequest(
        url,
        {
          method,
          ca,
          cert: client?.cert,
          key: client?.key,
          agent: false,
          headers: body ? { 'content-type': 'application/json' } : {},
        },
        (response) => {
          let text = '';
          response.setEncoding('utf8').on('data', (chunk) => {
            text += chunk;
          });
          response.on('end', () =>
            resolve({ status: response.statusCode!, headers: response.headers, body: text }),
          );
        },
      );
      request.on('error', reject);
      request.end(body);
    },
  );
}

beforeAll(async () => {
  certs = createTestCertificates();
  subgraphs.trusted = await standIn({ ...certs.server, clientCa: certs.ca.cert });
  subgraphs.unknownCa = await standIn({ ...certs.otherServer });
  subgraphs.strangersOnly = await standIn({ ...certs.server, clientCa: certs.otherCa.cert });
  const env = parseEnv(gatewayEnv, {
    HOST: '127.0.0.1',
    GATEWAY_PORT: '0',
    GATEWAY_TLS_CERT_FILE: certs.server.certFile,
    GATEWAY_TLS_KEY_FILE: certs.server.keyFile,
    GATEWAY_HTTP_REDIRECT_PORT: '0',
    GATEWAY_SUBGRAPH_CA_FILE: certs.ca.certFile,
    GATEWAY_SUBGRAPH_CLIENT_CERT_FILE: certs.client.certFile,
    GATEWAY_SUBGRAPH_CLIENT_KEY_FILE: certs.client.keyFile,
    GATEWAY_RATE_LIMIT: 'off',
  });
  gateway = await startGateway({
    ...gatewayOptionsFromEnv(env, captureLogs('tls-gateway').log),
    supergraphSdl: SUPERGRAPH,
    subgraphUrls: {
      ...Object.fromEntries(SUBGRAPH_NAMES.map((name) => [name, subgraphs.trusted.url])),
      catalog: subgraphs.unknownCa.url,
      billing: subgraphs.strangersOnly.url,
    },
  });
}, 60_000);

afterAll(async () => {
  await gateway?.stop();
  for (const { app } of Object.values(subgraphs)) await app?.close();
  certs?.remove();
});

const graphql = (query: string) => ({ method: 'POST', body: JSON.stringify({ query }) });

it('serves GraphQL over HTTPS with HSTS, reaching the subgraph over mutual TLS', async () => {
  expect(gateway.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/graphql$/);
  clientNames.length = 0;
  const answer = await get(gateway.url, { ca: certs.ca.cert, ...graphql('{ me { id } }') });
  expect(answer.status).toBe(200);
  expect(JSON.parse(answer.body)).toEqual({ data: { me: null } });
  expect(answer.headers['strict-transport-security']).toBe('max-age=31536000');
  expect(answer.headers['x-content-type-options']).toBe('nosniff');
  // The subgraph saw the gateway's client certificate.
  expect(clientNames).toEqual(['bilten-gateway']);
});

it('is refused by a client that does not trust its certificate', async () => {
  await expect(
    get(gateway.url, { ca: certs.otherCa.cert, ...graphql('{ me { id } }') }),
  ).rejects.toMatchObject({
    code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  });
  // Node's fetch, with the system CAs only, refuses it too.
  await expect(fetch(gateway.url)).rejects.toThrow();
});

/** A plain-http request to the redirect listener with this Host header (fetch would not send one). */
function plain(path: string, host: string, method = 'GET') {
  const url = new URL(gateway.redirectUrl!);
  return new Promise<{ status: number; headers: Record<string, unknown> }>((resolve, reject) => {
    httpRequest({ host: url.hostname, port: url.port, path, method, headers: { host } }, (response) => {
      response.resume();
      resolve({ status: response.statusCode!, headers: response.headers });
    })
      .on('error', reject)
      .end(method === 'POST' ? '{}' : undefined);
  });
}

it('redirects plain http to https with 308, keeping host, path and query, without HSTS', async () => {
  const httpsPort = new URL(gateway.url).port;
  for (const method of ['GET', 'POST']) {
    const response = await plain('/graphql?query=%7Bme%7Bid%7D%7D', 'tickets.example.test:8080', method);
    expect(response.status).toBe(308);
    expect(response.headers.location).toBe(
      `https://tickets.example.test:${httpsPort}/graphql?query=%7Bme%7Bid%7D%7D`,
    );
    expect(response.headers['strict-transport-security']).toBeUndefined();
  }
  expect((await plain('/', 'Example.TEST')).headers.location).toBe(`https://example.test:${httpsPort}/`);
  expect((await plain('/', '[::1]:80')).headers.location).toBe(`https://[::1]:${httpsPort}/`);
});

it('refuses to redirect to a malformed host', async () => {
  for (const host of ['evil.test/@x', 'a b', '-x-.test']) {
    expect((await plain('/x', host)).status, host).toBe(400);
  }
});

it('still serves ACME HTTP-01 challenges over plain http, fetched from branding over mutual TLS', async () => {
  const challenge = await fetch(`${gateway.redirectUrl}/.well-known/acme-challenge/${TOKEN}`, {
    redirect: 'manual',
    headers: { host: 'tickets.example-org.test' },
  });
  expect(challenge.status).toBe(200);
  expect(await challenge.text()).toBe(`${TOKEN}.thumb`);
});

it('does not reach a subgraph whose certificate another CA signed, nor one refusing its client certificate', async () => {
  for (const [query, subgraph] of [
    ['{ event(id: "x") { id } }', 'catalog'],
    ['{ payment(id: "x") { id } }', 'billing'],
  ]) {
    const answer = await get(gateway.url, { ca: certs.ca.cert, ...graphql(query!) });
    const body = JSON.parse(answer.body);
    expect(Object.values(body.data)).toEqual([null]);
    expect(body.errors[0].message).toBe(`subgraph ${subgraph} is unavailable`);
  }
});

it('subgraphs with a client CA refuse clients without a certificate, or with another CA’s, in the handshake', async () => {
  for (const client of [undefined, certs.stranger]) {
    await expect(
      get(subgraphs.trusted.url, { ca: certs.ca.cert, client, ...graphql('{ me { id } }') }),
    ).rejects.toThrow(/alert|socket hang up|ECONNRESET/i);
  }
  const admitted = await get(subgraphs.trusted.url, {
    ca: certs.ca.cert,
    client: certs.client,
    ...graphql('{ me { id } }'),
  });
  expect(admitted.status).toBe(200);
});

it('checks its TLS variables: pairs, a redirect needing TLS, unreadable files', () => {
  const gatewayVars = (vars: Record<string, string>) => () => tlsOptionsFrom(parseEnv(gatewayEnv, vars));
  expect(gatewayVars({ GATEWAY_TLS_CERT_FILE: certs.server.certFile })).toThrow(
    /GATEWAY_TLS_KEY_FILE: must be set with GATEWAY_TLS_CERT_FILE/,
  );
  expect(gatewayVars({ GATEWAY_HTTP_REDIRECT_PORT: '80' })).toThrow(/GATEWAY_HTTP_REDIRECT_PORT: needs/);
  expect(gatewayVars({ GATEWAY_SUBGRAPH_CLIENT_KEY_FILE: certs.client.keyFile })).toThrow(
    /GATEWAY_SUBGRAPH_CLIENT_CERT_FILE: must be set/,
  );
  expect(gatewayVars({ GATEWAY_SUBGRAPH_CA_FILE: '/nonexistent/ca.pem' })).toThrow(ConfigError);
  expect(gatewayVars({ GATEWAY_SUBGRAPH_CA_FILE: '/nonexistent/ca.pem' })).toThrow(
    /GATEWAY_SUBGRAPH_CA_FILE: cannot read \/nonexistent\/ca.pem \(ENOENT\)/,
  );
  expect(gatewayVars({ GATEWAY_HTTP_REDIRECT_PORT: 'eighty' })).toThrow(/must be a port number/);
  expect(gatewayVars({})()).toEqual({ tls: undefined, subgraphTls: undefined });

  const subgraphVars = (vars: Record<string, string>) => () => subgraphTlsFrom(parseEnv(platformEnv, vars));
  expect(subgraphVars({ SUBGRAPH_TLS_KEY_FILE: certs.server.keyFile })).toThrow(
    /SUBGRAPH_TLS_CERT_FILE: must be set/,
  );
  expect(subgraphVars({ SUBGRAPH_TLS_CLIENT_CA_FILE: certs.ca.certFile })).toThrow(
    /SUBGRAPH_TLS_CLIENT_CA_FILE: needs/,
  );
  expect(
    subgraphVars({ SUBGRAPH_TLS_CERT_FILE: certs.server.keyFile, SUBGRAPH_TLS_KEY_FILE: '/etc/hostname' }),
  ).toThrow(/SUBGRAPH_TLS_KEY_FILE: \/etc\/hostname is not a PEM file/);
  expect(
    subgraphVars({
      SUBGRAPH_TLS_CERT_FILE: certs.server.certFile,
      SUBGRAPH_TLS_KEY_FILE: certs.server.keyFile,
      SUBGRAPH_TLS_CLIENT_CA_FILE: certs.ca.certFile,
    })(),
  ).toEqual({ cert: certs.server.cert, key: certs.server.key, clientCa: certs.ca.cert });
});
