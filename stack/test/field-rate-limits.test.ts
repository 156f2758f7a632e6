/**
 * Issue 16, sensitive fields: graphql-rate-limit (packages/platform field-rate-limits.ts) inside
 * the subgraphs that own them, per client address as the gateway forwards it (or per signed-in
 * client for search), counted in Redis; over the limit a field answers RATE_LIMITED with a retry
 * hint, and REST answers 429.
 */
import { randomInt, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { gatewayEnv, gatewayOptionsFromEnv, type RunningGateway, startGateway } from '@bilten/gateway';
import { FIELD_RATE_LIMIT_KEY_PREFIX, parseEnv } from '@bilten/platform';
import { captureLogs, type SignedInUser } from '@bilten/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SUPERGRAPH_SDL_PATH } from '../src/stack.ts';
import { internalsIn, startTestStack, type TestStack } from './support.ts';

const REDIS_URL = 'redis://127.0.0.1:6379';
let stack: TestStack;
let gateway: RunningGateway;
let user: SignedInUser;

beforeAll(async () => {
  // Counts outlive a run in Redis: the stack's own sign-up below comes from 127.0.0.1 every time.
  const redis = new Redis(REDIS_URL);
  const counted = await redis.keys(`${FIELD_RATE_LIMIT_KEY_PREFIX}*`);
  if (counted.length) await redis.del(...counted);
  redis.disconnect();
  stack = await startTestStack('in-process', {
    env: {
      REDIS_URL,
      RATE_LIMIT_SIGN_UP: '3/3600',
      RATE_LIMIT_PASSWORD_RESET: '2/3600',
      RATE_LIMIT_SEARCH: '3/60',
    },
  });
  user = await stack.signUp();
  // A gateway that trusts loopback to name the client: each test is its own address (Redis outlives a run).
  const config = parseEnv(gatewayEnv, {
    HOST: '127.0.0.1',
    GATEWAY_PORT: '0',
    GATEWAY_TRUST_PROXY: '127.0.0.1',
    GATEWAY_RATE_LIMIT: 'off',
  });
  gateway = await startGateway({
    ...gatewayOptionsFromEnv(config, captureLogs('gateway').log),
    supergraphSdl: readFileSync(SUPERGRAPH_SDL_PATH, 'utf8'),
    subgraphUrls: Object.fromEntries(Object.values(stack.subgraphs).map(({ name, url }) => [name, url])),
  });
});
afterAll(async () => {
  await gateway?.stop();
  await stack?.dispose();
});

const newAddress = () => `10.${randomInt(256)}.${randomInt(256)}.${randomInt(1, 255)}`;

interface Answer {
  data?: Record<string, unknown> | null;
  errors?: Array<{
    message: string;
    path?: string[];
    extensions?: { code?: string; retryAfterSeconds?: number };
  }>;
}

async function call(query: string, variables: Record<string, unknown>, headers: Record<string, string>) {
  const response = await fetch(gateway.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ query, variables }),
  });
  const text = await response.text();
  expect(internalsIn(text)).toEqual([]);
  return JSON.parse(text) as Answer;
}

const REGISTER = 'mutation($input: RegisterInput!) { register(input: $input) { accepted errors { code } } }';
const signUpFrom = (address: string) =>
  call(
    REGISTER,
    {
      input: {
        email: `rl-${randomUUID()}@example.com`,
        password: 'correct horse battery',
        displayName: 'RL',
      },
    },
    { 'x-forwarded-for': address },
  );

const SEARCH = '{ events(filter: { query: "nothing like it" }) { totalCount } }';

