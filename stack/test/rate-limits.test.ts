/**
 * Issue 16, rate limits: token buckets per API key, user and client address, charged by each
 * operation's cost, in Redis (shared by every gateway) or in memory, with the draft-10 RateLimit
 * headers on every answer and 429 + Retry-After + a problem body once a bucket is short.
 */
import { randomInt } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { gatewayEnv, gatewayOptionsFromEnv, type RunningGateway, startGateway } from '@bilten/gateway';
import { parseEnv, type RawEnv } from '@bilten/platform';
import { captureLogs, type SignedInUser } from '@bilten/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SUPERGRAPH_SDL_PATH } from '../src/stack.ts';
import { eventInput, gatewayCall, internalsIn, startTestStack, type TestStack } from './support.ts';

const REDIS_URL = 'redis://127.0.0.1:6379';

let stack: TestStack;
let user: SignedInUser;
let owner: SignedInUser;
let organizationId: string;
let apiKeyHeaders: Record<string, string>;
const started: RunningGateway[] = [];

/** A new TEST key of the organization; with `plan`, set by a platform administrator. */
async function newApiKey(plan?: string): Promise<Record<string, string>> {
  const { createApiKey } = await gatewayCall<{ createApiKey: { apiKey: { id: string }; secret: string } }>(
    stack,
    'mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { apiKey { id } secret errors { code } } }',
    { input: { organizationId, name: 'rate limits', scopes: ['events:read'], mode: 'TEST' } },
    owner.headers,
  );
  if (plan) {
    const admin = await stack.signUpAdmin();
    const { setApiKeyPlan } = await gatewayCall<{ setApiKeyPlan: { apiKey: { plan: string } } }>(
      stack,
      'mutation($input: SetApiKeyPlanInput!) { setApiKeyPlan(input: $input) { apiKey { plan } errors { code } } }',
      { input: { id: createApiKey.apiKey.id, plan } },
      admin.headers,
    );
    expect(setApiKeyPlan.apiKey.plan).toBe(plan);
  }
  return { authorization: `Bearer ${createApiKey.secret}` };
}

beforeAll(async () => {
  stack = await startTestStack('in-process');
  user = await stack.signUp();
  ({ organizationId, owner } = await stack.organizationOwner(`rl-${randomInt(1e9)}`));
  apiKeyHeaders = await newApiKey();
});
afterEach(async () => {
  for (const gateway of started.splice(0)) await gateway.stop();
});
afterAll(async () => {
  await stack?.dispose();
});

/**
 * A gateway in front of the stack's subgraphs, configured from variables as in a deployment. It
 * trusts loopback to name the client, so each test is its own client address (Redis outlives a run).
 */
async function limitedGateway(env: RawEnv, logs = captureLogs('gateway')): Promise<RunningGateway> {
  const config = parseEnv(gatewayEnv, {
    HOST: '127.0.0.1',
    GATEWAY_PORT: '0',
    GATEWAY_TRUST_PROXY: '127.0.0.1',
    // Room for an operation of 1,000 aliases.
    GATEWAY_MAX_ALIASES: '1000',
    GATEWAY_MAX_TOKENS: '10000',
    ...env,
  });
  const gateway = await startGateway({
    ...gatewayOptionsFromEnv(config, logs.log),
    supergraphSdl: readFileSync(SUPERGRAPH_SDL_PATH, 'utf8'),
    subgraphUrls: Object.fromEntries(Object.values(stack.subgraphs).map(({ name, url }) => [name, url])),
  });
  started.push(gateway);
  return gateway;
}

const newAddress = () => `10.${randomInt(256)}.${randomInt(256)}.${randomInt(1, 255)}`;

