import { isIP } from 'node:net';
import { domainToASCII } from 'node:url';
import { domainActivated, domainRemoved, domainVerified } from '@bilten/contracts/branding';
import { decodeEvent, type EventBus, escapeHtml, type Logger } from '@bilten/platform';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ACCOUNT_PAGE_HEADERS } from './account-pages.ts';
import type { SubgraphDispatcher } from './config.ts';
import { graphqlAsVisitor } from './graphql-as-visitor.ts';
import { problemOf, sendProblem } from './problem.ts';

/*
 * Organizers' own hostnames at the public door. A request whose Host is not the platform's (an
 * address, localhost, GATEWAY_PLATFORM_HOSTS) is looked up at branding (`/internal/domains/{host}`):
 * a verified host answers with its organization's brand and `Bilten-Organization`; any other gets
 * 421 for pages while the API keeps working. The map is cached and follows branding's domain events.
 */

/** The header naming the organization a custom host belongs to, on every answer for that host. */
export const ORGANIZATION_HEADER = 'bilten-organization';

export interface HostOrganization {
  organizationId: string;
  hostname: string;
}

export interface CustomDomainOptions {
  /** branding's `/internal/domains/` route: the hostname is appended. */
  lookupBaseUrl: string;
  /** GATEWAY_PLATFORM_HOSTS: exact names, or `*.name` for every name under one. */
  platformHosts: readonly string[];
  bus?: EventBus;
  log: Logger;
  timeoutMs: number;
  /** The subgraph connection pool with its TLS settings (server.ts); unset: Node's default. */
  dispatcher?: SubgraphDispatcher;
  /** How long a "yes" is kept (default 5 minutes), a "no" (default 30 seconds), and how many hosts (default 10,000). */
  positiveTtlMs?: number;
  negativeTtlMs?: number;
  maxEntries?: number;
}

const MAX_HOSTNAME = 253;
const LDH_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** The ASCII, lower-case, dot-less form of a hostname, or null when it cannot be one. */
export function normalHost(value: string): string | null {
  let name = value.trim().toLowerCase();
  if (name.endsWith('.')) name = name.slice(0, -1);
  if (!name || name.length > 1000 || isIP(name)) return null;
  const ascii = domainToASCII(name);
  if (!ascii || ascii.length > MAX_HOSTNAME) return null;
  const labels = ascii.split('.');
  return labels.length >= 2 && labels.every((label) => LDH_LABEL.test(label)) ? ascii : null;
}

/** The Host header without its port; IPv6 literals keep their brackets. */
export function hostWithoutPort(host: string | undefined): string {
  const value = (host ?? '').trim().toLowerCase();
  if (value.startsWith('[')) return value.slice(0, value.indexOf(']') + 1);
  return value.replace(/:\d*$/, '');
}

/**
 * Hosts the platform itself answers on: addresses, single names (a container's or service's, e.g.
 * `gateway`), localhost and names under `.localhost`, `.local` and `.internal` (cluster DNS), and
 * GATEWAY_PLATFORM_HOSTS. None of these can be a custom domain.
 */
export function isPlatformHost(host: string, platformHosts: readonly string[]): boolean {
  const name = host.replace(/\.$/, '');
  if (!name || name.startsWith('[') || isIP(name) || !name.includes('.')) return true;
  if (/\.(localhost|local|internal)$/.test(name)) return true;
  return platformHosts.some((entry) => {
    const own = entry.trim().toLowerCase().replace(/\.$/, '');
    return own.startsWith('*.') ? name.endsWith(own.slice(1)) : name === own;
  });
}

/** Paths that render pages: on an unknown custom host they answer 421; everything else (the API) works. */
const isPagePath = (path: string) =>
  path === '/' || path.startsWith('/events/') || path.startsWith('/account/');

type Entry = { organization: HostOrganization | null; expiresAt: number };

