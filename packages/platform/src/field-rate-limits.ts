import type { GraphQLResolveInfo } from 'graphql';
import {
  type GraphQLRateLimitConfig,
  getFieldIdentity,
  getGraphQLRateLimiter,
  type Identity,
  type Store,
} from 'graphql-rate-limit';
import { z } from 'zod';
import type { Viewer } from './auth.ts';
import { DomainError } from './errors.ts';
import type { Logger } from './logger.ts';
import { connectRedis, type RedisTls } from './redis.ts';

/*
 * Sensitive fields (sign-up, password reset, search) limited per client inside the subgraph that
 * owns them, with graphql-rate-limit's core (`getGraphQLRateLimiter`: a sliding log of call times
 * per client and field). Its schema directive (graphql-tools 7's SchemaDirectiveVisitor) and its
 * graphql-shield rule (graphql-middleware) are written for graphql 14/15, so the fields' resolvers
 * are wrapped here instead. The gateway's token buckets (gateway/src/rate-limits.ts) come first;
 * these count calls of one field, whatever an operation costs, and every alias of a batch counts.
 */

/** At most `max` calls per `windowSeconds` for one client. */
export interface FieldLimit {
  max: number;
  windowSeconds: number;
}

/**
 * A limit variable: `off`, or `max/seconds` (`10/3600`: ten calls an hour). Throws on anything else,
 * which stops the start like every bad variable.
 */
export const fieldRateLimit = (fallback: string) =>
  z
    .string()
    .regex(/^(off|[1-9]\d{0,8}\/[1-9]\d{0,7})$/, 'must be off, or max/seconds (e.g. 10/3600)')
    .default(fallback)
    .transform((value): FieldLimit | undefined => {
      if (value === 'off') return undefined;
      const [max, windowSeconds] = value.split('/').map(Number) as [number, number];
      return { max, windowSeconds };
    });

export interface FieldRateLimitRule {
  /** Unset: the field is not limited (its variable is `off`). */
  limit: FieldLimit | undefined;
  /**
   * `address`: every caller by the client address (sign-ups, resets: a session buys nothing);
   * `client`: the signed-in user or API key, else the address (search behind a shared NAT).
   */
  per: 'address' | 'client';
}

export interface FieldRateLimitOptions {
  /** Calls counted in Redis, shared by every replica; unset: in this process's memory. */
  redisUrl?: string;
  /** TLS to Redis for a `rediss://` URL (redis.ts; the service's REDIS_TLS_* files). */
  redisTls?: RedisTls;
  /** `Type.field` → its rule, e.g. `'Mutation.register': { limit, per: 'address' }`. */
  fields: Record<string, FieldRateLimitRule>;
}

/** What a limited resolver needs of the context: the kit's caller and client address. */
interface ClientContext {
  viewer: Viewer;
  clientIp: string;
}

/** Where the counts live in Redis (tests that run again within a window clear them). */
export const FIELD_RATE_LIMIT_KEY_PREFIX = 'bilten:field-rl:';

function redisStore(url: string, tls: RedisTls | undefined, log: Logger): Store & { close(): void } {
  const redis = connectRedis(url, tls, { maxRetriesPerRequest: 1, commandTimeout: 500 });
  redis.on('error', (err) => log.warn({ err }, 'field rate-limit store unavailable'));
  const keyOf = (identity: Identity) =>
    `${FIELD_RATE_LIMIT_KEY_PREFIX}${identity.contextIdentity}:${identity.fieldIdentity}`;
  return {
    async getForIdentity(identity) {
      const stored = await redis.get(keyOf(identity));
      return stored ? (JSON.parse(stored) as number[]) : [];
    },
    async setForIdentity(identity, timestamps, windowMs) {
      // The log holds at most `max` times (rejected calls are not counted) and dies with its window.
      await redis.set(keyOf(identity), JSON.stringify(timestamps), 'PX', windowMs ?? 60_000);
    },
    close: () => redis.disconnect(),
  };
}

/** Clients held at most in memory; past this, those whose window has passed are dropped. */
const MAX_MEMORY_CLIENTS = 100_000;

/** The library's InMemoryStore copies its whole state on every call and never forgets a client. */
function memoryStore(): Store & { close(): void } {
  const logs = new Map<string, { timestamps: readonly number[]; until: number }>();
  const keyOf = (identity: Identity) => `${identity.contextIdentity}:${identity.fieldIdentity}`;
  return {
    getForIdentity: (identity) => logs.get(keyOf(identity))?.timestamps ?? [],
    setForIdentity(identity, timestamps, windowMs = 60_000) {
      const now = Date.now();
      logs.set(keyOf(identity), { timestamps, until: now + windowMs });
      if (logs.size > MAX_MEMORY_CLIENTS) {
        for (const [key, log] of logs) if (log.until <= now) logs.delete(key);
      }
    },
    close: () => logs.clear(),
  };
}

