import { type Database, type Logger, mutationRule, requireAdmin, type UserError } from '@bilten/platform';
import type { JSONWebKeySet, JWTPayload, JWTVerifyGetKey } from 'jose';
import { z } from 'zod';
import { type KeyEncryptionEnv, openKeyStore } from '../adapters/key-store.ts';
import type { Context } from '../context.ts';

export const ACCESS_TOKEN_TTL_SECONDS = 15 * 60;
/** A retired key stays published this long: every token it signed has expired by then (plus clock skew). */
const RETIRED_KEY_GRACE_MS = (ACCESS_TOKEN_TTL_SECONDS + 5 * 60) * 1000;
/**
 * A rotated-in key is published this long before it signs: longer than the 30 s a verifier
 * waits before fetching the JWKS again, so every service has the key before the first token.
 */
const DEFAULT_ACTIVATION_DELAY_SECONDS = 60;

export interface SigningKeys {
  /** Signs an access token with the current key, valid 15 minutes unless told otherwise. */
  sign(claims: JWTPayload & { sub: string; jti: string }, expiresInSeconds?: number): Promise<string>;
  /** The public keys: upcoming, current, and retired ones whose tokens may still be valid. */
  jwks(): Promise<JSONWebKeySet>;
  /** For identity's own token verifier: keys from the store, reloaded on an unknown `kid`. */
  getKey: JWTVerifyGetKey;
  /**
   * A new key that takes over after `activationDelaySeconds`; the old one keeps verifying until
   * its tokens expired, so nobody is signed out. Returns the new kid.
   */
  rotate(activationDelaySeconds?: number): Promise<{ kid: string; activatesAt: Date }>;
}

/** The signing keys under identity's token lifetimes and rotation policy. */
export async function openSigningKeys(options: {
  db: Database;
  env: KeyEncryptionEnv;
  issuer: string;
  audience: string;
  log: Logger;
}): Promise<SigningKeys> {
  const store = await openKeyStore({ ...options, retiredKeyGraceMs: RETIRED_KEY_GRACE_MS });
  return {
    sign: (claims, expiresInSeconds = ACCESS_TOKEN_TTL_SECONDS) => store.sign(claims, expiresInSeconds),
    jwks: store.jwks,
    getKey: store.getKey,
    async rotate(activationDelaySeconds = DEFAULT_ACTIVATION_DELAY_SECONDS) {
      const activatesAt = new Date(Date.now() + activationDelaySeconds * 1000);
      const kid = await store.addKey(activatesAt);
      options.log.info({ kid, activatesAt }, 'signing key rotated');
      return { kid, activatesAt };
    },
  };
}

const rotateInput = z
  .object({ activateInSeconds: z.number().int().min(0).max(3600).nullish() })
  .nullish()
  .transform((input) => input?.activateInSeconds ?? DEFAULT_ACTIVATION_DELAY_SECONDS);

export const rotateSigningKey = mutationRule(
  {
    input: rotateInput,
    caller: requireAdmin,
    invalid: (errors) => ({ kid: null, activatesAt: null, errors }),
  },
  async (
    ctx: Pick<Context, 'viewer' | 'keys' | 'log'>,
    activationDelaySeconds,
    admin,
  ): Promise<{ kid: string | null; activatesAt: Date | null; errors: UserError[] }> => {
    const { kid, activatesAt } = await ctx.keys.rotate(activationDelaySeconds);
    ctx.log.info({ admin: admin.userId, kid }, 'signing key rotated by an administrator');
    return { kid, activatesAt, errors: [] };
  },
);