/** Host → organization, cached (positive, negative, bounded) and dropped on branding's domain events. */
export function createHostMap(options: CustomDomainOptions) {
  const positiveTtl = options.positiveTtlMs ?? 5 * 60_000;
  const negativeTtl = options.negativeTtlMs ?? 30_000;
  const maxEntries = options.maxEntries ?? 10_000;
  const cache = new Map<string, Entry>();
  const pending = new Map<string, Promise<HostOrganization | null>>();

  async function ask(hostname: string): Promise<HostOrganization | null> {
    const response = await fetch(`${options.lookupBaseUrl}${encodeURIComponent(hostname)}`, {
      signal: AbortSignal.timeout(options.timeoutMs),
      dispatcher: options.dispatcher,
    });
    if (response.status === 404 || response.status === 400) return null;
    if (!response.ok) throw new Error(`branding answered ${response.status}`);
    const body = (await response.json()) as { organizationId: string; hostname: string };
    return { organizationId: body.organizationId, hostname: body.hostname };
  }

  function remember(hostname: string, organization: HostOrganization | null) {
    cache.delete(hostname);
    // Oldest first in a Map: beyond the bound, the least recently stored go.
    while (cache.size >= maxEntries) cache.delete(cache.keys().next().value!);
    cache.set(hostname, { organization, expiresAt: Date.now() + (organization ? positiveTtl : negativeTtl) });
  }

  /** The organization of a verified (or later) hostname, null for any other; throws when branding cannot be asked. */
  function organizationOf(hostname: string): Promise<HostOrganization | null> {
    const hit = cache.get(hostname);
    if (hit && hit.expiresAt > Date.now()) return Promise.resolve(hit.organization);
    const inFlight = pending.get(hostname);
    if (inFlight) return inFlight;
    const lookup = ask(hostname).then(
      (organization) => {
        // Dropped by an event meanwhile: this answer may be older than the change, so it is not kept.
        if (pending.get(hostname) === lookup) remember(hostname, organization);
        pending.delete(hostname);
        return organization;
      },
      (err) => {
        if (pending.get(hostname) === lookup) pending.delete(hostname);
        throw err;
      },
    );
    pending.set(hostname, lookup);
    return lookup;
  }

  function forget(hostname: string) {
    cache.delete(hostname);
    pending.delete(hostname);
  }

  const events = [domainVerified, domainActivated, domainRemoved];
  const listening = options.bus?.listen(
    events.map((event) => event.type),
    (message) => {
      const definition = events.find((event) => event.type === message.subject);
      if (!definition) return;
      try {
        forget(decodeEvent(message.data, definition).payload.hostname);
      } catch (err) {
        options.log.warn({ err, subject: message.subject }, 'malformed domain event ignored');
      }
    },
  );

  return {
    organizationOf,
    forget,
    /** Resolves once the bus delivers domain events to this map. */
    ready: async () => void (await listening),
    async close() {
      await (await listening)?.stop();
    },
  };
}
export type HostMap = ReturnType<typeof createHostMap>;

const organizations = new WeakMap<FastifyRequest, HostOrganization>();

/** The organization whose verified custom host the request came to; undefined on the platform's hosts. */
export const hostOrganizationOf = (request: FastifyRequest) => organizations.get(request);

const unavailable = (reply: FastifyReply, request: FastifyRequest) =>
  sendProblem(reply, {
    ...problemOf({
      code: 'INTERNAL',
      detail: 'this host cannot be looked up right now',
      instance: request.id,
    }),
    status: 503,
    title: 'Service unavailable',
  });

// ---------------------------------------------------------------- the organization's home page

const HOME_QUERY = `query CustomDomainHome($id: ID!, $now: DateTime!) {
  organization(id: $id) {
    name
    branding { primaryColor accentColor backgroundColor textColor logoUrl }
  }
  events(filter: { organizationId: $id, startsAfter: $now }, sort: STARTS_AT, first: 20) {
    edges { node { id title startsAt timezone } }
  }
}`;

export interface PageBrand {
  name: string;
  primaryColor: string;
  accentColor: string;
  backgroundColor: string;
  textColor: string;
  logoUrl: string | null;
}

