import {
  ANONYMOUS,
  API_KEY_MODES,
  API_KEY_SCOPES,
  type ApiKeyMode,
  DomainError,
  displayText,
  mutationRule,
  reportSecurityEvent,
  requireAdmin,
  requireOrgRole,
  requireUser,
  type SecurityEventSink,
  type UserError,
  uuidInput,
} from '@bilten/platform';
import { CURRENT_API_VERSION } from '@bilten/platform/api-versions';
import { v7 as uuidv7 } from 'uuid';
import { z } from 'zod';
import type { Context } from '../context.ts';
import {
  activeApiKeyBySecretHash,
  apiKeyById,
  apiKeysOf,
  insertApiKey,
  revokeApiKeyRow,
  setApiKeyPlanRow,
  touchApiKey,
} from '../db/api-keys.ts';
import type { ApiKeyRow, OrganizationRow } from '../db/schema.ts';
import { revokedApiKeyBySecretHash } from '../db/security.ts';
import { apiKeyRevoked } from '../events.ts';
import { type Ctx, requireActive, withMembers } from './organizations.ts';
import { ensureSandbox, sandboxForKey } from './sandboxes.ts';
import { newToken, tokenHash } from './secrets.ts';

/**
 * Tokens for API keys live one minute. A revoked key's tokens are refused by every service from
 * `api_key.revoked` on; the gateway exchanges the key again every second.
 */
const API_KEY_TOKEN_TTL_SECONDS = 60;

/** `bk_live_` or `bk_test_` and 32 random bytes, base64url. */
const API_KEY_SECRET = /^bk_(live|test)_[A-Za-z0-9_-]{43}$/;
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

/**
 * ADMIN and up of the organization; the secret is in this answer and nowhere else, ever. A TEST
 * key of a live organization opens its sandbox (where its calls act) unless it is open already.
 */
export const createApiKey = mutationRule(
  { input: createInput, caller: requireUser, invalid: (errors) => ({ apiKey: null, secret: null, errors }) },
  async (
    ctx: Ctx,
    { organizationId, name, scopes, mode },
  ): Promise<{ apiKey: ApiKeyRow | null; secret: string | null; errors: UserError[] }> =>
    withMembers(ctx, organizationId, 'ADMIN', async (tx, { organization, actor }) => {
      requireActive(organization);
      if (mode === 'TEST') await ensureSandbox(tx, ctx, organization);
      const secret = newToken(`bk_${mode.toLowerCase()}_`);
      const apiKey = await insertApiKey(tx, {
        id: uuidv7(),
        organizationId,
        name,
        prefix: secret.slice(0, PREFIX_LENGTH),
        secretHash: tokenHash(secret),
        scopes,
        mode,
        apiVersion: CURRENT_API_VERSION,
        createdBy: actor.userId,
      });
      ctx.log.info(
        { organizationId, apiKeyId: apiKey.id, scopes, mode, by: actor.userId },
        'API key created',
      );
      return { apiKey, secret, errors: [] };
    }),
);

/** ADMIN and up of the key's organization; anyone else gets FORBIDDEN, as for an unknown id. */
export const revokeApiKey = mutationRule(
  {
    input: z.object({ id: uuidInput }),
    caller: requireUser,
    invalid: (errors) => ({ apiKey: null, errors }),
  },
  async (ctx: Ctx, { id }, viewer): Promise<{ apiKey: ApiKeyRow | null; errors: UserError[] }> => {
    const found = await apiKeyById(ctx.db, id);
    // An unknown id and another organization's answer alike: ids do not probe other organizations.
    if (!found || !viewer.organizations[found.organizationId]) {
      throw new DomainError('FORBIDDEN', 'no such API key in an organization you manage');
    }
    return withMembers(ctx, found.organizationId, 'ADMIN', async (tx, { actor }) => {
      const apiKey = await revokeApiKeyRow(tx, found.id);
      // Every service refuses the key's tokens once this arrives; the gateway exchanges keys anew every second.
      if (!found.revokedAt) {
        await ctx.outbox.publish(tx, apiKeyRevoked, found.id, {
          apiKeyId: found.id,
          organizationId: found.organizationId,
        });
      }
      ctx.log.info(
        { organizationId: found.organizationId, apiKeyId: found.id, by: actor.userId },
        'API key revoked',
      );
      return { apiKey, errors: [] };
    });
  },
);