function clientOf(context: ClientContext, per: FieldRateLimitRule['per']): string {
  const { viewer } = context;
  if (per === 'client' && viewer.kind === 'user') return `user:${viewer.userId}`;
  if (per === 'client' && viewer.kind === 'apiKey') return `key:${viewer.keyId}`;
  return `address:${context.clientIp}`;
}

type Call = [
  parent: unknown,
  args: Record<string, unknown>,
  context: ClientContext,
  info: GraphQLResolveInfo,
];
type Resolver = (...call: Call) => unknown;

export interface FieldRateLimits {
  /** `resolvers` with each limited field's resolver checking its limit first. */
  wrap<Resolvers>(resolvers: Resolvers): Resolvers;
  close(): Promise<void>;
}

/**
 * Over a limit, a field answers RATE_LIMITED (REST: 429) with `extensions.retryAfterSeconds`, and
 * its resolver does not run. A store that fails lets calls through (logged), as the gateway does.
 */
export function createFieldRateLimits(
  options: FieldRateLimitOptions & { service: string; log: Logger },
): FieldRateLimits {
  const store = options.redisUrl
    ? redisStore(options.redisUrl, options.redisTls, options.log)
    : memoryStore();
  const config: GraphQLRateLimitConfig = {
    store,
    // The limiter is handed the client (clientOf) as its context; the service keeps subgraphs apart in one Redis.
    identifyContext: (client: string) => `${options.service}:${client}`,
    formatError: ({ fieldName }) => `too many ${fieldName} requests from this client; try again later`,
  };
  const limiter = getGraphQLRateLimiter(config);
  // One check at a time per client and field in this process: the store reads, then writes.
  const queues = new Map<string, Promise<unknown>>();

  /** Runs the store's read-then-write of one client and field after the previous one in this process. */
  function inTurn<T>(key: string, task: () => Promise<T>): Promise<T> {
    const run = (queues.get(key) ?? Promise.resolve()).then(task);
    const settled = run.then(
      () => undefined,
      () => undefined,
    );
    queues.set(key, settled);
    void settled.then(() => {
      if (queues.get(key) === settled) queues.delete(key);
    });
    return run;
  }

  async function check(limit: FieldLimit, rule: FieldRateLimitRule, call: Call) {
    const [, args, context, info] = call;
    const client = clientOf(context, rule.per);
    const identity: Identity = {
      contextIdentity: config.identifyContext!(client),
      fieldIdentity: getFieldIdentity(info.fieldName, [], args),
    };
    const windowMs = limit.windowSeconds * 1000;
    let refusal: string | undefined;
    try {
      refusal = await inTurn(`${identity.contextIdentity}:${identity.fieldIdentity}`, () =>
        limiter(
          { parent: undefined, args, context: client, info },
          { max: limit.max, window: `${limit.windowSeconds}s`, uncountRejected: true },
        ),
      );
    } catch (err) {
      options.log.warn({ err, field: info.fieldName }, 'field rate limit not applied: its store failed');
      return;
    }
    if (!refusal) return;
    // The log holds the window's `max` calls: a call is possible again once its oldest leaves it.
    const now = Date.now();
    const logged = await Promise.resolve(store.getForIdentity(identity)).catch(() => []);
    const oldest = Math.min(now, ...logged.filter((at) => at + windowMs > now));
    const retryAfterSeconds = Math.max(1, Math.ceil((oldest + windowMs - now) / 1000));
    options.log.warn(
      { security: true, event: 'field_rate_limited', field: info.fieldName, client },
      'field rate limited',
    );
    throw new DomainError('RATE_LIMITED', `${refusal}; retry after ${retryAfterSeconds} s`, {
      retryAfterSeconds,
    });
  }

  return {
    wrap<Resolvers>(resolvers: Resolvers): Resolvers {
      const wrapped = { ...resolvers } as Record<string, Record<string, Resolver>>;
      for (const [coordinate, rule] of Object.entries(options.fields)) {
        const [type, field] = coordinate.split('.') as [string, string];
        const resolve = wrapped[type]?.[field];
        if (typeof resolve !== 'function') throw new Error(`field rate limit: ${coordinate} has no resolver`);
        const limit = rule.limit;
        if (!limit) continue;
        wrapped[type] = {
          ...wrapped[type],
          [field]: async (...call: Call) => {
            await check(limit, rule, call);
            return resolve(...call);
          },
        };
      }
      return wrapped as Resolvers;
    },
    async close() {
      store.close();
    },
  };
}
