import { createHash } from 'node:crypto';
import { connectRedis, type Logger, type RedisTls } from '@bilten/platform';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { type GraphQLSchema, getVariableValues, Kind, type OperationDefinitionNode, parse } from 'graphql';
import { Counter, type Registry } from 'prom-client';
import type { Credential } from './access-tokens.ts';
import { problemOf, sendProblem } from './problem.ts';
import { answerCost, fieldCostsOf, operationCost } from './query-cost.ts';

/*
 * Token buckets per client: an API key, else a signed-in user, else the client address. A bucket
 * holds `capacity` cost units and refills at capacity per window; a GraphQL operation takes its
 * computed cost (query-cost.ts), so one huge query is not one request. Every answer of /graphql
 * carries the headers of draft-ietf-httpapi-ratelimit-headers-10 (§ 3 RateLimit-Policy with `q`
 * quota and `w` window in seconds; § 4 RateLimit with `r` remaining and `t` seconds until the quota
 * is whole again); an answer refused is 429 with Retry-After (RFC 9110 § 10.2.3) and a problem body.
 * An operation must find its computed cost in the bucket to run, and is charged what its answer
 * really holds (query-cost.ts answerCost): the rest goes back into the bucket once it has answered.
 * An API key's bucket follows its plan (GATEWAY_RATE_LIMIT_PLANS), whose name the headers carry.
 */

export type ClientKind = 'apiKey' | 'user' | 'address';

export interface BucketPolicy {
  /** Cost units a full bucket holds. */
  capacity: number;
  /** Seconds a bucket takes to refill from empty. */
  windowSeconds: number;
}

export type RateLimitPolicies = Record<ClientKind, BucketPolicy>;

export const DEFAULT_RATE_LIMITS: RateLimitPolicies = {
  apiKey: { capacity: 6_000, windowSeconds: 60 },
  user: { capacity: 6_000, windowSeconds: 60 },
  address: { capacity: 3_000, windowSeconds: 60 },
};

const KIND_NAMES: Record<string, ClientKind> = { key: 'apiKey', user: 'user', address: 'address' };

/**
 * GATEWAY_RATE_LIMIT: `off`, or `kind=capacity/seconds` items, comma-separated, kinds `key`, `user`,
 * `address` (`key=6000/60,address=3000/60`); a kind not named keeps its default. Throws on anything else.
 */
export function rateLimitPoliciesFrom(value: string): RateLimitPolicies | undefined {
  if (value.trim() === 'off') return undefined;
  const policies = structuredClone(DEFAULT_RATE_LIMITS);
  for (const item of value.split(',').filter((part) => part.trim())) {
    const match = /^\s*(key|user|address)=(\d+)\/(\d+)\s*$/.exec(item);
    if (!match || Number(match[2]) < 1 || Number(match[3]) < 1)
      throw new Error(`"${item}" is not kind=capacity/seconds (kinds: key, user, address)`);
    policies[KIND_NAMES[match[1]!]!] = { capacity: Number(match[2]), windowSeconds: Number(match[3]) };
  }
  return policies;
}

/** The plan an API key gets when identity names none, or one this gateway does not know. */
export const STANDARD_PLAN = 'standard';

const PLAN_ITEM = /^\s*([a-z][a-z0-9-]{0,31})=([1-9]\d{0,9})\/([1-9]\d{0,7})s?\s*$/;

/**
 * GATEWAY_RATE_LIMIT_PLANS: `name=capacity/seconds` items, comma-separated
 * (`standard=6000/60s,partner=60000/60s`); the standard plan is `standard` (API keys' policy of
 * GATEWAY_RATE_LIMIT unless named here). Throws on anything else, naming the item.
 */
export function ratePlansFrom(value: string, standard: BucketPolicy): Record<string, BucketPolicy> {
  const plans: Record<string, BucketPolicy> = { [STANDARD_PLAN]: standard };
  const named = new Set<string>();
  for (const item of value.split(',').filter((part) => part.trim())) {
    const match = PLAN_ITEM.exec(item);
    if (!match) throw new Error(`"${item}" is not plan=capacity/seconds (e.g. standard=6000/60s)`);
    if (named.has(match[1]!)) throw new Error(`plan "${match[1]}" is named twice`);
    named.add(match[1]!);
    plans[match[1]!] = { capacity: Number(match[2]), windowSeconds: Number(match[3]) };
  }
  return plans;
}

/** A bucket after one take: whether the cost was taken, and the units left in it. */
interface Take {
  allowed: boolean;
  tokens: number;
}

interface BucketStore {
  /** Takes `cost` units if the bucket holds them; a negative cost gives units back (up to capacity). */
  take(key: string, policy: BucketPolicy, cost: number): Promise<Take>;
  close(): Promise<void>;
}

