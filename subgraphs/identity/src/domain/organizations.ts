import {
  DomainError,
  displayText,
  mutationRule,
  ORGANIZATION_ROLES,
  type OrganizationRole,
  requireOrgRole,
  requireUser,
  requireVerifiedUser,
  slug,
  type Transaction,
  type UserError,
  uuidInput,
} from '@bilten/platform';
import { v7 as uuidv7 } from 'uuid';
import { z } from 'zod';
import type { Context } from '../context.ts';
import {
  claimSlug,
  deleteMember,
  deleteOrganizationRow,
  type Invitees,
  insertMember,
  insertOrganization,
  lockMembers,
  membersOf,
  organizationBySlug,
  setMemberRole,
  updateOrganizationRow,
} from '../db/organizations.ts';
import type { MemberRow, OrganizationRow } from '../db/schema.ts';
import { organizationCreated, organizationUpdated } from '../events.ts';
import { recordMemberChange, recordTeamRead } from './access-log.ts';

export type Ctx = Pick<Context, 'db' | 'outbox' | 'log' | 'viewer' | 'links' | 'requestId'> & Invitees;

/**
 * The creator becomes its OWNER, from their next request on (the gateway reads current roles). A
 * test-mode organization takes Sandbox payments only (billing reads it from organizationCreated).
 */
export const createOrganization = mutationRule(
  {
    input: z.object({ name: displayText(100), slug, testMode: z.boolean().nullish() }),
    caller: requireVerifiedUser,
    invalid: (errors) => ({ organization: null, errors }),
  },
  async (
    ctx: Ctx,
    input,
    creator,
  ): Promise<{ organization: OrganizationRow | null; errors: UserError[] }> => {
    const organization = await ctx.db.transaction(async (tx) => {
      const inserted = await insertOrganization(tx, {
        id: uuidv7(),
        name: input.name,
        slug: input.slug,
        testMode: input.testMode ?? false,
      });
      // A slug another organization held before stays theirs: its old links point there.
      const created = inserted && (await claimSlug(tx, inserted.id, inserted.slug)) ? inserted : undefined;
      if (inserted && !created) await deleteOrganizationRow(tx, inserted.id);
      if (created) {
        await insertMember(tx, { organizationId: created.id, userId: creator.userId, role: 'OWNER' });
        await ctx.outbox.publish(tx, organizationCreated, created.id, {
          organizationId: created.id,
          name: created.name,
          slug: created.slug,
          testMode: created.testMode,
        });
      }
      return created;
    });
    if (!organization) {
      return {
        organization: null,
        errors: [{ code: 'ALREADY_EXISTS', message: 'this slug is taken', field: ['input', 'slug'] }],
      };
    }
    return { organization, errors: [] };
  },
);

/**
 * Renames an organization (ADMIN and up) or moves it to a new slug (OWNERs). Its old slugs keep
 * resolving to it and stay its own: no other organization can take them.
 */
export const updateOrganization = mutationRule(
  {
    input: z.object({ id: uuidInput, name: displayText(100).nullish(), slug: slug.nullish() }),
    caller: requireUser,
    invalid: (errors) => ({ organization: null, errors }),
  },
  async (
    ctx: Ctx,
    { id, name, slug: newSlug },
  ): Promise<{ organization: OrganizationRow | null; errors: UserError[] }> =>
    withMembers(ctx, id, 'ADMIN', async (tx, { organization, actor }) => {
      requireActive(organization);
      const movesSlug = Boolean(newSlug) && newSlug !== organization.slug;
      if (movesSlug && actor.role !== 'OWNER') throw forbidden('only owners may change the slug');
      if (movesSlug && !(await claimSlug(tx, id, newSlug!))) {
        return {
          organization: null,
          errors: failure('ALREADY_EXISTS', 'this slug is taken', ['input', 'slug']),
        };
      }
      const renames = Boolean(name) && name !== organization.name;
      const changes = { ...(renames ? { name: name! } : {}), ...(movesSlug ? { slug: newSlug! } : {}) };
      if (!Object.keys(changes).length) return { organization, errors: [] };
      const updated = await updateOrganizationRow(tx, id, changes);
      // In the same transaction: billing's copy names the seller on receipts as it is now.
      await ctx.outbox.publish(tx, organizationUpdated, id, {
        organizationId: id,
        name: updated.name,
        slug: updated.slug,
      });
      ctx.log.info({ organizationId: id, ...changes, by: actor.userId }, 'organization updated');
      return { organization: updated, errors: [] };
    }),
);

/** Anyone may look an organization up by its slug, current or former. */
export async function organizationWithSlug(ctx: Pick<Context, 'db'>, args: { slug: string }) {
  return (await organizationBySlug(ctx.db, args.slug)) ?? null;
}

/** The members, for any member (STAFF and up by their access token); a sandbox's are its live organization's. */
export async function organizationMembers(ctx: Ctx, organization: OrganizationRow) {
  requireOrgRole(ctx.viewer, organization.id, 'STAFF');
  const members = await membersOf(ctx.db, organization.sandboxOf ?? organization.id);
  return recordTeamRead(ctx, organization.id, members);
}

/** A closing or closed organization takes no new name, members or keys. */
export function requireActive(organization: OrganizationRow) {
  if (organization.status === 'ACTIVE') return;
  throw new DomainError(
    'CONFLICT',
    organization.status === 'CLOSING' ? 'this organization is being closed' : 'this organization is closed',
  );
}

