import { readFileSync } from 'node:fs';
import { startGateway } from '@bilten/gateway';
import { API_VERSIONS, CURRENT_API_VERSION } from '@bilten/platform/api-versions';
import { captureLogs, type SignedInUser } from '@bilten/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SUPERGRAPH_SDL_PATH } from '../src/stack.ts';
import { eventInput, gatewayCall, startTestStack, TEST_LIMITS, type TestStack } from './support.ts';

let stack: TestStack;
let origin: string;
let organizationId: string;
let owner: SignedInUser;
let eventId: string;
/** A key pinned on the first version (as keys created on 2026-12-06 are), and one created today. */
let oldKey: Record<string, string>;
let newKey: Record<string, string>;

const OLDEST = API_VERSIONS[0];

async function createKey(name: string): Promise<{ id: string; headers: Record<string, string> }> {
  const { createApiKey } = await gatewayCall<{ createApiKey: { apiKey: { id: string }; secret: string } }>(
    stack,
    'mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { apiKey { id } secret } }',
    {
      input: { organizationId, name, scopes: ['events:read', 'events:write', 'orders:read'], mode: 'LIVE' },
    },
    owner.headers,
  );
  return { id: createApiKey.apiKey.id, headers: { authorization: `Bearer ${createApiKey.secret}` } };
}

async function get(path: string, headers: Record<string, string> = {}) {
  const response = await fetch(`${origin}${path}`, { headers });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : undefined };
}

/** Every `object` member anywhere in `value`. */
function objectNames(value: unknown): unknown[] {
  if (Array.isArray(value)) return value.flatMap(objectNames);
  if (typeof value !== 'object' || value === null) return [];
  return Object.entries(value).flatMap(([key, member]) =>
    key === 'object' ? [member, ...objectNames(member)] : objectNames(member),
  );
}

beforeAll(async () => {
  stack = await startTestStack('in-process');
  origin = new URL(stack.url).origin;
  ({ organizationId, owner } = await stack.organizationOwner(`versions-${Date.now()}`));
  const old = await createKey('pinned on the first version');
  // What a key created before 2026-12-07 holds; set before its first use, so no gateway has its facts yet.
  await stack.sql`update identity.api_keys set api_version = ${OLDEST} where id = ${old.id}`;
  oldKey = old.headers;
  newKey = (await createKey('created today')).headers;
  const { createEvent } = await gatewayCall<{ createEvent: { event: { id: string } } }>(
    stack,
    'mutation($input: CreateEventInput!) { createEvent(input: $input) { event { id } } }',
    { input: eventInput(organizationId, 'Versioned Night') },
    owner.headers,
  );
  eventId = createEvent.event.id;
}, 120_000);

afterAll(async () => {
  await stack?.dispose();
});

