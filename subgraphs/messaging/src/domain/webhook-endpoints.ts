import { randomBytes } from 'node:crypto';
import {
  type CallerCheck,
  columnAad,
  DomainError,
  displayText,
  isUuid,
  type KeyRing,
  mutationRule,
  requireOrgAccess,
  type UserError,
  uuidInput,
  type Viewer,
} from '@bilten/platform';
import { v7 as uuidv7 } from 'uuid';
import { z } from 'zod';
import type { Context } from '../context.ts';
import { WEBHOOK_SECRET_COLUMNS, type WebhookEndpointRow } from '../db/schema.ts';
import {
  deleteEndpoint,
  endpointById,
  endpointsOfOrganization,
  insertEndpointWithin,
  lockEndpoint,
  updateEndpoint,
} from '../db/webhooks.ts';
import { WEBHOOK_EVENT_TYPES } from './webhook-events.ts';
import { MAX_URL_LENGTH, parseTargetUrl, targetAddressProblem } from './webhook-targets.ts';

// An organization's webhook endpoints: ADMIN+ members and the organization's API keys read them
// (any scope); ADMIN+ members and its keys with events:write change them. Another organization's
// endpoint is answered as an unknown id, so ids probe nothing.

export const MAX_ENDPOINTS_PER_ORGANIZATION = 20;
/** How long a rotated-out secret keeps signing, as a second signature. */
export const ROTATION_GRACE_MS = 24 * 3_600_000;

type WebhookContext = Pick<Context, 'db' | 'viewer' | 'ring' | 'webhookTargets'>;

const WRITE_WEBHOOKS = { role: 'ADMIN', scope: 'events:write' } as const;

/** ADMIN+ of the organization, or any API key of it. */
export function readsWebhooksOf(viewer: Viewer, organizationId: string): boolean {
  if (viewer.kind === 'apiKey') return viewer.organizationId === organizationId;
  if (viewer.kind !== 'user') return false;
  const role = viewer.organizations[organizationId];
  return role === 'ADMIN' || role === 'OWNER';
}

/** Users and API keys get as far as the organization check; anonymous callers no further than here. */
export const requireWebhookCaller: CallerCheck<void> = (viewer) => {
  if (viewer.kind === 'anonymous')
    throw new DomainError('UNAUTHENTICATED', 'sign in or use an API key first');
};

/** Creating needs write access to the organization the input names, checked before the input is read. */
const requireEndpointCreator: CallerCheck<void> = (viewer, input) => {
  requireWebhookCaller(viewer, input);
  const organizationId = uuidInput.safeParse((input as { organizationId?: unknown }).organizationId);
  if (organizationId.success) requireOrgAccess(viewer, organizationId.data, WRITE_WEBHOOKS);
};

// ---------------------------------------------------------------- secrets

const [SECRET_COLUMN, PREVIOUS_SECRET_COLUMN] = WEBHOOK_SECRET_COLUMNS;

/** `whsec_` and 32 random bytes in base64, as Standard Webhooks libraries take it. */
const newSecret = () => `whsec_${randomBytes(32).toString('base64')}`;

/** The secrets deliveries are signed with now: the current one, and a rotated-out one during its grace. */
export function signingSecrets(ring: KeyRing, endpoint: WebhookEndpointRow, now = new Date()): string[] {
  const secrets = [ring.decrypt(endpoint.secretSealed, columnAad(SECRET_COLUMN, endpoint.id))];
  if (
    endpoint.previousSecretSealed &&
    endpoint.previousSecretExpiresAt &&
    endpoint.previousSecretExpiresAt > now
  )
    secrets.push(ring.decrypt(endpoint.previousSecretSealed, columnAad(PREVIOUS_SECRET_COLUMN, endpoint.id)));
  return secrets;
}

// ---------------------------------------------------------------- reads

