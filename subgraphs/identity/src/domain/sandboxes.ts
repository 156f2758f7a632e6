import { randomBytes } from 'node:crypto';
import {
  DomainError,
  mutationRule,
  requireUser,
  type Transaction,
  type UserError,
  uuidInput,
  type Viewer,
} from '@bilten/platform';
import { v7 as uuidv7 } from 'uuid';
import { z } from 'zod';
import type { Context } from '../context.ts';
import { claimSlug, deleteOrganizationRow, lockMembers } from '../db/organizations.ts';
import { insertSandbox, sandboxesOf } from '../db/sandboxes.ts';
import type { ApiKeyRow, OrganizationRow } from '../db/schema.ts';
import { organizationCreated } from '../events.ts';
import { type Ctx, requireActive, withMembers } from './organizations.ts';

/**
 * An organization's sandbox is another organization: test mode, `sandboxOf` the live one, no
 * team of its own (tokens carry it with the roles held in the live one, see membershipsOf).
 * Catalog, orders, billing and messaging keep its data apart by its id, as for any organization.
 */

const SLUG_ATTEMPTS = 4;

/** `<slug>-test` first, then with a short random part: always 2–50 characters, as slugs must be. */
function sandboxSlug(live: string, attempt: number): string {
  const suffix = attempt === 0 ? '-test' : `-test-${randomBytes(3).toString('hex')}`;
  return `${live.slice(0, 50 - suffix.length).replace(/-+$/, '')}${suffix}`;
}

/**
 * The live organization's sandbox, opened now unless it was before. Callers hold the live
 * organization's lock (lockMembers), so concurrent openers run one after another; the unique
 * `sandbox_of` stands behind that. A test-mode organization is its own sandbox.
 */
export async function ensureSandbox(
  tx: Transaction,
  ctx: Pick<Ctx, 'outbox' | 'log'>,
  live: OrganizationRow,
): Promise<OrganizationRow> {
  if (live.testMode) return live;
  for (let attempt = 0; attempt < SLUG_ATTEMPTS; attempt++) {
    const [opened] = await sandboxesOf(tx, [live.id]);
    if (opened) return opened;
    const slug = sandboxSlug(live.slug, attempt);
    const sandbox = await insertSandbox(tx, {
      id: uuidv7(),
      name: `${live.name.slice(0, 93)} (test)`,
      slug,
      testMode: true,
      sandboxOf: live.id,
    });
    if (!sandbox) continue;
    // Like any organization's, its slug stays its own and no other's former one.
    if (!(await claimSlug(tx, sandbox.id, slug))) {
      await deleteOrganizationRow(tx, sandbox.id);
      continue;
    }
    await ctx.outbox.publish(tx, organizationCreated, sandbox.id, {
      organizationId: sandbox.id,
      name: sandbox.name,
      slug: sandbox.slug,
      testMode: true,
      sandboxOf: live.id,
    });
    ctx.log.info({ organizationId: live.id, sandboxId: sandbox.id }, 'sandbox opened');
    return sandbox;
  }
  throw new DomainError('CONFLICT', 'the sandbox could not get a free slug; try again');
}

/**
 * For a TEST key made before sandboxes existed: its live organization's sandbox, opened on its
 * first use, under the same lock as openSandbox.
 */
export function sandboxForKey(ctx: Pick<Ctx, 'db' | 'outbox' | 'log'>, key: ApiKeyRow) {
  return ctx.db.transaction(async (tx) => {
    const state = await lockMembers(tx, key.organizationId);
    return ensureSandbox(tx, ctx, state!.organization);
  });
}

/** ADMIN and up of a live organization; answers the sandbox already open, if any. */
export const openSandbox = mutationRule(
  {
    input: z.object({ organizationId: uuidInput }),
    caller: requireUser,
    invalid: (errors) => ({ sandbox: null, errors }),
  },
  async (ctx: Ctx, { organizationId }): Promise<{ sandbox: OrganizationRow | null; errors: UserError[] }> =>
    withMembers(ctx, organizationId, 'ADMIN', async (tx, { organization }) => {
      requireActive(organization);
      return { sandbox: await ensureSandbox(tx, ctx, organization), errors: [] };
    }),
);

const isMember = (viewer: Viewer, organizationId: string) =>
  viewer.kind === 'user' && Boolean(viewer.organizations[organizationId]);

/** Members only, null to others and until opened. */
export function sandboxOfOrganization(
  ctx: Pick<Context, 'viewer' | 'loaders'>,
  organization: OrganizationRow,
): OrganizationRow | Promise<OrganizationRow | null> | null {
  if (!isMember(ctx.viewer, organization.id)) return null;
  return organization.testMode ? organization : ctx.loaders.sandbox.load(organization.id);
}

/** A sandbox's live organization, for its members; null otherwise. */
export function liveOrganizationOf(ctx: Pick<Context, 'viewer' | 'loaders'>, organization: OrganizationRow) {
  if (!organization.sandboxOf || !isMember(ctx.viewer, organization.id)) return null;
  return ctx.loaders.organization.load(organization.sandboxOf);
}

/**
 * Where a key's calls act: its own organization, or for a TEST key of a live one that one's
 * sandbox (opened now for keys older than sandboxes).
 */
export async function organizationActedOn(
  ctx: Pick<Context, 'db' | 'outbox' | 'log' | 'loaders'>,
  key: ApiKeyRow,
): Promise<OrganizationRow> {
  const organization = (await ctx.loaders.organization.load(key.organizationId))!;
  if (key.mode !== 'TEST' || organization.testMode) return organization;
  return (await ctx.loaders.sandbox.load(organization.id)) ?? sandboxForKey(ctx, key);
}
