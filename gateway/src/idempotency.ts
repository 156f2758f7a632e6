import { createHash } from 'node:crypto';
import { connectRedis, type Logger, type RedisTls } from '@bilten/platform';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { problemOf, sendProblem } from './problem.ts';

/*
 * `Idempotency-Key` on every POST of the REST facade (draft-ietf-httpapi-idempotency-key-header,
 * Stripe's model). The key is scoped to the caller (the rate limiter's client: API key, user or
 * address) and the route. The first request claims the key with a short lock, runs, and stores its
 * answer for 24 h; a retry with the same request (method, path and canonical JSON body) gets that
 * answer again with `Idempotent-Replayed: true`; another request under the key is refused (422);
 * a retry while the first still runs is refused (409). Answers of 5xx and 429 are not stored: the
 * request did not run (or not to its end), so the client may retry it.
 */

export const IDEMPOTENCY_HEADER = 'idempotency-key';
export const MAX_IDEMPOTENCY_KEY_LENGTH = 255;
const KEPT_SECONDS = 86_400;
/** How long a claim holds while its request runs; past it (a crashed gateway), the key is free again. */
const LOCK_SECONDS = 60;
/** The answer headers a replay repeats; rate-limit headers are not (they were true then, not now). */
const REPLAYED_HEADERS = ['location', 'etag', 'content-type', 'bilten-version'];

interface StoredAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** What a key holds: the request's fingerprint, and its answer once it has one. */
interface KeyRecord {
  fingerprint: string;
  answer?: StoredAnswer;
}

interface IdempotencyStore {
  /** Claims `key` for a request with `fingerprint`; when someone holds it already, what it holds. */
  claim(key: string, fingerprint: string): Promise<KeyRecord | undefined>;
  /** Keeps `record` (with its answer) for 24 h. */
  keep(key: string, record: KeyRecord): Promise<void>;
  /** Frees `key` of a request whose answer is not kept. */
  release(key: string): Promise<void>;
  close(): Promise<void>;
}

const KEY_PREFIX = 'bilten:idem:';

function redisStore(url: string, tls: RedisTls | undefined, log: Logger): IdempotencyStore {
  const redis = connectRedis(url, tls, { maxRetriesPerRequest: 1, commandTimeout: 500 });
  redis.on('error', (err) => log.warn({ err }, 'idempotency store unavailable'));
  return {
    async claim(key, fingerprint) {
      const claimed = await redis.set(
        KEY_PREFIX + key,
        JSON.stringify({ fingerprint }),
        'EX',
        LOCK_SECONDS,
        'NX',
      );
      if (claimed === 'OK') return undefined;
      const held = await redis.get(KEY_PREFIX + key);
      // Released between the two calls: still someone else's turn a moment ago, so "in progress".
      return held ? (JSON.parse(held) as KeyRecord) : { fingerprint };
    },
    async keep(key, record) {
      await redis.set(KEY_PREFIX + key, JSON.stringify(record), 'EX', KEPT_SECONDS);
    },
    async release(key) {
      await redis.del(KEY_PREFIX + key);
    },
    async close() {
      redis.disconnect();
    },
  };
}

/** Keys held at most in memory; past this, the oldest go first (a gateway alone, not a replica set). */
const MAX_MEMORY_KEYS = 10_000;

function memoryStore(): IdempotencyStore {
  const records = new Map<string, KeyRecord & { expiresAt: number }>();
  const live = (key: string) => {
    const record = records.get(key);
    if (record && record.expiresAt <= Date.now()) records.delete(key);
    return records.get(key);
  };
  const put = (key: string, record: KeyRecord, seconds: number) => {
    records.delete(key);
    records.set(key, { ...record, expiresAt: Date.now() + seconds * 1000 });
    if (records.size > MAX_MEMORY_KEYS) {
      const now = Date.now();
      for (const [name, old] of records) if (old.expiresAt <= now) records.delete(name);
      for (const name of records.keys()) {
        if (records.size <= MAX_MEMORY_KEYS) break;
        records.delete(name);
      }
    }
  };
  return {
    async claim(key, fingerprint) {
      const held = live(key);
      if (held) return held;
      put(key, { fingerprint }, LOCK_SECONDS);
      return undefined;
    },
    async keep(key, record) {
      put(key, record, KEPT_SECONDS);
    },
    async release(key) {
      records.delete(key);
    },
    async close() {
      records.clear();
    },
  };
}

/** JSON with every object's keys sorted, so `{a,b}` and `{b,a}` are the same request. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, item]) => item !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${canonicalJson(item)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

const sha256 = (value: string) => createHash('sha256').update(value).digest('hex');

/** The key of a header value: printable ASCII, 1 to 255 characters; an sf-string's quotes are not part of it. */
function keyOf(header: string): string | undefined {
  const key = /^"(.*)"$/.exec(header)?.[1] ?? header;
  return key.length <= MAX_IDEMPOTENCY_KEY_LENGTH && /^[\x20-\x7e]+$/.test(key) ? key : undefined;
}