describe('Bilten-Version', () => {
  it('answers the same call in the shape of the version the header names, and says which', async () => {
    const path = `/api/v1/events/${eventId}`;
    const newest = await get(path, { ...owner.headers, 'bilten-version': CURRENT_API_VERSION });
    expect(newest.status).toBe(200);
    expect(newest.headers.get('bilten-version')).toBe(CURRENT_API_VERSION);
    expect(Object.keys(newest.body).slice(0, 2)).toEqual(['id', 'object']);
    expect(newest.body).toMatchObject({ id: eventId, object: 'event', title: 'Versioned Night' });

    const oldest = await get(path, { ...owner.headers, 'bilten-version': OLDEST });
    expect(oldest.status).toBe(200);
    expect(oldest.headers.get('bilten-version')).toBe(OLDEST);
    const { object: _object, ...rest } = newest.body;
    expect(oldest.body).toEqual(rest);
    // Different bodies, different validators: one version's ETag never answers 304 for the other.
    expect(oldest.headers.get('etag')).not.toBe(newest.headers.get('etag'));
    const other = await get(path, {
      ...owner.headers,
      'bilten-version': OLDEST,
      'if-none-match': newest.headers.get('etag')!,
    });
    expect(other.status).toBe(200);
  });

  it('names lists and nested resources in the newest version, and none of them in the oldest', async () => {
    const list = `/api/v1/events?organizationId=${organizationId}`;
    const newest = await get(list, owner.headers);
    expect(newest.status).toBe(200);
    expect(newest.body).toMatchObject({ object: 'list', data: [{ id: eventId, object: 'event' }] });
    const members = await get(`/api/v1/organizations/${organizationId}/members`, owner.headers);
    expect(members.status).toBe(200);
    expect(members.body).toMatchObject({
      object: 'list',
      data: [{ user: { object: 'user' }, role: 'OWNER' }],
    });

    for (const path of [list, `/api/v1/organizations/${organizationId}/members`]) {
      const oldest = await get(path, { ...owner.headers, 'bilten-version': OLDEST });
      expect(oldest.status).toBe(200);
      expect(objectNames(oldest.body)).toEqual([]);
      expect(oldest.body.data.length).toBeGreaterThan(0);
    }
  });

  it('defaults to the version the API key is pinned on; the header still wins', async () => {
    const path = `/api/v1/events/${eventId}`;
    const pinned = await get(path, oldKey);
    expect(pinned.status).toBe(200);
    expect(pinned.headers.get('bilten-version')).toBe(OLDEST);
    expect(pinned.body).not.toHaveProperty('object');
    expect(pinned.body).toMatchObject({ id: eventId, title: 'Versioned Night' });

    const asked = await get(path, { ...oldKey, 'bilten-version': CURRENT_API_VERSION });
    expect(asked.headers.get('bilten-version')).toBe(CURRENT_API_VERSION);
    expect(asked.body.object).toBe('event');

    const today = await get(path, newKey);
    expect(today.headers.get('bilten-version')).toBe(CURRENT_API_VERSION);
    expect(today.body.object).toBe('event');
  });

  it('gives users and anonymous callers the newest version', async () => {
    for (const headers of [owner.headers, {}]) {
      const answer = await get(`/api/v1/events?organizationId=${organizationId}`, headers);
      expect(answer.status).toBe(200);
      expect(answer.headers.get('bilten-version')).toBe(CURRENT_API_VERSION);
      expect(answer.body.object).toBe('list');
    }
  });

  it('refuses an unknown version with a 400 problem naming the known ones, before anything runs', async () => {
    for (const asked of [
      '2026-12-05',
      'latest',
      '<script>alert(1)</script>',
      '2026-12-07x',
      'x'.repeat(4000),
    ]) {
      const answer = await get(`/api/v1/events/${eventId}`, { ...oldKey, 'bilten-version': asked });
      expect(answer.status, asked.slice(0, 40)).toBe(400);
      expect(answer.headers.get('content-type')).toContain('application/problem+json');
      expect(answer.body).toMatchObject({ status: 400, code: 'BAD_REQUEST' });
      for (const version of API_VERSIONS) expect(answer.body.detail).toContain(version);
    }
  });

  it('puts the version on every answer: problems, unknown routes, refused keys', async () => {
    const answers = [
      await get('/api/v1/events?no_such_parameter=1', oldKey),
      await get('/api/v1/no-such-route', oldKey),
      await get(`/api/v1/events/${eventId}`, { authorization: 'Bearer bk_live_revokedOrMadeUp' }),
    ];
    expect(answers.map((answer) => answer.status)).toEqual([400, 404, 401]);
    expect(answers.map((answer) => answer.headers.get('bilten-version'))).toEqual([
      OLDEST,
      OLDEST,
      CURRENT_API_VERSION,
    ]);
  });

  it('replays an idempotent POST as it was first answered, with that version', async () => {
    const request = (version: string) =>
      fetch(`${origin}/api/v1/events`, {
        method: 'POST',
        headers: {
          ...newKey,
          'content-type': 'application/json',
          'idempotency-key': `versions-${eventId}`,
          'bilten-version': version,
        },
        body: JSON.stringify(eventInput(organizationId, 'Replayed Night')),
      });
    const first = await request(OLDEST);
    const firstBody = await first.json();
    expect(first.status).toBe(201);
    expect(firstBody).not.toHaveProperty('object');
    const replay = await request(CURRENT_API_VERSION);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(replay.headers.get('bilten-version')).toBe(OLDEST);
    expect(await replay.json()).toEqual(firstBody);
  });

  it('documents the header, the newest shape and the changelog in the OpenAPI document', async () => {
    const response = await fetch(`${origin}/api/v1/openapi.json`, { headers: oldKey });
    expect(response.headers.get('bilten-version')).toBe(CURRENT_API_VERSION);
    // biome-ignore lint/suspicious/noExplicitAny: a JSON document read path by path
    const openapi = (await response.json()) as any;
    expect(openapi.info.version).toBe(CURRENT_API_VERSION);
    expect(openapi.info.description).toContain('(/api/changelog)');
    const get = openapi.paths['/api/v1/events/{id}'].get;
    expect(get.parameters).toContainEqual(
      expect.objectContaining({
        name: 'Bilten-Version',
        in: 'header',
        schema: { type: 'string', enum: [...API_VERSIONS] },
      }),
    );
    expect(get.responses['200'].headers['Bilten-Version']).toBeDefined();
    expect(get.responses['200'].content['application/json'].schema.properties.object).toEqual({
      type: 'string',
      enum: ['event'],
    });
  });
});