async function post(gateway: RunningGateway, body: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(gateway.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return { status: response.status, headers: response.headers, text: await response.text() };
}

/** `r` of the RateLimit header: the units left after this request. */
const remainingOf = (headers: Headers) => Number(/;r=(\d+)/.exec(headers.get('ratelimit') ?? '')?.[1]);

const CHEAP = { query: '{ __typename }' };

describe.each([
  ['Redis', { REDIS_URL }],
  ['memory', {}],
])('the %s store', (_store, storeEnv) => {
  it('counts the headers down and answers 429 exactly at the limit, with Retry-After and a problem body', async () => {
    const gateway = await limitedGateway({ ...storeEnv, GATEWAY_RATE_LIMIT: 'address=5/3600' });
    const client = { 'x-forwarded-for': newAddress() };
    for (const remaining of [4, 3, 2, 1, 0]) {
      const answer = await post(gateway, CHEAP, client);
      expect(answer.status).toBe(200);
      expect(answer.headers.get('ratelimit-policy')).toBe('"default";q=5;w=3600');
      // One unit refills every 720 s: what was taken comes back in 720 s per unit.
      expect(answer.headers.get('ratelimit')).toBe(`"default";r=${remaining};t=${(5 - remaining) * 720}`);
    }
    const refused = await post(gateway, CHEAP, client);
    expect(refused.status).toBe(429);
    expect(refused.headers.get('content-type')).toBe('application/problem+json; charset=utf-8');
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(700);
    expect(Number(refused.headers.get('retry-after'))).toBeLessThanOrEqual(720);
    expect(refused.headers.get('ratelimit')).toBe('"default";r=0;t=3600');
    expect(JSON.parse(refused.text)).toEqual({
      type: 'https://docs.bilten.dev/errors/rate-limited',
      title: 'Too many requests',
      status: 429,
      code: 'RATE_LIMITED',
      detail: expect.stringMatching(
        /^This request costs 1 units and 0 are left of 5 per 3600 s; retry after \d+ s\.$/,
      ),
      instance: refused.headers.get('x-request-id'),
    });
    expect(internalsIn(refused.text)).toEqual([]);
    // Another client is not refused.
    expect((await post(gateway, CHEAP, { 'x-forwarded-for': newAddress() })).status).toBe(200);
  });

  it('charges an operation of 1,000 aliases 1,000 units, and a batch for each of its operations', async () => {
    const gateway = await limitedGateway({ ...storeEnv, GATEWAY_RATE_LIMIT: 'address=5000/86400' });
    const client = { 'x-forwarded-for': newAddress() };
    const aliases = Array.from({ length: 1000 }, (_, i) => `a${i}: __typename`).join(' ');
    const huge = await post(gateway, { query: `{ ${aliases} }` }, client);
    expect(huge.status).toBe(200);
    expect(Object.keys((JSON.parse(huge.text) as { data: object }).data)).toHaveLength(1000);
    expect(remainingOf(huge.headers)).toBe(4000);
    const batch = await post(gateway, [CHEAP, CHEAP, { query: '{ a: __typename b: __typename }' }], client);
    expect(remainingOf(batch.headers)).toBe(4000 - 1 - 1 - 2);
  });
});

describe('one budget, several gateways', () => {
  it('two gateways sharing one Redis share one budget', async () => {
    const env = { REDIS_URL, GATEWAY_RATE_LIMIT: 'address=4/3600' };
    const [first, second] = [await limitedGateway(env), await limitedGateway(env)];
    const client = { 'x-forwarded-for': newAddress() };
    const remaining = [];
    for (const gateway of [first, second, first, second])
      remaining.push(remainingOf((await post(gateway, CHEAP, client)).headers));
    expect(remaining).toEqual([3, 2, 1, 0]);
    expect((await post(first, CHEAP, client)).status).toBe(429);
    expect((await post(second, CHEAP, client)).status).toBe(429);
  });

  it('gateways without Redis keep their own buckets', async () => {
    const env = { GATEWAY_RATE_LIMIT: 'address=4/3600' };
    const [first, second] = [await limitedGateway(env), await limitedGateway(env)];
    const client = { 'x-forwarded-for': newAddress() };
    expect(remainingOf((await post(first, CHEAP, client)).headers)).toBe(3);
    expect(remainingOf((await post(second, CHEAP, client)).headers)).toBe(3);
  });
});

describe('whose bucket', () => {
  it('an API key, a signed-in user and an address draw from separate buckets; an unknown key is its address', async () => {
    const gateway = await limitedGateway({
      REDIS_URL,
      GATEWAY_RATE_LIMIT: 'key=3/3600,user=2/3600,address=1/3600',
    });
    const address = { 'x-forwarded-for': newAddress() };
    const anonymous = await post(gateway, CHEAP, address);
    expect(anonymous.headers.get('ratelimit')).toBe('"default";r=0;t=3600');
    expect((await post(gateway, CHEAP, address)).status).toBe(429);

    const asUser = await post(gateway, CHEAP, { ...address, ...user.headers });
    expect(asUser.status).toBe(200);
    expect(asUser.headers.get('ratelimit-policy')).toBe('"default";q=2;w=3600');
    expect(remainingOf(asUser.headers)).toBe(1);

    const asKey = await post(gateway, CHEAP, { ...address, ...apiKeyHeaders });
    expect(asKey.status).toBe(200);
    // An API key's policy is named by its plan.
    expect(asKey.headers.get('ratelimit-policy')).toBe('"standard";q=3;w=3600');
    expect(remainingOf(asKey.headers)).toBe(2);

    // Inventing credentials buys no fresh bucket: an unknown key draws from the spent address one.
    const inventedKey = await post(gateway, CHEAP, {
      ...address,
      authorization: `Bearer bk_live_${'A'.repeat(43)}`,
    });
    expect(inventedKey.status).toBe(429);
    expect(inventedKey.headers.get('ratelimit-policy')).toBe('"default";q=1;w=3600');
  });
});

describe('plans', () => {
  it("an API key's bucket follows its plan, which the headers name: a key on a small plan is limited first", async () => {
    const gateway = await limitedGateway({
      GATEWAY_RATE_LIMIT: 'key=50/3600',
      GATEWAY_RATE_LIMIT_PLANS: 'trial=2/3600s,partner=500/3600',
    });
    const [trial, standard, partner] = [
      await newApiKey('trial'),
      await newApiKey(),
      await newApiKey('partner'),
    ];
    for (const remaining of [1, 0]) {
      const answer = await post(gateway, CHEAP, trial);
      expect(answer.status).toBe(200);
      expect(answer.headers.get('ratelimit-policy')).toBe('"trial";q=2;w=3600');
      expect(answer.headers.get('ratelimit')).toBe(`"trial";r=${remaining};t=${(2 - remaining) * 1800}`);
    }
    const refused = await post(gateway, CHEAP, trial);
    expect(refused.status).toBe(429);
    expect(refused.headers.get('ratelimit')).toBe('"trial";r=0;t=3600');
    // The standard key (GATEWAY_RATE_LIMIT's `key=`) and the partner key go on.
    const asStandard = await post(gateway, CHEAP, standard);
    expect(asStandard.headers.get('ratelimit-policy')).toBe('"standard";q=50;w=3600');
    expect(remainingOf(asStandard.headers)).toBe(49);
    expect(remainingOf((await post(gateway, CHEAP, partner)).headers)).toBe(499);
  });

  it('a plan the gateway does not know is charged as standard, with one warning', async () => {
    const logs = captureLogs('gateway');
    const gateway = await limitedGateway({ GATEWAY_RATE_LIMIT_PLANS: 'standard=40/60' }, logs);
    const gold = await newApiKey('gold');
    for (const remaining of [39, 38]) {
      const answer = await post(gateway, CHEAP, gold);
      expect(answer.headers.get('ratelimit-policy')).toBe('"standard";q=40;w=60');
      expect(remainingOf(answer.headers)).toBe(remaining);
    }
    expect(logs.lines.filter((line) => line.plan === 'gold')).toHaveLength(1);
  });

  it('a malformed GATEWAY_RATE_LIMIT_PLANS stops the start', () => {
    expect(
      parseEnv(gatewayEnv, { GATEWAY_RATE_LIMIT_PLANS: 'standard=6000/60s,partner=60000/60s' }),
    ).toBeTruthy();
    for (const value of [
      'standard=0/60',
      'Partner=5/60',
      'a=5/60,a=6/60',
      'gold=5/60m',
      'gold=5',
      'gold=5/60;x=1/1',
    ])
      expect(() => parseEnv(gatewayEnv, { GATEWAY_RATE_LIMIT_PLANS: value })).toThrow(
        /GATEWAY_RATE_LIMIT_PLANS/,
      );
  });
});

describe('what an operation is charged', () => {
  it('is what its answer holds: REST creating an event is charged its event, not the sizes of lists it may hold', async () => {
    const gateway = await limitedGateway({ GATEWAY_RATE_LIMIT: 'user=6000/86400' });
    const { organizationId: ownOrganization, owner: organizer } = await stack.organizationOwner(
      `rlc-${randomInt(1e9)}`,
    );
    const created = await fetch(new URL('/api/v1/events', gateway.url), {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...organizer.headers },
      body: JSON.stringify(eventInput(ownOrganization, 'Charged by its answer', { tags: ['a', 'b'] })),
    });
    expect(created.status).toBe(201);
    // Priced 894 before it runs (20 errors of 20 field paths, a description of 100 KB); it
    // returned one event with two tags and no errors.
    const charged = 6000 - remainingOf(created.headers);
    expect(charged).toBeGreaterThan(20);
    expect(charged).toBeLessThan(60);
  });

  it('refuses an operation whose price is not in the bucket, though its answer would be small', async () => {
    const gateway = await limitedGateway({ GATEWAY_RATE_LIMIT: 'address=100/3600' });
    const client = { 'x-forwarded-for': newAddress() };
    // 10 events of 404 units each at most: more than the bucket, so it runs on a full one only.
    const search = { query: '{ events(first: 10) { edges { node { id description } } } }' };
    const first = await post(gateway, search, client);
    expect(first.status).toBe(200);
    // No event: charged one unit.
    expect(remainingOf(first.headers)).toBe(99);
    const aliases = Array.from({ length: 99 }, (_, i) => `a${i}: __typename`).join(' ');
    expect(remainingOf((await post(gateway, { query: `{ ${aliases} }` }, client)).headers)).toBe(0);
    expect((await post(gateway, search, client)).status).toBe(429);
  });
});

describe('configuration', () => {
  it('`off` serves no RateLimit headers and refuses nothing', async () => {
    const gateway = await limitedGateway({ GATEWAY_RATE_LIMIT: 'off' });
    const answer = await post(gateway, CHEAP, { 'x-forwarded-for': newAddress() });
    expect(answer.status).toBe(200);
    expect(answer.headers.get('ratelimit')).toBeNull();
    expect(answer.headers.get('ratelimit-policy')).toBeNull();
  });

  it('the defaults apply unless set, and a malformed GATEWAY_RATE_LIMIT stops the start', async () => {
    const gateway = await limitedGateway({});
    const answer = await post(gateway, CHEAP, { 'x-forwarded-for': newAddress() });
    expect(answer.headers.get('ratelimit-policy')).toBe('"default";q=3000;w=60');
    for (const value of ['address=0/60', 'everyone=5/60', 'key=5', 'key=5/60;user=5/60'])
      expect(() => parseEnv(gatewayEnv, { GATEWAY_RATE_LIMIT: value })).toThrow(/GATEWAY_RATE_LIMIT/);
  });
});