const HEX = /^#[0-9A-Fa-f]{6}$/;
const colour = (value: string | undefined, fallback: string) => (value && HEX.test(value) ? value : fallback);
const httpUrl = (value: string | null | undefined) => {
  try {
    const url = new URL(value ?? '');
    return url.protocol === 'https:' || url.protocol === 'http:' ? url : null;
  } catch {
    return null;
  }
};

/** Reads the organization's name and brand as an anonymous visitor; Bilten's own look for what is missing. */
export function pageBrandFrom(data: {
  name?: string | null;
  branding?: Partial<Omit<PageBrand, 'name'>> | null;
}): PageBrand {
  const kit = data.branding ?? {};
  return {
    name: data.name ?? '',
    primaryColor: colour(kit.primaryColor, '#1F2937'),
    accentColor: colour(kit.accentColor, '#2563EB'),
    backgroundColor: colour(kit.backgroundColor, '#FFFFFF'),
    textColor: colour(kit.textColor, '#111827'),
    logoUrl: httpUrl(kit.logoUrl)?.toString() ?? null,
  };
}

/** The page headers, allowing the logo's origin for images (and nothing else beyond the account pages' policy). */
export function brandedPageHeaders(brand: PageBrand) {
  const logoOrigin = brand.logoUrl ? httpUrl(brand.logoUrl)?.origin : undefined;
  return {
    ...ACCOUNT_PAGE_HEADERS,
    'content-security-policy': `${ACCOUNT_PAGE_HEADERS['content-security-policy']}; img-src 'self'${logoOrigin ? ` ${logoOrigin}` : ''}`,
  };
}

/** A whole page in the organization's brand; `content` is HTML already escaped by its builder. */
export function brandedPage(brand: PageBrand, title: string, content: string): string {
  const style = `body{font-family:system-ui,sans-serif;line-height:1.5;margin:0;color:${brand.textColor};background:${brand.backgroundColor}}
header{background:${brand.primaryColor};color:${brand.backgroundColor};padding:1rem 2rem;display:flex;align-items:center;gap:1rem}
header img{max-height:48px;max-width:200px}header strong{font-size:1.2rem}
main{max-width:40rem;margin:2rem auto;padding:0 2rem}a{color:${brand.accentColor}}h1{font-size:1.5rem}
.error{color:#991b1b}`;
  return [
    '<!doctype html>',
    '<html lang="en"><head><meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${escapeHtml(title)}${brand.name ? ` · ${escapeHtml(brand.name)}` : ''}</title>`,
    `<style>${style}</style>`,
    '</head><body><header>',
    brand.logoUrl ? `<img src="${escapeHtml(brand.logoUrl)}" alt="${escapeHtml(brand.name)}">` : '',
    `<strong>${escapeHtml(brand.name)}</strong>`,
    '</header><main>',
    `<h1>${escapeHtml(title)}</h1>`,
    content,
    '</main></body></html>',
  ].join('\n');
}

/** Reads the brand of `organizationId` as the visitor would, for pages on its host. */
export async function pageBrandOf(app: FastifyInstance, request: FastifyRequest, organizationId: string) {
  const response = await graphqlAsVisitor(app, request, {
    query:
      'query Brand($id: ID!) { organization(id: $id) { name branding { primaryColor accentColor backgroundColor textColor logoUrl } } }',
    variables: { id: organizationId },
  });
  const answer = response.json() as { data?: { organization: Parameters<typeof pageBrandFrom>[0] | null } };
  return pageBrandFrom(answer.data?.organization ?? {});
}