/** `webhookEndpoints(organizationId)`: newest first. */
export function webhookEndpointsOf(ctx: Pick<Context, 'db' | 'viewer'>, organizationId: string) {
  requireWebhookCaller(ctx.viewer, undefined);
  if (!readsWebhooksOf(ctx.viewer, organizationId))
    throw new DomainError('FORBIDDEN', 'needs the ADMIN role in this organization, or one of its API keys');
  return endpointsOfOrganization(ctx.db, organizationId);
}

/** `webhookEndpoint(id)`: null for an unknown id or another organization's endpoint. */
export async function readableWebhookEndpoint(ctx: Pick<Context, 'db' | 'viewer'>, id: string) {
  requireWebhookCaller(ctx.viewer, undefined);
  if (!isUuid(id)) return null;
  const endpoint = await endpointById(ctx.db, id);
  return endpoint && readsWebhooksOf(ctx.viewer, endpoint.organizationId) ? endpoint : null;
}

/**
 * The endpoint `id` for a change by the caller: undefined (answered NOT_FOUND) when they cannot
 * even read it; FORBIDDEN when they read but may not change it (an API key without events:write).
 */
export async function changeableEndpoint(
  ctx: Pick<Context, 'db' | 'viewer'>,
  id: string,
): Promise<WebhookEndpointRow | undefined> {
  const endpoint = await endpointById(ctx.db, id);
  if (!endpoint || !readsWebhooksOf(ctx.viewer, endpoint.organizationId)) return undefined;
  requireOrgAccess(ctx.viewer, endpoint.organizationId, WRITE_WEBHOOKS);
  return endpoint;
}

// ---------------------------------------------------------------- changes

const eventTypesInput = z
  .array(
    z.enum(WEBHOOK_EVENT_TYPES, {
      error: `must be one of ${WEBHOOK_EVENT_TYPES.join(', ')} (see webhookEventTypes)`,
    }),
  )
  .min(1, 'must name at least one event type')
  .max(WEBHOOK_EVENT_TYPES.length * 2, 'names too many event types')
  .transform((types) => [...new Set(types)]);

const urlInput = z
  .string()
  .trim()
  .min(1, 'must not be empty')
  .max(MAX_URL_LENGTH, `must be at most ${MAX_URL_LENGTH} characters`);

const createInput = z.object({
  organizationId: uuidInput,
  url: urlInput,
  eventTypes: eventTypesInput,
  description: displayText(500).nullish(),
});

const updateInput = z.object({
  id: uuidInput,
  url: urlInput.nullish(),
  eventTypes: eventTypesInput.nullish(),
  description: displayText(500).nullish(),
  enabled: z.boolean().nullish(),
});

const idInput = z.object({ id: uuidInput });

interface EndpointResult {
  endpoint: WebhookEndpointRow | null;
  secret?: string | null;
  errors: UserError[];
}

const invalid = (errors: UserError[]): EndpointResult => ({ endpoint: null, secret: null, errors });
const unknownEndpoint = () =>
  invalid([{ code: 'NOT_FOUND', message: 'no such webhook endpoint', field: ['input', 'id'] }]);

/** The URL, normalized, or why a webhook may not go there (the scheme, credentials, the host's addresses). */
async function checkedUrl(
  ctx: Pick<Context, 'webhookTargets'>,
  text: string,
): Promise<{ url: string } | { errors: UserError[] }> {
  const refused = (message: string) => ({
    errors: [{ code: 'INVALID_INPUT' as const, message, field: ['input', 'url'] }],
  });
  const parsed = parseTargetUrl(text, ctx.webhookTargets);
  if ('problem' in parsed) return refused(parsed.problem);
  const problem = await targetAddressProblem(parsed.url, ctx.webhookTargets);
  return problem ? refused(problem) : { url: parsed.url.href };
}

