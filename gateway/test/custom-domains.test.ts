/**
 * The gateway's host map (custom-domains.ts) against a local HTTP server standing in for branding's
 * `/internal/domains/{hostname}`, which counts what reached it, and the in-process bus.
 */
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { domainRemoved, domainVerified } from '@bilten/contracts/branding';
import { createInProcessBus, type EventBus, newEvent } from '@bilten/platform';
import { captureLogs } from '@bilten/testkit';
import { v7 as uuidv7 } from 'uuid';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  brandedPage,
  brandedPageHeaders,
  createHostMap,
  hostWithoutPort,
  isPlatformHost,
  normalHost,
  pageBrandFrom,
} from '../src/custom-domains.ts';

const ORGANIZATION = uuidv7();
/** What the stand-in answers: verified hosts, and hosts it fails for. */
const verified = new Set<string>();
const failing = new Set<string>();
let asked: string[] = [];
let release: (() => void) | undefined;
let upstream: Server;
let baseUrl: string;
let bus: EventBus;
const { log } = captureLogs('custom-domains-test');

beforeAll(async () => {
  upstream = createServer(async (request, response) => {
    const hostname = decodeURIComponent(request.url!.replace('/internal/domains/', ''));
    asked.push(hostname);
    // The answer as of the question; a test may hold it back (`release`) before it is sent.
    const [fails, known] = [failing.has(hostname), verified.has(hostname)];
    if (release) await new Promise<void>((resolve) => (release = resolve));
    if (fails) return response.writeHead(500).end();
    if (!known) return response.writeHead(404).end('{}');
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end(JSON.stringify({ organizationId: ORGANIZATION, state: 'VERIFIED', hostname }));
  });
  upstream.listen(0, '127.0.0.1');
  await once(upstream, 'listening');
  baseUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/internal/domains/`;
  bus = createInProcessBus(log);
});

afterAll(async () => {
  upstream?.close();
});

beforeEach(() => {
  asked = [];
  verified.clear();
  failing.clear();
  release = undefined;
});
afterEach(() => {
  vi.useRealTimers();
});

const hostMap = (overrides: Partial<Parameters<typeof createHostMap>[0]> = {}) =>
  createHostMap({ lookupBaseUrl: baseUrl, platformHosts: [], bus, log, timeoutMs: 2_000, ...overrides });

const domainEvent = (definition: typeof domainVerified | typeof domainRemoved, hostname: string) =>
  newEvent(definition, uuidv7(), 1, {
    domainId: uuidv7(),
    organizationId: ORGANIZATION,
    hostname,
    occurredAt: new Date().toISOString(),
  });

describe('hosts', () => {
  it.each([
    ['tickets.example.org:4000', 'tickets.example.org'],
    ['TICKETS.Example.org', 'tickets.example.org'],
    ['[::1]:4000', '[::1]'],
    ['127.0.0.1:80', '127.0.0.1'],
    [undefined, ''],
  ])('hostWithoutPort(%s) = %s', (host, expected) => {
    expect(hostWithoutPort(host)).toBe(expected);
  });

  it.each([
    ['127.0.0.1', true],
    ['[::1]', true],
    ['', true],
    ['localhost', true],
    ['app.localhost', true],
    ['gateway', true],
    ['gateway.bilten.svc.cluster.local', true],
    ['api.bilten.app', true],
    ['eu.bilten.app', true],
    ['bilten.app', false],
    ['tickets.example.org', false],
  ])('isPlatformHost(%s) = %s', (host, expected) => {
    expect(isPlatformHost(host, ['api.bilten.app', '*.bilten.app'])).toBe(expected);
  });

  it.each([
    ['Tickets.Bücher.test.', 'tickets.xn--bcher-kva.test'],
    ['tickets.example.org', 'tickets.example.org'],
    ['', null],
    ['127.0.0.1', null],
    ['intranet', null],
    ['bad_name.example.org', null],
    ['https://x.example.org', null],
    [`${'a'.repeat(64)}.example.org`, null],
  ])('normalHost(%s) = %s', (value, expected) => {
    expect(normalHost(value)).toBe(expected);
  });
});

describe('createHostMap', () => {
  it('asks branding once for concurrent lookups and keeps a "yes"', async () => {
    verified.add('yes.example.org');
    const map = hostMap();
    await map.ready();
    const answers = await Promise.all([1, 2, 3].map(() => map.organizationOf('yes.example.org')));
    expect(answers).toEqual(
      [1, 2, 3].map(() => ({ organizationId: ORGANIZATION, hostname: 'yes.example.org' })),
    );
    await map.organizationOf('yes.example.org');
    expect(asked).toEqual(['yes.example.org']);
    await map.close();
  });

  it('keeps a "no" for the negative TTL only, a "yes" for the positive one', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const map = hostMap({ positiveTtlMs: 300_000, negativeTtlMs: 30_000 });
    expect(await map.organizationOf('no.example.org')).toBeNull();
    verified.add('no.example.org');
    vi.advanceTimersByTime(29_000);
    expect(await map.organizationOf('no.example.org')).toBeNull();
    vi.advanceTimersByTime(2_000);
    expect(await map.organizationOf('no.example.org')).not.toBeNull();
    expect(asked).toEqual(['no.example.org', 'no.example.org']);
    verified.delete('no.example.org');
    vi.advanceTimersByTime(299_000);
    expect(await map.organizationOf('no.example.org')).not.toBeNull();
    vi.advanceTimersByTime(2_000);
    expect(await map.organizationOf('no.example.org')).toBeNull();
    await map.close();
  });

  it('drops an entry when domain.verified or domain.removed arrives on the bus', async () => {
    const map = hostMap();
    await map.ready();
    expect(await map.organizationOf('moves.example.org')).toBeNull();
    verified.add('moves.example.org');
    await bus.publish(domainEvent(domainVerified, 'moves.example.org'));
    expect(await map.organizationOf('moves.example.org')).not.toBeNull();
    verified.delete('moves.example.org');
    await bus.publish(domainEvent(domainRemoved, 'moves.example.org'));
    expect(await map.organizationOf('moves.example.org')).toBeNull();
    expect(asked).toHaveLength(3);
    await map.close();
  });

  it('does not keep an answer that an event overtook while it was on its way', async () => {
    verified.add('race.example.org');
    const map = hostMap();
    await map.ready();
    release = () => {};
    const lookup = map.organizationOf('race.example.org');
    await vi.waitFor(() => expect(asked).toHaveLength(1));
    await bus.publish(domainEvent(domainRemoved, 'race.example.org'));
    verified.delete('race.example.org');
    release();
    expect(await lookup).not.toBeNull(); // what branding said then
    release = undefined;
    expect(await map.organizationOf('race.example.org')).toBeNull(); // asked again, not the stale "yes"
    expect(asked).toHaveLength(2);
    await map.close();
  });

  it('does not cache a failure to ask, and throws it', async () => {
    failing.add('down.example.org');
    const map = hostMap();
    await expect(map.organizationOf('down.example.org')).rejects.toThrow(/branding answered 500/);
    failing.delete('down.example.org');
    expect(await map.organizationOf('down.example.org')).toBeNull();
    expect(asked).toHaveLength(2);
    await map.close();
  });

  it('holds at most maxEntries hosts, forgetting the oldest', async () => {
    const map = hostMap({ maxEntries: 2 });
    for (const host of ['a.example.org', 'b.example.org', 'c.example.org']) await map.organizationOf(host);
    await map.organizationOf('c.example.org');
    await map.organizationOf('b.example.org');
    await map.organizationOf('a.example.org');
    expect(asked).toEqual(['a.example.org', 'b.example.org', 'c.example.org', 'a.example.org']);
    await map.close();
  });
});

describe('branded pages', () => {
  it("takes the kit as given, and Bilten's own look for anything that is not a colour or a web URL", () => {
    expect(
      pageBrandFrom({
        name: 'Acme',
        branding: {
          primaryColor: '#AA0000',
          accentColor: 'red;}body{display:none',
          backgroundColor: '#FFFFFF',
          textColor: '#111111',
          logoUrl: 'javascript:alert(1)',
        },
      }),
    ).toEqual({
      name: 'Acme',
      primaryColor: '#AA0000',
      accentColor: '#2563EB',
      backgroundColor: '#FFFFFF',
      textColor: '#111111',
      logoUrl: null,
    });
    expect(pageBrandFrom({})).toMatchObject({ name: '', primaryColor: '#1F2937', logoUrl: null });
  });

  it('escapes the name and title, shows the logo and allows only its origin for images', () => {
    const brand = pageBrandFrom({
      name: '<script>alert(1)</script>',
      branding: { primaryColor: '#123456', logoUrl: 'https://cdn.example.org/assets/abc' },
    });
    const html = brandedPage(brand, 'A "title" <b>', '<p>ok</p>');
    expect(html).not.toContain('<script>');
    expect(html).toContain('&lt;script&gt;');
    expect(html).toContain('A &quot;title&quot; &lt;b&gt;');
    expect(html).toContain('<img src="https://cdn.example.org/assets/abc"');
    expect(html).toContain('background:#123456');
    const policy = brandedPageHeaders(brand)['content-security-policy'];
    expect(policy).toContain("default-src 'none'");
    expect(policy).toContain("img-src 'self' https://cdn.example.org");
    expect(brandedPageHeaders(pageBrandFrom({}))['content-security-policy']).toMatch(/img-src 'self'$/);
  });
});