describe('changelog', () => {
  it('is a page with every version, its changes and the deprecations, escaped and without script', async () => {
    const response = await fetch(`${origin}/api/changelog`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/html');
    expect(response.headers.get('content-security-policy')).toContain("default-src 'none'");
    const html = await response.text();
    expect(html).not.toMatch(/<script/i);
    for (const version of API_VERSIONS) expect(html).toContain(`<section id="${version}">`);
    expect(html).toContain('<code>object</code>');
    expect(html).toContain('<code>POST /api/v1/check-ins</code> is deprecated');
    expect(html).toContain('&quot;list&quot;');
  });

  it('is JSON too, newest first, generated from gateway/src/versions and the routes', async () => {
    const json = (await (await fetch(`${origin}/api/changelog.json`)).json()) as {
      currentVersion: string;
      versions: Array<{ version: string; current: boolean; changes: Array<{ title: string }> }>;
    };
    expect(json.currentVersion).toBe(CURRENT_API_VERSION);
    expect(json.versions.map((entry) => entry.current)).toEqual(API_VERSIONS.map((_, index) => index === 0));
    expect(json.versions.map((entry) => entry.version)).toEqual([...API_VERSIONS].reverse());
    expect(json.versions[0]!.changes.map((change) => change.title)).toEqual([
      'Every resource and list says what it is in `object`',
      'Event lists leave out `description`, for every version',
      '`POST /api/v1/check-ins` is deprecated',
    ]);
  });
});

describe('Deprecation and Sunset', () => {
  it('marks every answer of POST /check-ins deprecated, with its sunset, successor and changelog entry', async () => {
    const response = await fetch(`${origin}/api/v1/check-ins`, {
      method: 'POST',
      headers: { ...owner.headers, 'content-type': 'application/json' },
      body: JSON.stringify({ code: 'not-a-ticket-code' }),
    });
    expect(response.status).toBeGreaterThanOrEqual(400);
    expect(response.headers.get('deprecation')).toBe(`@${Date.parse('2026-12-07T00:00:00Z') / 1000}`);
    expect(response.headers.get('sunset')).toBe('Wed, 30 Jun 2027 00:00:00 GMT');
    expect(response.headers.get('link')).toBe(
      '</api/v1/tickets/{id}/check-in>; rel="successor-version", </api/changelog#2026-12-07>; rel="deprecation"; type="text/html"',
    );
    // At least six months' notice.
    expect(Date.parse(response.headers.get('sunset')!) - Date.parse('2026-12-07T00:00:00Z')).toBeGreaterThan(
      182 * 86_400_000,
    );
    const fine = await get(`/api/v1/events/${eventId}`, owner.headers);
    expect(fine.headers.get('deprecation')).toBeNull();
    expect(fine.headers.get('sunset')).toBeNull();
  });

  it('marks the operation deprecated in the OpenAPI document, with its sunset', async () => {
    // biome-ignore lint/suspicious/noExplicitAny: a JSON document read path by path
    const openapi = (await (await fetch(`${origin}/api/v1/openapi.json`)).json()) as any;
    const checkIns = openapi.paths['/api/v1/check-ins'].post;
    expect(checkIns).toMatchObject({ deprecated: true, 'x-sunset': '2027-06-30' });
    expect(Object.keys(checkIns.responses['200'].headers)).toEqual(
      expect.arrayContaining(['Deprecation', 'Sunset', 'Link']),
    );
    expect(openapi.paths['/api/v1/tickets/{id}/check-in'].post.deprecated).toBeUndefined();
  });

  it('announces GraphQL fields with a removal date on the answers of operations that select them', async () => {
    // Event.title deprecated in the supergraph this gateway loads, as a subgraph would announce it.
    const supergraphSdl = readFileSync(SUPERGRAPH_SDL_PATH, 'utf8').replace(
      /(type Event\n[^{]*\{\n[\s\S]*?\n\s+title: String! @join__field\(graph: CATALOG\))/,
      '$1 @deprecated(reason: "Use name. Deprecated since 2026-11-02, removal after 2027-03-31.")',
    );
    expect(supergraphSdl).toContain('Removal after 2027-03-31'.toLowerCase());
    const gateway = await startGateway({
      supergraphSdl,
      subgraphUrls: Object.fromEntries(
        Object.values(stack.subgraphs).map((service) => [service.name, service.url]),
      ),
      limits: TEST_LIMITS,
      blockFieldSuggestions: false,
      log: captureLogs('gateway').log,
      host: '127.0.0.1',
      port: 0,
    });
    const ask = (query: string) =>
      fetch(gateway.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query, variables: { id: eventId } }),
      });
    try {
      for (let round = 0; round < 2; round++) {
        // Twice: the second answer comes from the cached document.
        const deprecated = await ask('query($id: ID!) { event(id: $id) { id title } }');
        expect(deprecated.status).toBe(200);
        expect(deprecated.headers.get('deprecation')).toBe(`@${Date.parse('2026-11-02T00:00:00Z') / 1000}`);
        expect(deprecated.headers.get('sunset')).toBe('Thu, 01 Apr 2027 00:00:00 GMT');
        const current = await ask('query($id: ID!) { event(id: $id) { id startsAt } }');
        expect(current.status).toBe(200);
        expect(current.headers.get('deprecation')).toBeNull();
        expect(current.headers.get('sunset')).toBeNull();
      }
      // Through a fragment too.
      const viaFragment = await ask(
        'query($id: ID!) { event(id: $id) { ...F } } fragment F on Event { title }',
      );
      expect(viaFragment.headers.get('sunset')).toBe('Thu, 01 Apr 2027 00:00:00 GMT');
    } finally {
      await gateway.stop();
    }
  });
});