describe('sign-up', () => {
  it('refuses the 4th sign-up of an hour from one address with RATE_LIMITED and a retry hint; another address still signs up', async () => {
    const address = newAddress();
    for (let i = 0; i < 3; i++)
      expect((await signUpFrom(address)).data).toEqual({ register: { accepted: true, errors: [] } });
    const refused = await signUpFrom(address);
    expect(refused.data).toBeNull();
    expect(refused.errors?.[0]?.extensions?.code).toBe('RATE_LIMITED');
    expect(refused.errors?.[0]?.message).toMatch(
      /^too many register requests from this client; try again later; retry after \d+ s$/,
    );
    const retryAfter = refused.errors?.[0]?.extensions?.retryAfterSeconds ?? 0;
    expect(retryAfter).toBeGreaterThan(3500);
    expect(retryAfter).toBeLessThanOrEqual(3600);
    // Refused calls are not counted, and the rule never ran: no account for the 4th address.
    expect((await signUpFrom(address)).errors?.[0]?.extensions?.code).toBe('RATE_LIMITED');
    expect((await signUpFrom(newAddress())).data).toEqual({ register: { accepted: true, errors: [] } });
  });

  it('counts every alias of one operation', async () => {
    const address = newAddress();
    const input = (i: number) =>
      `{ email: "rl-${randomUUID()}-${i}@example.com", password: "correct horse battery", displayName: "RL" }`;
    const aliases = [0, 1, 2, 3].map((i) => `a${i}: register(input: ${input(i)}) { accepted }`).join(' ');
    const answer = await call(`mutation { ${aliases} }`, {}, { 'x-forwarded-for': address });
    expect(answer.errors?.map((error) => [error.path?.[0], error.extensions?.code])).toEqual([
      ['a3', 'RATE_LIMITED'],
    ]);
  });
});

describe('password reset', () => {
  it('refuses the 3rd request of an hour from one address, whatever the email', async () => {
    const reset = (address: string) =>
      call(
        'mutation($input: RequestPasswordResetInput!) { requestPasswordReset(input: $input) { accepted } }',
        { input: { email: `rl-${randomUUID()}@example.com` } },
        { 'x-forwarded-for': address },
      );
    const address = newAddress();
    expect((await reset(address)).data).toEqual({ requestPasswordReset: { accepted: true } });
    expect((await reset(address)).data).toEqual({ requestPasswordReset: { accepted: true } });
    expect((await reset(address)).errors?.[0]?.extensions?.code).toBe('RATE_LIMITED');
    expect((await reset(newAddress())).data).toEqual({ requestPasswordReset: { accepted: true } });
  });
});

describe('search', () => {
  it('is limited per client: an address, and a signed-in user behind the same address, each have their own count', async () => {
    const address = { 'x-forwarded-for': newAddress() };
    for (let i = 0; i < 3; i++)
      expect((await call(SEARCH, {}, address)).data).toEqual({ events: { totalCount: 0 } });
    const refused = await call(SEARCH, {}, address);
    expect(refused.errors?.[0]?.extensions?.code).toBe('RATE_LIMITED');
    expect(refused.errors?.[0]?.extensions?.retryAfterSeconds).toBeLessThanOrEqual(60);
    // A signed-in user behind the same address is a client of their own.
    const asUser = await call(SEARCH, {}, { ...address, ...user.headers });
    expect(asUser.errors?.[0]?.extensions?.code ?? 'ok').toBe('ok');
    expect((await call(SEARCH, {}, { 'x-forwarded-for': newAddress() })).data).toEqual({
      events: { totalCount: 0 },
    });
  });

  it('REST answers 429 with Retry-After and a RATE_LIMITED problem once the search of its list route is limited', async () => {
    const address = { 'x-forwarded-for': newAddress() };
    const list = () =>
      fetch(new URL('/api/v1/events?query=nothing&limit=5', gateway.url), { headers: address });
    for (let i = 0; i < 3; i++) expect((await list()).status).toBe(200);
    const refused = await list();
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(Number(refused.headers.get('retry-after'))).toBeLessThanOrEqual(60);
    expect(await refused.json()).toMatchObject({ status: 429, code: 'RATE_LIMITED' });
  });
});