/*
 * The one algorithm, in Lua for Redis and in TypeScript for memory: refill by the time elapsed
 * (capacity per window), then take `cost` if it is there. An absent bucket is full; a bucket left
 * alone for a window is full again, so its key expires then. Redis's own clock serves every gateway.
 */
const TAKE_SCRIPT = `
local capacity = tonumber(ARGV[1])
local window_ms = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or capacity
local at = tonumber(state[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - at) * capacity / window_ms)
local allowed = 0
if tokens >= cost then
  tokens = math.min(capacity, tokens - cost)
  allowed = 1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], window_ms)
return { allowed, tostring(tokens) }
`;

const KEY_PREFIX = 'bilten:rl:';

function redisStore(url: string, tls: RedisTls | undefined, log: Logger): BucketStore {
  // A limiter that cannot reach Redis lets requests through (logged) rather than failing them all.
  const redis = connectRedis(url, tls, { maxRetriesPerRequest: 1, commandTimeout: 500 });
  redis.on('error', (err) => log.warn({ err }, 'rate-limit store unavailable'));
  return {
    async take(key, policy, cost) {
      const [allowed, tokens] = (await redis.eval(
        TAKE_SCRIPT,
        1,
        KEY_PREFIX + key,
        policy.capacity,
        policy.windowSeconds * 1000,
        cost,
      )) as [number, string];
      return { allowed: allowed === 1, tokens: Number(tokens) };
    },
    async close() {
      redis.disconnect();
    },
  };
}

/** Buckets held at most in memory; past this, the full ones (untouched for a window) are dropped. */
const MAX_MEMORY_BUCKETS = 100_000;

function memoryStore(): BucketStore {
  const buckets = new Map<string, { tokens: number; at: number; windowMs: number }>();
  return {
    async take(key, policy, cost) {
      const now = Date.now();
      const windowMs = policy.windowSeconds * 1000;
      const bucket = buckets.get(key) ?? { tokens: policy.capacity, at: now, windowMs };
      let tokens = Math.min(
        policy.capacity,
        bucket.tokens + (Math.max(0, now - bucket.at) * policy.capacity) / windowMs,
      );
      const allowed = tokens >= cost;
      if (allowed) tokens = Math.min(policy.capacity, tokens - cost);
      buckets.set(key, { tokens, at: now, windowMs });
      if (buckets.size > MAX_MEMORY_BUCKETS) {
        for (const [name, old] of buckets) if (now - old.at >= old.windowMs) buckets.delete(name);
      }
      return { allowed, tokens };
    },
    async close() {
      buckets.clear();
    },
  };
}

export interface RateLimitOptions {
  policies: RateLimitPolicies;
  /** API keys' policies by plan (ratePlansFrom); unset: every key gets `policies.apiKey` as `standard`. */
  plans?: Record<string, BucketPolicy>;
  /** Buckets in Redis, shared by every gateway using it; unset: in this process's memory. */
  redisUrl?: string;
  /** TLS to Redis for a `rediss://` URL (REDIS_TLS_*, platform redis.ts). */
  redisTls?: RedisTls;
}

export interface RateLimiterDeps {
  supergraphSdl: string;
  /** The API schema of now (undefined until loaded: every operation then costs one unit). */
  schema: () => GraphQLSchema | undefined;
  /** What the gateway forwards for a request's `authorization`, with an API key's facts (access-tokens.ts); throws when refused. */
  credentialFor: (authorization: string | undefined) => Promise<Credential>;
  log: Logger;
  registry: Registry;
}

const API_KEY_BEARER = /^Bearer (bk_(?:live|test)_\S+)$/;

const sha256 = (value: string) => createHash('sha256').update(value).digest('hex');

