/**
 * `/.well-known/acme-challenge/{token}` at the gateway's door, on any host, against a local HTTP
 * server standing in for branding that records what reached it.
 */
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { captureLogs } from '@bilten/testkit';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { registerAcmeChallenges } from '../src/acme-challenges.ts';

const TOKEN = 'evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA';
let received: string[] = [];
let upstream: Server;
let gateway: FastifyInstance;
let door: string;

beforeAll(async () => {
  upstream = createServer((request, response) => {
    received.push(request.url!);
    if (request.url === `/internal/acme-challenge/${TOKEN}`)
      response.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end(`${TOKEN}.thumbprint`);
    else response.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('no such challenge');
  });
  upstream.listen(0, '127.0.0.1');
  await once(upstream, 'listening');
  gateway = Fastify();
  registerAcmeChallenges(gateway, {
    supergraphSdl: '',
    subgraphUrls: { branding: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/graphql` },
    timeoutMs: 2000,
    log: captureLogs('gateway-acme-challenges').log,
  });
  door = await gateway.listen({ port: 0, host: '127.0.0.1' });
});

afterAll(async () => {
  await gateway?.close();
  upstream?.close();
});

beforeEach(() => {
  received = [];
});

const get = (path: string, host = 'tickets.example-org.test') =>
  fetch(`${door}${path}`, { headers: { host } });

it("answers a challenge on any host with branding's key authorization, as text/plain", async () => {
  for (const host of ['tickets.example-org.test', 'other.example.test']) {
    const response = await get(`/.well-known/acme-challenge/${TOKEN}`, host);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(await response.text()).toBe(`${TOKEN}.thumbprint`);
  }
  expect(received).toEqual([`/internal/acme-challenge/${TOKEN}`, `/internal/acme-challenge/${TOKEN}`]);
});

it('passes on 404 for an unknown token', async () => {
  expect((await get('/.well-known/acme-challenge/unknown')).status).toBe(404);
  expect(received).toEqual(['/internal/acme-challenge/unknown']);
});

it('refuses what cannot be a token without asking branding', async () => {
  for (const path of [
    `/.well-known/acme-challenge/${'a'.repeat(129)}`,
    '/.well-known/acme-challenge/a%2F..%2F..%2Fgraphql',
    '/.well-known/acme-challenge/a/b',
    '/.well-known/acme-challenge/a.b',
    '/.well-known/acme-challenge/',
  ]) {
    expect((await get(path)).status, path).toBe(404);
  }
  expect(received).toEqual([]);
});

it('answers 502 when branding cannot be reached', async () => {
  const closed = Fastify();
  registerAcmeChallenges(closed, {
    supergraphSdl: '',
    subgraphUrls: { branding: 'http://127.0.0.1:1/graphql' },
    timeoutMs: 500,
    log: captureLogs('gateway-acme-challenges-down').log,
  });
  const response = await closed.inject({ url: `/.well-known/acme-challenge/${TOKEN}` });
  expect(response.statusCode).toBe(502);
  await closed.close();
});