async function homePage(
  app: FastifyInstance,
  request: FastifyRequest,
  reply: FastifyReply,
  host: HostOrganization,
) {
  const response = await graphqlAsVisitor(app, request, {
    query: HOME_QUERY,
    variables: { id: host.organizationId, now: new Date().toISOString() },
  });
  if (response.statusCode === 429) return reply.status(429).send('Too many requests: try again in a minute.');
  const answer = response.json() as {
    data?: {
      organization: Parameters<typeof pageBrandFrom>[0] | null;
      events: {
        edges: Array<{ node: { id: string; title: string; startsAt: string; timezone: string } }>;
      } | null;
    };
  };
  const brand = pageBrandFrom(answer.data?.organization ?? {});
  reply.headers(brandedPageHeaders(brand));
  const events = answer.data?.events?.edges.map((edge) => edge.node);
  if (!events)
    return reply
      .status(503)
      .send(brandedPage(brand, 'Unavailable', '<p>This page cannot be shown right now.</p>'));
  const when = (event: (typeof events)[number]) =>
    new Intl.DateTimeFormat('en-GB', {
      dateStyle: 'medium',
      timeStyle: 'short',
      timeZone: event.timezone,
    }).format(new Date(event.startsAt));
  const list = events.length
    ? `<ul>${events
        .map(
          (event) =>
            `<li><a href="/events/${escapeHtml(event.id)}">${escapeHtml(event.title)}</a> · ${escapeHtml(when(event))}</li>`,
        )
        .join('')}</ul>`
    : '<p>No upcoming events right now.</p>';
  return reply
    .status(200)
    .send(brandedPage(brand, brand.name || 'Upcoming events', `<h2>Upcoming events</h2>${list}`));
}

// ---------------------------------------------------------------- registration

/**
 * The host map on every request, `GET /` for custom hosts, and the ask endpoint for an on-demand
 * TLS proxy (Caddy's `on_demand_tls { ask … }`): `GET /internal/domains/allowed?domain=` answers
 * 200 only for a verified (or later) domain, 404 otherwise, 400 without a valid `domain`.
 */
export function registerCustomDomains(
  app: FastifyInstance,
  hosts: HostMap,
  platformHosts: readonly string[],
) {
  app.addHook('onRequest', async (request, reply) => {
    const host = hostWithoutPort(request.headers.host);
    if (isPlatformHost(host, platformHosts)) return;
    const path = request.url.split('?')[0] ?? '/';
    const hostname = normalHost(host);
    let organization: HostOrganization | null = null;
    try {
      organization = hostname ? await hosts.organizationOf(hostname) : null;
    } catch (err) {
      request.log.warn({ err, host }, 'custom domain lookup failed');
      if (isPagePath(path)) return unavailable(reply, request);
      return;
    }
    if (organization) {
      organizations.set(request, organization);
      reply.header(ORGANIZATION_HEADER, organization.organizationId);
      return;
    }
    if (isPagePath(path))
      return sendProblem(reply, {
        ...problemOf({
          code: 'NOT_FOUND',
          detail: `this server does not answer for ${host || 'this host'}: it is not a verified custom domain`,
          instance: request.id,
        }),
        status: 421,
        title: 'Misdirected request',
      });
  });

  app.get('/', async (request, reply) => {
    const host = hostOrganizationOf(request);
    if (!host) return reply.callNotFound();
    return homePage(app, request, reply, host);
  });

  app.get<{ Querystring: { domain?: string } }>('/internal/domains/allowed', async (request, reply) => {
    reply.header('cache-control', 'no-store');
    const raw = request.query.domain;
    const hostname = typeof raw === 'string' ? normalHost(raw) : null;
    if (!hostname)
      return sendProblem(
        reply,
        problemOf({
          code: 'BAD_REQUEST',
          detail: 'give the hostname to check as ?domain=',
          instance: request.id,
          errors: [{ path: ['query', 'domain'], code: 'INVALID_INPUT', message: 'must be a hostname' }],
        }),
      );
    let organization: HostOrganization | null;
    try {
      organization = await hosts.organizationOf(hostname);
    } catch (err) {
      request.log.warn({ err, hostname }, 'custom domain lookup failed');
      return unavailable(reply, request);
    }
    if (!organization)
      return sendProblem(
        reply,
        problemOf({ code: 'NOT_FOUND', detail: 'not a verified custom domain', instance: request.id }),
      );
    return { domain: hostname, allowed: true };
  });
}