/** The `sub` of a JWT's payload, which identity has just signed (never a client's unverified word). */
function subjectOf(authorization: string): string | undefined {
  const payload = authorization.split('.')[1];
  try {
    const sub = payload && JSON.parse(Buffer.from(payload, 'base64url').toString()).sub;
    return typeof sub === 'string' ? sub : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Whose bucket a request draws from, and for an API key its plan. Only credentials identity
 * accepted count: the exchange (access-tokens.ts, cached a second, so the request's own exchange
 * reuses it) answers a new token for a valid API key or live session; anything else (a bad key, a
 * foreign token) is the address, so inventing credentials never buys a fresh bucket.
 */
export async function clientOf(
  request: FastifyRequest,
  deps: Pick<RateLimiterDeps, 'credentialFor'>,
): Promise<[kind: ClientKind, key: string, plan?: string]> {
  const authorization = request.headers.authorization;
  const address: [ClientKind, string] = ['address', `address:${request.ip}`];
  if (!authorization) return address;
  const credential = await deps.credentialFor(authorization).catch(() => undefined);
  const forwarded = credential?.authorization;
  if (!forwarded || forwarded === authorization) return address;
  const apiKey = API_KEY_BEARER.exec(authorization)?.[1];
  if (apiKey) {
    const facts = credential.apiKey;
    return facts ? ['apiKey', `key:${facts.keyId}`, facts.plan] : ['apiKey', `key:${sha256(apiKey)}`];
  }
  const subject = subjectOf(forwarded);
  return subject ? ['user', `user:${subject}`] : address;
}

interface GraphQLRequestBody {
  query?: unknown;
  operationName?: unknown;
  variables?: unknown;
}

/**
 * What one GraphQL request of a body costs: the cost query-cost.ts counts for the operation it
 * names, at least one unit. What cannot be counted (no query, a parse error, bad variables) costs
 * one: Apollo refuses it next, without running anything.
 */
function requestCost(
  body: GraphQLRequestBody,
  schema: GraphQLSchema | undefined,
  fieldCosts: ReturnType<typeof fieldCostsOf>,
  maxTokens: number,
): number {
  if (!schema || typeof body.query !== 'string') return 1;
  try {
    const document = parse(body.query, { maxTokens });
    const operations = document.definitions.filter(
      (definition): definition is OperationDefinitionNode => definition.kind === Kind.OPERATION_DEFINITION,
    );
    const operation =
      typeof body.operationName === 'string'
        ? operations.find((candidate) => candidate.name?.value === body.operationName)
        : operations.length === 1
          ? operations[0]
          : undefined;
    if (!operation) return 1;
    const variables =
      typeof body.variables === 'object' && body.variables ? (body.variables as Record<string, unknown>) : {};
    const { coerced } = getVariableValues(schema, operation.variableDefinitions ?? [], variables);
    if (!coerced) return 1;
    return Math.max(1, operationCost(schema, document, operation, coerced, fieldCosts));
  } catch {
    // An invalid document (an unknown fragment) is counted no further: validation refuses it.
    return 1;
  }
}

/** Every GraphQL request a `/graphql` call carries: a batch (array) is charged for each. */
function graphqlRequestsOf(request: FastifyRequest): GraphQLRequestBody[] {
  if (request.method === 'GET') {
    const { query, operationName, variables } = request.query as Record<string, string | undefined>;
    let parsedVariables: unknown;
    try {
      parsedVariables = variables ? JSON.parse(variables) : undefined;
    } catch {
      parsedVariables = undefined;
    }
    return [{ query, operationName, variables: parsedVariables }];
  }
  const body = request.body;
  if (Array.isArray(body)) return body.map((item) => (typeof item === 'object' && item ? item : {}));
  return [typeof body === 'object' && body ? (body as GraphQLRequestBody) : {}];
}

/** The policy name of the headers for users and addresses; an API key's is its plan. */
const POLICY_NAME = 'default';

/** What a request was charged, so that what its answer does not hold goes back (see onSend below). */
interface Charge {
  key: string;
  policy: BucketPolicy;
  policyName: string;
  charged: number;
}

/** The RateLimit headers (draft 10 § 3, § 4) of a bucket holding `tokens`. */
function setHeaders(reply: FastifyReply, name: string, policy: BucketPolicy, tokens: number) {
  const perSecond = policy.capacity / policy.windowSeconds;
  reply.header('ratelimit-policy', `"${name}";q=${policy.capacity};w=${policy.windowSeconds}`);
  reply.header(
    'ratelimit',
    `"${name}";r=${Math.floor(tokens)};t=${Math.ceil((policy.capacity - tokens) / perSecond)}`,
  );
}

/** What the answers of a `/graphql` body really hold: each operation at least one unit. */
function answeredCost(payload: unknown): number | undefined {
  if (typeof payload !== 'string' && !Buffer.isBuffer(payload)) return undefined;
  try {
    const parsed = JSON.parse(payload.toString()) as unknown;
    const answers = (Array.isArray(parsed) ? parsed : [parsed]) as Array<{
      data?: Record<string, unknown> | null;
    }>;
    return answers.reduce((sum, answer) => sum + Math.max(1, answerCost(answer?.data)), 0);
  } catch {
    return undefined;
  }
}

export interface RateLimiter {
  /**
   * Takes `cost` units from the bucket of the request's client and sets the RateLimit headers; when
   * the bucket is short, answers 429 with a problem body and returns false. `/graphql` is charged
   * by the hook below (and the REST facade with it, as it runs through /graphql).
   */
  charge(request: FastifyRequest, reply: FastifyReply, cost: number): Promise<boolean>;
  /** New policies and plans from now on (runtime settings, settings.ts); undefined: nothing is charged. */
  configure(limits: Pick<RateLimitOptions, 'policies' | 'plans'> | undefined): void;
  close(): Promise<void>;
}

/** Charges every `/graphql` request before Apollo sees it: a request refused runs nothing. */
export function registerRateLimits(
  app: FastifyInstance,
  options: RateLimitOptions & { maxTokens: number },
  deps: RateLimiterDeps,
): RateLimiter {
  const store = options.redisUrl ? redisStore(options.redisUrl, options.redisTls, deps.log) : memoryStore();
  const fieldCosts = fieldCostsOf(deps.supergraphSdl);
  let policies: RateLimitPolicies | undefined = options.policies;
  let plans = options.plans ?? { [STANDARD_PLAN]: options.policies.apiKey };
  const unknownPlans = new Set<string>();
  const charges = new WeakMap<FastifyRequest, Charge>();
  const refusals = new Counter({
    name: 'gateway_rate_limit_refusals_total',
    help: 'Requests refused with 429 because their bucket was short, by kind of client and policy (an API key: its plan); never the client itself',
    labelNames: ['kind', 'policy'],
    registers: [deps.registry],
  });

  /** An API key's plan and its policy: an unknown plan is the standard one (warned once per name). */
  function planOf(name: string | undefined, policies: RateLimitPolicies): [string, BucketPolicy] {
    const plan = name ?? STANDARD_PLAN;
    const policy = plans[plan];
    if (policy) return [plan, policy];
    if (!unknownPlans.has(plan)) {
      unknownPlans.add(plan);
      deps.log.warn(
        { plan },
        'API key on a plan GATEWAY_RATE_LIMIT_PLANS does not name: charged as standard',
      );
    }
    return [STANDARD_PLAN, plans[STANDARD_PLAN] ?? policies.apiKey];
  }

  async function charge(request: FastifyRequest, reply: FastifyReply, cost: number): Promise<boolean> {
    const now = policies;
    if (!now) return true;
    const [kind, key, plan] = await clientOf(request, deps);
    const [policyName, policy] = kind === 'apiKey' ? planOf(plan, now) : [POLICY_NAME, now[kind]];
    // An operation dearer than a whole bucket still runs on a full one, and empties it.
    const charged = Math.min(Math.max(1, cost), policy.capacity);
    let taken: Take;
    try {
      taken = await store.take(key, policy, charged);
    } catch (err) {
      deps.log.warn({ err }, 'rate limit not applied: its store failed');
      return true;
    }
    setHeaders(reply, policyName, policy, taken.tokens);
    if (taken.allowed) {
      // An answer costs at least one unit: nothing of a charge of one can go back.
      if (charged > 1) charges.set(request, { key, policy, policyName, charged });
      return true;
    }
    refusals.inc({ kind, policy: policyName });
    const retryAfter = Math.max(
      1,
      Math.ceil((charged - taken.tokens) / (policy.capacity / policy.windowSeconds)),
    );
    reply.header('retry-after', String(retryAfter));
    await sendProblem(
      reply,
      problemOf({
        code: 'RATE_LIMITED',
        detail: `This request costs ${charged} units and ${Math.floor(taken.tokens)} are left of ${policy.capacity} per ${policy.windowSeconds} s; retry after ${retryAfter} s.`,
        instance: request.id,
      }),
    );
    return false;
  }

  app.addHook('preHandler', async (request, reply) => {
    if (request.routeOptions.url !== '/graphql' || request.method === 'OPTIONS' || !policies) return;
    const schema = deps.schema();
    const cost = graphqlRequestsOf(request).reduce(
      (sum, body) => sum + requestCost(body, schema, fieldCosts, options.maxTokens),
      0,
    );
    if (!(await charge(request, reply, cost))) return reply;
  });

  // What the answer does not hold goes back: an operation is charged what it returned, not the
  // sizes its lists could reach. Only answers that ran count: a refused one (a 4xx: invalid, too
  // dear, a batch) keeps its charge, so asking for what is refused is not free.
  app.addHook('onSend', async (request, reply, payload) => {
    const charge = charges.get(request);
    if (!charge) return payload;
    charges.delete(request);
    if (reply.statusCode >= 300) return payload;
    const answered = answeredCost(payload);
    if (answered === undefined || answered >= charge.charged) return payload;
    try {
      const given = await store.take(charge.key, charge.policy, answered - charge.charged);
      setHeaders(reply, charge.policyName, charge.policy, given.tokens);
    } catch (err) {
      deps.log.warn({ err }, 'rate limit not refunded: its store failed');
    }
    return payload;
  });
  return {
    charge,
    configure(limits) {
      policies = limits?.policies;
      plans = limits?.plans ?? (limits ? { [STANDARD_PLAN]: limits.policies.apiKey } : plans);
      unknownPlans.clear();
    },
    close: () => store.close(),
  };
}
