import { randomUUID } from 'node:crypto';
import { captureLogs } from '@bilten/testkit';
import type { GraphQLResolveInfo } from 'graphql';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ANONYMOUS, type Viewer } from '../src/auth.ts';
import { DomainError } from '../src/errors.ts';
import { createFieldRateLimits, type FieldRateLimits, fieldRateLimit } from '../src/field-rate-limits.ts';

const opened: FieldRateLimits[] = [];
afterEach(async () => {
  for (const limits of opened.splice(0)) await limits.close();
});

const user = (userId: string): Viewer => ({
  kind: 'user',
  userId,
  roles: [],
  organizations: {},
  tokenId: 't',
  emailVerified: true,
});

/** Resolvers of a schema with one limited mutation and one limited query, over `store`. */
function limited(redisUrl: string | undefined, env: Record<string, string>) {
  const config = z.object({ SIGN_UP: fieldRateLimit('3/3600'), SEARCH: fieldRateLimit('2/60') }).parse(env);
  const limits = createFieldRateLimits({
    service: `test-${randomUUID()}`,
    log: captureLogs('field-limits').log,
    redisUrl,
    fields: {
      'Mutation.register': { limit: config.SIGN_UP, per: 'address' },
      'Query.events': { limit: config.SEARCH, per: 'client' },
    },
  });
  opened.push(limits);
  const resolvers = limits.wrap({
    Query: { events: () => 'found', other: () => 'unlimited' },
    Mutation: { register: () => 'registered' },
  });
  const call = (type: 'Query' | 'Mutation', field: string, clientIp: string, viewer: Viewer = ANONYMOUS) =>
    Promise.resolve()
      .then(() =>
        (resolvers[type] as Record<string, (...args: unknown[]) => unknown>)[field]!(
          {},
          {},
          { viewer, clientIp },
          { fieldName: field } as GraphQLResolveInfo,
        ),
      )
      .catch((err: unknown) => err);
  return { call };
}

describe.each([
  ['Redis', 'redis://127.0.0.1:6379'],
  ['memory', undefined],
])('the %s store', (_name, redisUrl) => {
  it('refuses the call past the limit from one address with RATE_LIMITED and a retry hint, signed in or not', async () => {
    const { call } = limited(redisUrl, {});
    expect(await call('Mutation', 'register', '10.0.0.1')).toBe('registered');
    expect(await call('Mutation', 'register', '10.0.0.1', user(randomUUID()))).toBe('registered');
    expect(await call('Mutation', 'register', '10.0.0.1')).toBe('registered');
    const refused = await call('Mutation', 'register', '10.0.0.1', user(randomUUID()));
    expect(refused).toBeInstanceOf(DomainError);
    expect((refused as DomainError).code).toBe('RATE_LIMITED');
    const { retryAfterSeconds } = (refused as DomainError).details as { retryAfterSeconds: number };
    expect(retryAfterSeconds).toBeGreaterThan(3590);
    expect(retryAfterSeconds).toBeLessThanOrEqual(3600);
    expect(await call('Mutation', 'register', '10.0.0.2')).toBe('registered');
  });

  it('counts per client where it says so: each signed-in user apart from their address', async () => {
    const { call } = limited(redisUrl, {});
    const someone = user(randomUUID());
    for (const viewer of [ANONYMOUS, ANONYMOUS, someone, someone])
      expect(await call('Query', 'events', '10.0.0.3', viewer)).toBe('found');
    expect(((await call('Query', 'events', '10.0.0.3')) as DomainError).code).toBe('RATE_LIMITED');
    expect(((await call('Query', 'events', '10.0.0.4', someone)) as DomainError).code).toBe('RATE_LIMITED');
    expect(await call('Query', 'events', '10.0.0.4', user(randomUUID()))).toBe('found');
    expect(await call('Query', 'other', '10.0.0.3')).toBe('unlimited');
  });

  it('counts concurrent calls of one client exactly', async () => {
    const { call } = limited(redisUrl, {});
    const answers = await Promise.all(
      Array.from({ length: 10 }, () => call('Mutation', 'register', '10.0.0.5')),
    );
    expect(answers.filter((answer) => answer === 'registered')).toHaveLength(3);
  });
});

describe('configuration', () => {
  it('`off` leaves a field unlimited', async () => {
    const { call } = limited(undefined, { SEARCH: 'off' });
    for (let i = 0; i < 5; i++) expect(await call('Query', 'events', '10.0.0.6')).toBe('found');
  });

  it('refuses a malformed limit and a field without a resolver', () => {
    for (const value of ['0/60', '10', '10/0', 'ten/60', '10/60s', ' 10/60'])
      expect(() => fieldRateLimit('1/1').parse(value)).toThrow(/max\/seconds/);
    const limits = createFieldRateLimits({
      service: 'test',
      log: captureLogs('field-limits').log,
      fields: { 'Mutation.nothing': { limit: { max: 1, windowSeconds: 1 }, per: 'address' } },
    });
    opened.push(limits);
    expect(() => limits.wrap({ Mutation: {} })).toThrow(/Mutation.nothing has no resolver/);
  });
});