/** `createWebhookEndpoint`: the secret is in this answer only. At most 20 endpoints per organization. */
export const createWebhookEndpoint = mutationRule(
  { input: createInput, caller: requireEndpointCreator, invalid },
  async (ctx: WebhookContext, input): Promise<EndpointResult> => {
    const checked = await checkedUrl(ctx, input.url);
    if ('errors' in checked) return invalid(checked.errors);
    const id = uuidv7();
    const secret = newSecret();
    const endpoint = await ctx.db.transaction((tx) =>
      insertEndpointWithin(
        tx,
        {
          id,
          organizationId: input.organizationId,
          url: checked.url,
          description: input.description ?? null,
          eventTypes: input.eventTypes,
          secretSealed: ctx.ring.encrypt(secret, columnAad(SECRET_COLUMN, id)),
        },
        MAX_ENDPOINTS_PER_ORGANIZATION,
      ),
    );
    if (!endpoint)
      return invalid([
        {
          code: 'CONFLICT',
          message: `an organization has at most ${MAX_ENDPOINTS_PER_ORGANIZATION} webhook endpoints`,
          field: ['input', 'organizationId'],
        },
      ]);
    return { endpoint, secret, errors: [] };
  },
);

/** `updateWebhookEndpoint`: unset fields keep their values; `enabled: true` re-enables one a 410 disabled. */
export const updateWebhookEndpoint = mutationRule(
  { input: updateInput, caller: requireWebhookCaller, invalid },
  async (ctx: WebhookContext, input): Promise<EndpointResult> => {
    if (!(await changeableEndpoint(ctx, input.id))) return unknownEndpoint();
    let url: string | undefined;
    if (input.url) {
      const checked = await checkedUrl(ctx, input.url);
      if ('errors' in checked) return invalid(checked.errors);
      url = checked.url;
    }
    const endpoint = await ctx.db.transaction((tx) =>
      updateEndpoint(tx, input.id, {
        ...(url && { url }),
        ...(input.eventTypes && { eventTypes: input.eventTypes }),
        // The one nullable field: an explicit null clears it.
        ...(input.description !== undefined && { description: input.description }),
        ...(input.enabled != null && {
          enabled: input.enabled,
          disabledReason: input.enabled ? null : 'turned off',
        }),
      }),
    );
    return endpoint ? { endpoint, errors: [] } : unknownEndpoint();
  },
);

/** `deleteWebhookEndpoint`: the endpoint and its delivery log. */
export const deleteWebhookEndpoint = mutationRule(
  {
    input: idInput,
    caller: requireWebhookCaller,
    invalid: (errors: UserError[]) => ({ deletedId: null, errors }),
  },
  async (ctx: WebhookContext, input) => {
    if (!(await changeableEndpoint(ctx, input.id)))
      return { deletedId: null, errors: unknownEndpoint().errors };
    await ctx.db.transaction((tx) => deleteEndpoint(tx, input.id));
    return { deletedId: input.id, errors: [] };
  },
);

/**
 * `rotateWebhookSecret`: a new secret, shown once; the one it replaces keeps signing (a second
 * signature) for ROTATION_GRACE_MS, so receivers can switch without losing a message.
 */
export const rotateWebhookSecret = mutationRule(
  { input: idInput, caller: requireWebhookCaller, invalid },
  async (ctx: WebhookContext, input): Promise<EndpointResult> => {
    if (!(await changeableEndpoint(ctx, input.id))) return unknownEndpoint();
    const secret = newSecret();
    const endpoint = await ctx.db.transaction(async (tx) => {
      const current = await lockEndpoint(tx, input.id);
      if (!current) return undefined;
      const previous = ctx.ring.decrypt(current.secretSealed, columnAad(SECRET_COLUMN, current.id));
      return updateEndpoint(tx, current.id, {
        secretSealed: ctx.ring.encrypt(secret, columnAad(SECRET_COLUMN, current.id)),
        previousSecretSealed: ctx.ring.encrypt(previous, columnAad(PREVIOUS_SECRET_COLUMN, current.id)),
        previousSecretExpiresAt: new Date(Date.now() + ROTATION_GRACE_MS),
      });
    });
    return endpoint ? { endpoint, secret, errors: [] } : unknownEndpoint();
  },
);
