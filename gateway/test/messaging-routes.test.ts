/**
 * Messaging's public routes at the gateway's door (`/t/o/…`, `/t/c/…`, `/webhooks/email|sms`),
 * against a local HTTP server standing in for messaging that records exactly what reached it.
 */
import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { captureLogs } from '@bilten/testkit';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { registerMessagingRoutes } from '../src/messaging-routes.ts';
import { registerProviderWebhooks } from '../src/webhooks.ts';

interface Received {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

const GIF = Buffer.from('R0lGODlhAQABAIAAAP///wAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw==', 'base64');
let received: Received[] = [];
let upstream: Server;
let gateway: FastifyInstance;
let door: string;

/** Answers like messaging (and, for `/webhooks/stripe`, billing) would. */
function answer(request: Received) {
  if (request.url.startsWith('/t/c/'))
    return {
      status: 302,
      headers: { location: 'https://bilten.example/events/1?a=1&b=2', 'cache-control': 'no-store' },
    };
  if (request.url.startsWith('/t/o/'))
    return { status: 200, headers: { 'content-type': 'image/gif', 'cache-control': 'no-store' }, body: GIF };
  if (request.url === '/webhooks/email')
    return { status: 200, headers: { 'content-type': 'application/json' }, body: '{"received":1}' };
  return { status: 401, headers: { 'content-type': 'text/plain' }, body: 'signature is not valid' };
}

beforeAll(async () => {
  upstream = createServer(async (request, response) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const seen = {
      method: request.method!,
      url: request.url!,
      headers: request.headers,
      body: Buffer.concat(chunks),
    };
    received.push(seen);
    const { status, headers, body } = answer(seen);
    response.writeHead(status, headers).end(body);
  });
  upstream.listen(0, '127.0.0.1');
  await once(upstream, 'listening');
  const subgraph = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/graphql`;

  gateway = Fastify();
  const options = {
    supergraphSdl: '',
    subgraphUrls: { messaging: subgraph, billing: subgraph },
    timeoutMs: 2000,
    log: captureLogs('gateway-messaging-routes').log,
  };
  // Billing's `/webhooks/:provider` beside messaging's two fixed ones, as the gateway has them.
  registerProviderWebhooks(gateway, options);
  registerMessagingRoutes(gateway, options);
  door = await gateway.listen({ port: 0, host: '127.0.0.1' });
});

afterAll(async () => {
  await gateway?.close();
  upstream?.close();
});

beforeEach(() => {
  received = [];
});

describe('messaging routes at the gateway', () => {
  it('passes a click through and hands the 302 to the client, unfollowed; long tokens fit', async () => {
    const token = `${Buffer.from(`0190f1b2-0000-7000-8000-000000000000|https://bilten.example/${'x'.repeat(400)}`).toString('base64url')}.c2lnbmF0dXJl`;
    const response = await fetch(`${door}/t/c/${token}`, {
      redirect: 'manual',
      headers: { cookie: 'session=secret', authorization: 'Bearer secret' },
    });
    expect(response.status).toBe(302);
    expect(response.headers.get('location')).toBe('https://bilten.example/events/1?a=1&b=2');
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(received).toHaveLength(1);
    expect(received[0]).toMatchObject({ method: 'GET', url: `/t/c/${token}` });
    // No credentials travel: the signed token is the credential.
    expect(received[0]!.headers.cookie).toBeUndefined();
    expect(received[0]!.headers.authorization).toBeUndefined();
  });

  it('passes the pixel through with its image and headers', async () => {
    const response = await fetch(`${door}/t/o/0190f1b2-0000-7000-8000-000000000000.c2ln.gif`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('image/gif');
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(Buffer.from(await response.arrayBuffer())).toEqual(GIF);
    expect(received.map(({ url }) => url)).toEqual(['/t/o/0190f1b2-0000-7000-8000-000000000000.c2ln.gif']);
  });

  it('refuses what is not a token without a trip to messaging', async () => {
    for (const path of [
      '/t/c/..',
      '/t/c/abc',
      `/t/c/${'a'.repeat(7000)}.b`,
      '/t/o/a%2F..%2Fgraphql.b',
      '/t/c/a.b/c',
    ]) {
      const response = await fetch(`${door}${path}`, { redirect: 'manual' });
      expect([400, 404], path).toContain(response.status);
    }
    expect(received).toEqual([]);
  });

  it('passes webhook bodies byte for byte with their signature headers, and answers as messaging did', async () => {
    const json = '{ "events": [ { "type": "bounce", "messageId": "<a@b>", "permanent": true } ] }\n';
    const email = await fetch(`${door}/webhooks/email`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'bilten-signature': 't=1,v1=ab', cookie: 'x=y' },
      body: json,
    });
    expect(email.status).toBe(200);
    expect(await email.json()).toEqual({ received: 1 });

    const form = 'MessageSid=SM1&MessageStatus=undelivered&ErrorCode=21211';
    const sms = await fetch(`${door}/webhooks/sms`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': 'c2ln=' },
      body: form,
    });
    expect(sms.status).toBe(401);
    expect(await sms.text()).toBe('signature is not valid');

    expect(received.map(({ method, url }) => `${method} ${url}`)).toEqual([
      'POST /webhooks/email',
      'POST /webhooks/sms',
    ]);
    expect(received[0]!.body.toString()).toBe(json);
    expect(received[0]!.headers).toMatchObject({
      'content-type': 'application/json',
      'bilten-signature': 't=1,v1=ab',
    });
    expect(received[0]!.headers.cookie).toBeUndefined();
    expect(received[1]!.body.toString()).toBe(form);
    expect(received[1]!.headers['x-twilio-signature']).toBe('c2ln=');
  });

  it('leaves the payment providers’ webhooks to billing, and refuses bodies over 64 KB', async () => {
    const stripe = await fetch(`${door}/webhooks/stripe`, { method: 'POST', body: '{}' });
    expect(stripe.status).toBe(401);
    expect(received.map(({ url }) => url)).toEqual(['/webhooks/stripe']);

    const large = await fetch(`${door}/webhooks/email`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: 'x'.repeat(65 * 1024),
    });
    expect(large.status).toBe(413);
    expect(received).toHaveLength(1);
  });

  it('answers 502 when messaging cannot be reached', async () => {
    const down = Fastify();
    registerMessagingRoutes(down, {
      supergraphSdl: '',
      subgraphUrls: { messaging: 'http://127.0.0.1:9/graphql' },
      timeoutMs: 2000,
      log: captureLogs('gateway-messaging-down').log,
    });
    try {
      const response = await down.inject({ method: 'POST', url: '/webhooks/email', payload: '{}' });
      expect(response.statusCode).toBe(502);
    } finally {
      await down.close();
    }
  });
});
