import { request as httpRequest } from 'node:http';
import { waitFor } from '@bilten/testkit';
import { startTestDnsServer, type TestDnsServer } from '@bilten/testkit/dns';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gatewayCall, publishedEvent, startTestStack, type TestStack } from './support.ts';

/*
 * Custom domains at the public door: the gateway answers an organization's verified hostname with
 * its brand and `Bilten-Organization`, 421 before verification and after removal (following
 * branding's domain events on the bus), and tells an on-demand-TLS proxy which hosts to serve.
 */

const HOST = 'tickets.example-org.test';
const CNAME_TARGET = 'domains.bilten.localhost';

let stack: TestStack;
let dns: TestDnsServer;
let gateway: URL;

beforeAll(async () => {
  dns = await startTestDnsServer();
  stack = await startTestStack('jetstream', { env: { DNS_SERVERS: dns.address } });
  gateway = new URL(stack.url);
}, 120_000);

afterAll(async () => {
  await stack?.dispose();
  await dns?.close();
});

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A request to the gateway naming `host` in its Host header (fetch may not set Host). */
function get(path: string, host: string, init: { method?: string; body?: string } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: gateway.hostname,
        port: gateway.port,
        path,
        method: init.method ?? 'GET',
        headers: {
          host,
          ...(init.body
            ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(init.body) }
            : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk) => chunks.push(chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode!,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(init.body);
  });
}

const ask = (domain?: string) =>
  fetch(
    new URL(
      `/internal/domains/allowed${domain === undefined ? '' : `?domain=${encodeURIComponent(domain)}`}`,
      stack.url,
    ),
  );

interface Org {
  organizationId: string;
  owner: { headers: Record<string, string> };
  eventId: string;
}

