import { randomBytes } from 'node:crypto';
import {
  API_KEY_MODES,
  API_KEY_SCOPES,
  type Database,
  DomainError,
  displayText,
  type Logger,
  requireUser,
  type UserError,
  userErrorsFrom,
  uuidInput,
} from '@bilten/platform';
import { v7 as uuidv7 } from 'uuid';
import { z } from 'zod';
import {
  activeApiKeyBySecretHash,
  apiKeyById,
  insertApiKey,
  revokeApiKeyRow,
  touchApiKey,
} from '../db/queries.ts';
import type { ApiKeyRow } from '../db/schema.ts';
import type { Ctx } from './organizations.ts';
import { withMembers } from './organizations.ts';
import { tokenHash } from './secrets.ts';
import type { SigningKeys } from './signing-keys.ts';

/**
 * Tokens for API keys live one minute: the gateway checks the key again (revocation included)
 * when it needs a new one, so a revoked key stops working within a minute.
 */
export const API_KEY_TOKEN_TTL_SECONDS = 60;

/** `bk_live_` or `bk_test_` and 32 random bytes, base64url. */
export const API_KEY_SECRET = /^bk_(live|test)_[A-Za-z0-9_-]{43}$/;
const PREFIX_LENGTH = 'bk_live_'.length + 6;

const createInput = z.object({
  organizationId: uuidInput,
  name: displayText(80),
  scopes: z
    .array(z.enum(API_KEY_SCOPES, { message: `must be one of ${API_KEY_SCOPES.join(', ')}` }))
    .min(1, 'must name at least one scope')
    .max(API_KEY_SCOPES.length)
    .transform((scopes) => [...new Set(scopes)]),
  mode: z.enum(API_KEY_MODES),
});

/** ADMIN and up of the organization; the secret is in this answer and nowhere else, ever. */
export async function createApiKey(
  ctx: Ctx,
  input: unknown,
): Promise<{ apiKey: ApiKeyRow | null; secret: string | null; errors: UserError[] }> {
  requireUser(ctx.viewer);
  const parsed = createInput.safeParse(input);
  if (!parsed.success) return { apiKey: null, secret: null, errors: userErrorsFrom(parsed.error) };
  const { organizationId, name, scopes, mode } = parsed.data;
  return withMembers(ctx, organizationId, 'ADMIN', async (tx, { actor }) => {
    const secret = `bk_${mode.toLowerCase()}_${randomBytes(32).toString('base64url')}`;
    const apiKey = await insertApiKey(tx, {
      id: uuidv7(),
      organizationId,
      name,
      prefix: secret.slice(0, PREFIX_LENGTH),
      secretHash: tokenHash(secret),
      scopes,
      mode,
      createdBy: actor.userId,
    });
    ctx.log.info({ organizationId, apiKeyId: apiKey.id, scopes, mode, by: actor.userId }, 'API key created');
    return { apiKey, secret, errors: [] };
  });
}

/** ADMIN and up of the key's organization; anyone else gets FORBIDDEN, as for an unknown id. */
export async function revokeApiKey(
  ctx: Ctx,
  input: unknown,
): Promise<{ apiKey: ApiKeyRow | null; errors: UserError[] }> {
  const viewer = requireUser(ctx.viewer);
  const parsed = z.object({ id: uuidInput }).safeParse(input);
  if (!parsed.success) return { apiKey: null, errors: userErrorsFrom(parsed.error) };
  const found = await apiKeyById(ctx.db, parsed.data.id);
  // An unknown id and another organization's answer alike: ids do not probe other organizations.
  if (!found || !viewer.organizations[found.organizationId]) {
    throw new DomainError('FORBIDDEN', 'no such API key in an organization you manage');
  }
  return withMembers(ctx, found.organizationId, 'ADMIN', async (tx, { actor }) => {
    const apiKey = await revokeApiKeyRow(tx, found.id);
    ctx.log.info(
      { organizationId: found.organizationId, apiKeyId: found.id, by: actor.userId },
      'API key revoked',
    );
    return { apiKey, errors: [] };
  });
}

/**
 * A short-lived access token for a live key's organization, scopes and mode, or null for a
 * malformed, unknown or revoked secret (one answer for all three).
 */
export async function exchangeApiKey(
  ctx: { db: Database; keys: SigningKeys; log: Logger },
  secret: string,
): Promise<{ accessToken: string; expiresIn: number } | null> {
  if (!API_KEY_SECRET.test(secret)) return null;
  const key = await activeApiKeyBySecretHash(ctx.db, tokenHash(secret));
  if (!key) return null;
  await touchApiKey(ctx.db, key.id);
  const accessToken = await ctx.keys.sign(
    {
      kind: 'api_key',
      sub: key.id,
      jti: uuidv7(),
      org: key.organizationId,
      scopes: key.scopes,
      mode: key.mode,
    },
    API_KEY_TOKEN_TTL_SECONDS,
  );
  return { accessToken, expiresIn: API_KEY_TOKEN_TTL_SECONDS };
}