export interface IdempotencyOptions {
  /** Keys in Redis, shared by every gateway using it; unset: in this process's memory. */
  redisUrl?: string;
  /** TLS to Redis for a `rediss://` URL (REDIS_TLS_*, platform redis.ts). */
  redisTls?: RedisTls;
}

export interface Idempotency {
  /**
   * Before a POST runs: with no header, true (run it). With a key: claims it and returns true, or
   * answers (a replay, or a 400, 409 or 422 problem) and returns false.
   */
  begin(request: FastifyRequest, reply: FastifyReply, route: string): Promise<boolean>;
  /** An `onSend` hook: keeps the answer of a claimed request, or frees its key. */
  onSend(request: FastifyRequest, reply: FastifyReply, payload: unknown): Promise<unknown>;
  close(): Promise<void>;
}

export function createIdempotency(
  options: IdempotencyOptions,
  deps: {
    /** The caller the key belongs to (rate-limits.ts clientOf): `key:…`, `user:…` or `address:…`. */
    clientOf: (request: FastifyRequest) => Promise<string>;
    log: Logger;
  },
): Idempotency {
  const store = options.redisUrl ? redisStore(options.redisUrl, options.redisTls, deps.log) : memoryStore();
  const claims = new WeakMap<FastifyRequest, { key: string; fingerprint: string }>();
  const refuse = (request: FastifyRequest, reply: FastifyReply, status: number, detail: string) => {
    const code = status === 409 ? 'CONFLICT' : 'BAD_USER_INPUT';
    return sendProblem(reply, { ...problemOf({ code, detail, instance: request.id }), status });
  };

  return {
    async begin(request, reply, route) {
      const header = request.headers[IDEMPOTENCY_HEADER];
      if (header === undefined) return true;
      const key = keyOf(String(header));
      if (!key) {
        await refuse(
          request,
          reply,
          400,
          `${IDEMPOTENCY_HEADER} must be 1 to ${MAX_IDEMPOTENCY_KEY_LENGTH} printable ASCII characters`,
        );
        return false;
      }
      const path = request.url.split('?')[0];
      const fingerprint = sha256(`${request.method} ${path}\n${canonicalJson(request.body ?? null)}`);
      const scoped = `${await deps.clientOf(request)}:${request.method} ${route}:${sha256(key)}`;
      let held: KeyRecord | undefined;
      try {
        held = await store.claim(scoped, fingerprint);
      } catch (err) {
        // Without its store the guarantee cannot be given: refuse rather than maybe run twice.
        deps.log.warn({ err }, 'idempotency key not checked: its store failed');
        await sendProblem(
          reply,
          problemOf({ code: 'INTERNAL', detail: 'Internal error', instance: request.id }),
        );
        return false;
      }
      if (!held) {
        claims.set(request, { key: scoped, fingerprint });
        return true;
      }
      if (held.fingerprint !== fingerprint) {
        await refuse(
          request,
          reply,
          422,
          `this ${IDEMPOTENCY_HEADER} was used with another request; use a new key for a new request`,
        );
      } else if (!held.answer) {
        await refuse(
          request,
          reply,
          409,
          `a request with this ${IDEMPOTENCY_HEADER} is still running; retry when it has answered`,
        );
      } else {
        reply.status(held.answer.status).headers(held.answer.headers).header('idempotent-replayed', 'true');
        await reply.send(held.answer.body);
      }
      return false;
    },

    async onSend(request, reply, payload) {
      const claim = claims.get(request);
      if (!claim) return payload;
      claims.delete(request);
      const body =
        typeof payload === 'string' ? payload : Buffer.isBuffer(payload) ? payload.toString() : undefined;
      try {
        if (reply.statusCode >= 500 || reply.statusCode === 429 || body === undefined) {
          await store.release(claim.key);
        } else {
          const headers: Record<string, string> = {};
          for (const name of REPLAYED_HEADERS) {
            const value = reply.getHeader(name);
            if (value !== undefined) headers[name] = String(value);
          }
          await store.keep(claim.key, {
            fingerprint: claim.fingerprint,
            answer: { status: reply.statusCode, headers, body },
          });
        }
      } catch (err) {
        // The answer still goes out; its retry then runs again or waits out the lock.
        request.log.warn({ err }, 'idempotent answer not kept: its store failed');
      }
      return payload;
    },

    close: () => store.close(),
  };
}

/** The `Idempotency-Key` parameter of every POST in the OpenAPI document. */
export const IDEMPOTENCY_HEADER_PARAMETER = {
  name: 'Idempotency-Key',
  in: 'header',
  required: false,
  description:
    'A unique key per request (a UUID) that makes retrying safe: the same key and body within 24 h get the first answer again (with `Idempotent-Replayed: true`); the same key with another body is 422; while the first request runs, 409.',
  schema: { type: 'string', minLength: 1, maxLength: MAX_IDEMPOTENCY_KEY_LENGTH },
  example: '7c0e6f2a-3b1d-4e5f-9a8b-2c4d6e8f0a1b',
};

/** The answer header that marks a replay. */
export const IDEMPOTENT_REPLAYED_HEADER = {
  description: '`true` when this is the stored answer of an earlier request with the same `Idempotency-Key`.',
  schema: { type: 'string', enum: ['true'] },
};