describe('custom domain hosts at the gateway', () => {
  let org: Org;
  let other: Org;
  let domainId: string;
  let primaryColor: string;

  beforeAll(async () => {
    org = await publishedEvent(stack, 'hosted-org', { title: 'Hosted Night' });
    other = await publishedEvent(stack, 'other-org', { title: 'Elsewhere Night' });
    const { brandKit } = await gatewayCall<{ brandKit: { primaryColor: string } }>(
      stack,
      'query($id: ID!) { brandKit(organizationId: $id) { primaryColor } }',
      { id: org.organizationId },
      {},
    );
    primaryColor = brandKit.primaryColor;
  }, 60_000);

  it('answers an unknown host 421 for pages, while the API keeps working', async () => {
    const home = await get('/', HOST);
    expect(home.status).toBe(421);
    expect(home.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(JSON.parse(home.body)).toMatchObject({ status: 421, title: 'Misdirected request' });
    expect(home.headers['bilten-organization']).toBeUndefined();
    expect((await get(`/events/${org.eventId}`, HOST)).status).toBe(421);
    const api = await get('/graphql', HOST, {
      method: 'POST',
      body: JSON.stringify({ query: '{ __typename }' }),
    });
    expect(api.status).toBe(200);
    expect(JSON.parse(api.body)).toEqual({ data: { __typename: 'Query' } });
    // The platform's own hosts are never looked up.
    expect((await get('/', `127.0.0.1:${gateway.port}`)).status).toBe(404);
    expect((await get('/', 'localhost')).status).toBe(404);
    expect((await ask(HOST)).status).toBe(404);
  });

  it('answers the ask endpoint 400 without a valid domain', async () => {
    expect((await ask()).status).toBe(400);
    expect((await ask('')).status).toBe(400);
    expect((await ask('127.0.0.1')).status).toBe(400);
    expect((await ask('bad_name.example.org')).status).toBe(400);
    const malformed = await ask('https://x.example.org/');
    expect(malformed.status).toBe(400);
    expect(malformed.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  });

  it('serves the organization, in its brand, once the domain is verified (the host map follows domain.verified)', async () => {
    const { addCustomDomain } = await gatewayCall<{
      addCustomDomain: {
        customDomain: { id: string; verificationRecord: { name: string; value: string } };
        errors: unknown[];
      };
    }>(
      stack,
      `mutation($input: AddCustomDomainInput!) { addCustomDomain(input: $input) {
        customDomain { id verificationRecord { name value } } errors { code message } } }`,
      { input: { organizationId: org.organizationId, hostname: 'Tickets.Example-Org.Test.' } },
      org.owner.headers,
    );
    expect(addCustomDomain.errors).toEqual([]);
    domainId = addCustomDomain.customDomain.id;
    // The 421 above is cached as a "no"; only the event may end it before its 30 seconds.
    expect((await get('/', HOST)).status).toBe(421);

    const record = addCustomDomain.customDomain.verificationRecord;
    dns.set(record.name, { TXT: [record.value] });
    dns.set(HOST, { CNAME: CNAME_TARGET });
    const { verifyCustomDomain } = await gatewayCall<{
      verifyCustomDomain: { customDomain: { state: string } };
    }>(
      stack,
      'mutation($input: CustomDomainInput!) { verifyCustomDomain(input: $input) { customDomain { state } } }',
      { input: { domainId } },
      org.owner.headers,
    );
    expect(verifyCustomDomain.customDomain.state).toBe('VERIFIED');
    const verifiedAt = Date.now();
    await waitFor(async () => (await get('/', HOST)).status === 200, 5_000);
    const followedIn = Date.now() - verifiedAt;
    console.info(`host map followed domain.verified in ${followedIn} ms`);
    expect(followedIn).toBeLessThan(5_000);

    const home = await get('/', HOST);
    expect(home.headers['bilten-organization']).toBe(org.organizationId);
    expect(home.headers['content-type']).toMatch(/^text\/html/);
    expect(home.body).toContain(`background:${primaryColor}`);
    expect(home.body).toContain('Org hosted-org');
    expect(home.body).toContain('Hosted Night');
    expect(home.body).toContain(`href="/events/${org.eventId}"`);
    expect(home.body).not.toContain('Elsewhere Night');
    // Every answer for the host names the organization, the API's too.
    const api = await get('/graphql', HOST, {
      method: 'POST',
      body: JSON.stringify({ query: '{ __typename }' }),
    });
    expect(api.headers['bilten-organization']).toBe(org.organizationId);
    expect((await ask(HOST)).status).toBe(200);
    expect((await ask('TICKETS.example-org.test.')).status).toBe(200);
  }, 30_000);

  it("renders the organization's event in its brand and answers another organization's event 404", async () => {
    const own = await get(`/events/${org.eventId}`, HOST);
    expect(own.status).toBe(200);
    expect(own.body).toContain('Hosted Night');
    expect(own.body).toContain(`background:${primaryColor}`);
    expect(own.headers['bilten-organization']).toBe(org.organizationId);

    const foreign = await get(`/events/${other.eventId}`, HOST);
    expect(foreign.status).toBe(404);
    expect(foreign.body).not.toContain('Elsewhere Night');
    expect(foreign.body).toContain('Event not found');
    expect((await get('/events/not-an-id', HOST)).status).toBe(404);
    // On the platform's host the same event is public as ever.
    expect((await get(`/events/${other.eventId}`, 'localhost')).status).toBe(200);
  });

  it('stops answering for the host within a bound after removal (domain.removed on the bus)', async () => {
    expect((await get('/', HOST)).status).toBe(200); // cached as a "yes" for 5 minutes without the event
    const { removeCustomDomain } = await gatewayCall<{ removeCustomDomain: { removedDomainId: string } }>(
      stack,
      'mutation($input: CustomDomainInput!) { removeCustomDomain(input: $input) { removedDomainId } }',
      { input: { domainId } },
      org.owner.headers,
    );
    expect(removeCustomDomain.removedDomainId).toBe(domainId);
    const removedAt = Date.now();
    await waitFor(async () => (await get('/', HOST)).status === 421, 5_000);
    const followedIn = Date.now() - removedAt;
    console.info(`host map followed domain.removed in ${followedIn} ms`);
    expect(followedIn).toBeLessThan(5_000);
    expect((await ask(HOST)).status).toBe(404);
  }, 30_000);
});