/** The organization's keys (never their secrets), for ADMINs and OWNERs. */
export function organizationApiKeys(ctx: Pick<Context, 'db' | 'viewer'>, organization: OrganizationRow) {
  requireOrgRole(ctx.viewer, organization.id, 'ADMIN');
  return apiKeysOf(ctx.db, organization.id);
}

const planName = z
  .string()
  .regex(
    /^[a-z][a-z0-9-]{0,31}$/,
    'must be 1–32 lower-case letters, digits or dashes, starting with a letter',
  );

/**
 * Platform administrators only: which rate-limit plan the gateway charges the key by. Its next
 * exchange carries it (within a second). A name the gateway does not know counts as its default.
 */
export const setApiKeyPlan = mutationRule(
  {
    input: z.object({ id: uuidInput, plan: planName }),
    caller: requireAdmin,
    invalid: (errors) => ({ apiKey: null, errors }),
  },
  async (ctx: Ctx, { id, plan }, admin): Promise<{ apiKey: ApiKeyRow | null; errors: UserError[] }> => {
    const apiKey = await setApiKeyPlanRow(ctx.db, id, plan);
    if (!apiKey) {
      return {
        apiKey: null,
        errors: [{ code: 'NOT_FOUND', message: 'no such API key', field: ['input', 'id'] }],
      };
    }
    ctx.log.info(
      { organizationId: apiKey.organizationId, apiKeyId: id, plan, by: admin.userId },
      'API key plan set',
    );
    return { apiKey, errors: [] };
  },
);

export interface ExchangedApiKey {
  accessToken: string;
  expiresIn: number;
  keyId: string;
  /** Where its calls act (its `org` claim): see organizationActedOn. */
  organizationId: string;
  mode: ApiKeyMode;
  apiVersion: string;
  plan: string;
}

/**
 * A short-lived access token for a live key's scopes and mode, acting on its organization or,
 * for a TEST key of a live one, on that one's sandbox; with what the gateway needs to know of the
 * key (version, plan). Null for a malformed, unknown or revoked secret (one answer for all three).
 */
/** A revoked key still in use: leaked, or a forgotten integration. Either way security wants to know. */
async function reportRevokedKeyUse(ctx: Parameters<typeof exchangeApiKey>[0], secret: string) {
  if (!ctx.security) return;
  const revoked = await revokedApiKeyBySecretHash(ctx.db, tokenHash(secret));
  if (!revoked) return;
  await reportSecurityEvent(
    { ...ctx, viewer: ANONYMOUS, requestId: ctx.security.requestId, clientIp: ctx.security.clientIp },
    ctx.security.sink,
    {
      type: 'api_key_misuse',
      target: 'api-key-exchange',
      actor: { actorId: revoked.id, actorKind: 'api_key' },
      organizationId: revoked.organizationId,
      details: { reason: 'revoked' },
    },
  );
}

export async function exchangeApiKey(
  ctx: Pick<Context, 'db' | 'keys' | 'log' | 'outbox'> & {
    /** Where a revoked key presented again is reported (`api_key_misuse`), from whom. */
    security?: { sink: SecurityEventSink; requestId: string; clientIp: string };
  },
  secret: string,
): Promise<ExchangedApiKey | null> {
  if (!API_KEY_SECRET.test(secret)) return null;
  const found = await activeApiKeyBySecretHash(ctx.db, tokenHash(secret));
  if (!found) {
    await reportRevokedKeyUse(ctx, secret);
    return null;
  }
  const { key } = found;
  const mode = key.mode as ApiKeyMode;
  const organizationId =
    mode === 'LIVE' || found.testMode
      ? key.organizationId
      : (found.sandboxId ?? (await sandboxForKey(ctx, key)).id);
  await touchApiKey(ctx.db, key.id);
  const accessToken = await ctx.keys.sign(
    { kind: 'api_key', sub: key.id, jti: uuidv7(), org: organizationId, scopes: key.scopes, mode },
    API_KEY_TOKEN_TTL_SECONDS,
  );
  return {
    accessToken,
    expiresIn: API_KEY_TOKEN_TTL_SECONDS,
    keyId: key.id,
    organizationId,
    mode,
    apiVersion: key.apiVersion,
    plan: key.plan,
  };
}
