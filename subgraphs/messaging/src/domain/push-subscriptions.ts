import { ECDH } from 'node:crypto';
import { isIP } from 'node:net';
import { displayText, mutationRule, requireUser, type UserError, uuidInput } from '@bilten/platform';
import { v7 as uuidv7 } from 'uuid';
import { z } from 'zod';
import type { Context } from '../context.ts';
import { deleteOwnPushSubscription, upsertPushSubscription } from '../db/push-subscriptions.ts';
import type { PushSubscriptionRow } from '../db/schema.ts';

const MAX_ENDPOINT_LENGTH = 2_048;

/** What the API shows of a subscription: the service's origin, never the endpoint (a bearer capability). */
export const pushSubscriptionView = (row: PushSubscriptionRow) => ({
  id: row.id,
  service: new URL(row.endpoint).origin,
  userAgent: row.userAgent,
  createdAt: row.createdAt,
  lastUsedAt: row.lastUsedAt,
});

/**
 * Why `endpoint` is no push service we would post to, or undefined when it is one: an https URL
 * without credentials. The worker POSTs to it, so in production it must name a host, not an
 * address or localhost (no requests into our own network); outside production a local push
 * service over http (127.0.0.1, localhost) is allowed, for tests and development.
 */
export function pushEndpointProblem(endpoint: string, production: boolean): string | undefined {
  if (endpoint.length > MAX_ENDPOINT_LENGTH) return `must be at most ${MAX_ENDPOINT_LENGTH} characters`;
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    return 'must be the https URL of a push service';
  }
  if (url.username || url.password) return 'must not carry credentials';
  const local = url.hostname === '127.0.0.1' || url.hostname === 'localhost';
  if (!production)
    return url.protocol === 'https:' || (url.protocol === 'http:' && local)
      ? undefined
      : 'must be the https URL of a push service';
  if (url.protocol !== 'https:') return 'must be the https URL of a push service';
  if (local || isIP(url.hostname.replace(/^\[|\]$/g, '')) || !url.hostname.includes('.'))
    return "must name the push service's host, not an address";
  return undefined;
}

/** Base64url (padding tolerated) decoding to exactly `bytes` bytes that pass `valid`. */
const base64urlOf = (bytes: number, what: string, valid: (decoded: Buffer) => boolean = () => true) =>
  z
    .string()
    .max(200)
    .regex(/^[A-Za-z0-9_-]+={0,2}$/, 'must be base64url')
    .transform((value) => value.replace(/=+$/, ''))
    .refine((value) => {
      const decoded = Buffer.from(value, 'base64url');
      return decoded.length === bytes && valid(decoded);
    }, `must be ${what} (${bytes} bytes, base64url)`);

/** The browser's ECDH key must be a point on P-256, or encrypting to it fails at every send. */
const isP256Point = (key: Buffer) => {
  try {
    ECDH.convertKey(key, 'prime256v1');
    return true;
  } catch {
    return false;
  }
};

const registerInput = z.object({
  endpoint: z.string(),
  keys: z.object({
    p256dh: base64urlOf(65, 'an uncompressed P-256 public key', isP256Point),
    auth: base64urlOf(16, 'the authentication secret'),
  }),
  userAgent: displayText(500).nullish(),
});

interface RegisterResult {
  pushSubscription: ReturnType<typeof pushSubscriptionView> | null;
  errors: UserError[];
}

/**
 * Registers the caller's browser for WEB_PUSH. The same endpoint again (new keys, or the browser
 * now signed in as someone else) updates that subscription and moves it to the caller.
 */
export const registerPushSubscription = mutationRule(
  {
    input: registerInput,
    caller: requireUser,
    invalid: (errors): RegisterResult => ({ pushSubscription: null, errors }),
  },
  async (ctx: Pick<Context, 'db' | 'viewer' | 'production'>, input, user): Promise<RegisterResult> => {
    const problem = pushEndpointProblem(input.endpoint, ctx.production);
    if (problem)
      return {
        pushSubscription: null,
        errors: [{ code: 'INVALID_INPUT', message: problem, field: ['input', 'endpoint'] }],
      };
    const row = await ctx.db.transaction((tx) =>
      upsertPushSubscription(tx, {
        id: uuidv7(),
        userId: user.userId,
        endpoint: input.endpoint,
        p256dh: input.keys.p256dh,
        auth: input.keys.auth,
        userAgent: input.userAgent ?? null,
      }),
    );
    return { pushSubscription: pushSubscriptionView(row), errors: [] };
  },
);

const removeInput = z
  .object({ id: uuidInput.nullish(), endpoint: z.string().max(MAX_ENDPOINT_LENGTH).nullish() })
  .refine((input) => (input.id == null) !== (input.endpoint == null), {
    message: 'name the subscription by exactly one of id and endpoint',
    path: ['id'],
  });

/** Removes one of the caller's own subscriptions; naming one that is not theirs (or none) removes nothing. */
export const removePushSubscription = mutationRule(
  {
    input: removeInput,
    caller: requireUser,
    invalid: (errors) => ({ removed: false, errors }),
  },
  async (ctx: Pick<Context, 'db' | 'viewer'>, input, user) => ({
    removed: await deleteOwnPushSubscription(
      ctx.db,
      user.userId,
      input.id ? { id: input.id } : { endpoint: input.endpoint! },
    ),
    errors: [],
  }),
);