const SANDBOX_TEAM = "a sandbox has its live organization's team, keys and settings: change them there";
const rank = (role: string) => ORGANIZATION_ROLES.indexOf(role as OrganizationRole);
export const forbidden = (message: string) => new DomainError('FORBIDDEN', message);
export const failure = (code: UserError['code'], message: string, field?: string[]): UserError[] => [
  { code, message, ...(field ? { field } : {}) },
];

/**
 * Runs `change` with the organization and its members locked, after checking the caller's role
 * from the database too: the token's roles may be up to 15 minutes old, a demotion is not.
 * The token check comes first, so another organization's ids never reach the database. A
 * sandbox has nothing of this to change: its team and keys are its live organization's.
 */
export async function withMembers<T>(
  ctx: Ctx,
  organizationId: string,
  minimum: OrganizationRole,
  change: (
    tx: Transaction,
    state: { organization: OrganizationRow; members: MemberRow[]; actor: MemberRow },
  ) => Promise<T>,
): Promise<T> {
  const viewer = requireOrgRole(ctx.viewer, organizationId, minimum);
  return ctx.db.transaction(async (tx) => {
    const state = await lockMembers(tx, organizationId);
    if (state?.organization.sandboxOf) throw forbidden(SANDBOX_TEAM);
    const actor = state?.members.find((member) => member.userId === viewer.userId);
    if (!state || !actor || rank(actor.role) < rank(minimum)) {
      throw forbidden(`needs the ${minimum} role in this organization`);
    }
    return change(tx, { ...state, actor });
  });
}

/** An organization role (OWNER, ADMIN, STAFF…), as inputs name it. */
export const roleInput = z.enum(ORGANIZATION_ROLES);

const memberInput = z.object({ organizationId: uuidInput, userId: uuidInput });

const owners = (members: MemberRow[]) => members.filter((member) => member.role === 'OWNER').length;
const LAST_OWNER = 'an organization keeps at least one owner';

/**
 * ADMIN+ manage STAFF and ADMIN; only OWNERs promote to, demote or remove an OWNER; the last
 * OWNER stays. The new role is in the member's next access token (at the latest after 15 minutes,
 * at once after a refresh).
 */
export const changeMemberRole = mutationRule(
  {
    input: memberInput.extend({ role: roleInput }),
    caller: requireUser,
    invalid: (errors) => ({ member: null, errors }),
  },
  async (
    ctx: Ctx,
    { organizationId, userId, role },
  ): Promise<{ member: MemberRow | null; errors: UserError[] }> =>
    withMembers(ctx, organizationId, 'ADMIN', async (tx, { members, actor }) => {
      const target = members.find((member) => member.userId === userId);
      if (!target)
        return { member: null, errors: failure('NOT_FOUND', 'no such member', ['input', 'userId']) };
      if ((target.role === 'OWNER' || role === 'OWNER') && actor.role !== 'OWNER') {
        throw forbidden('only owners may change who is an owner');
      }
      if (target.role === 'OWNER' && role !== 'OWNER' && owners(members) === 1) {
        return { member: null, errors: failure('CONFLICT', LAST_OWNER, ['input', 'role']) };
      }
      const member = await setMemberRole(tx, organizationId, userId, role);
      await recordMemberChange(tx, ctx, organizationId, userId, 'change:role');
      ctx.log.info({ organizationId, userId, role, by: actor.userId }, 'member role changed');
      return { member, errors: [] };
    }),
);

async function remove(
  ctx: Ctx,
  organizationId: string,
  userId: string,
  minimum: OrganizationRole,
): Promise<{ removedUserId: string | null; errors: UserError[] }> {
  return withMembers(ctx, organizationId, minimum, async (tx, { members, actor }) => {
    const target = members.find((member) => member.userId === userId);
    if (!target)
      return { removedUserId: null, errors: failure('NOT_FOUND', 'no such member', ['input', 'userId']) };
    if (target.role === 'OWNER' && actor.role !== 'OWNER') throw forbidden('only owners may remove an owner');
    if (target.role === 'OWNER' && owners(members) === 1) {
      return { removedUserId: null, errors: failure('CONFLICT', LAST_OWNER) };
    }
    await deleteMember(tx, organizationId, userId);
    await recordMemberChange(tx, ctx, organizationId, userId, 'change:membership');
    ctx.log.info({ organizationId, userId, by: actor.userId }, 'member removed');
    return { removedUserId: userId, errors: [] };
  });
}

/** ADMIN+ remove STAFF and ADMINs, OWNERs anyone but the last owner. */
export const removeMember = mutationRule(
  { input: memberInput, caller: requireUser, invalid: (errors) => ({ removedUserId: null, errors }) },
  (ctx: Ctx, { organizationId, userId }) => remove(ctx, organizationId, userId, 'ADMIN'),
);

/** Any member may leave, except the last owner. */
export const leaveOrganization = mutationRule(
  {
    input: z.object({ organizationId: uuidInput }),
    caller: requireUser,
    invalid: (errors) => ({ removedUserId: null, errors }),
  },
  (ctx: Ctx, { organizationId }, viewer) => remove(ctx, organizationId, viewer.userId, 'STAFF'),
);
