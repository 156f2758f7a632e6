import {
  DomainError,
  displayText,
  emailAddress,
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
import { usersByIds } from '../db/accounts.ts';
import {
  claimSlug,
  deleteMember,
  deleteOrganizationRow,
  insertInvitation,
  insertMember,
  insertOrganization,
  invitationById,
  lockInvitationByToken,
  lockMembers,
  markInvitation,
  membersOf,
  openInvitationsOf,
  organizationBySlug,
  revokeOpenInvitations,
  setMemberRole,
  updateOrganizationRow,
} from '../db/organizations.ts';
import type { InvitationRow, MemberRow, OrganizationRow } from '../db/schema.ts';
import { invitationCreated, organizationCreated, organizationUpdated } from '../events.ts';
import { recordMemberChange, recordTeamRead } from './access-log.ts';
import { newToken, tokenHash } from './secrets.ts';
import { allow } from './throttles.ts';

const INVITATION_TTL_MS = 7 * 24 * 60 * 60 * 1000;
/**
 * Invitations are mail that an organization's name and a stranger's address decide: one address
 * gets at most 3 an hour from all organizations, one organization sends at most 50 an hour.
 */
const INVITATIONS_PER_ADDRESS = { limit: 3, windowMs: 60 * 60_000 };
const INVITATIONS_PER_ORGANIZATION = { limit: 50, windowMs: 60 * 60_000 };

export type Ctx = Pick<Context, 'db' | 'outbox' | 'log' | 'viewer' | 'links' | 'requestId' | 'personKeys'>;

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

/** The open invitations, for ADMINs and OWNERs. */
export function organizationInvitations(ctx: Pick<Context, 'db' | 'viewer'>, organization: OrganizationRow) {
  requireOrgRole(ctx.viewer, organization.id, 'ADMIN');
  return openInvitationsOf(ctx.db, organization.id);
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
const forbidden = (message: string) => new DomainError('FORBIDDEN', message);
const failure = (code: UserError['code'], message: string, field?: string[]): UserError[] => [
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

const roleInput = z.enum(ORGANIZATION_ROLES);

/**
 * ADMINs and OWNERs invite by email; only an OWNER may invite another OWNER. A new invitation
 * of the same address replaces the open one, so only the latest link works.
 */
export const inviteMember = mutationRule(
  {
    input: z.object({ organizationId: uuidInput, email: emailAddress, role: roleInput }),
    caller: requireUser,
    invalid: (errors) => ({ invitation: null, errors }),
  },
  async (
    ctx: Ctx,
    { organizationId, email, role },
  ): Promise<{ invitation: InvitationRow | null; errors: UserError[] }> =>
    withMembers(ctx, organizationId, 'ADMIN', async (tx, { organization, members, actor }) => {
      requireActive(organization);
      if (role === 'OWNER' && actor.role !== 'OWNER') throw forbidden('only owners may invite owners');
      const memberIds = members.map((member) => member.userId);
      const users = memberIds.length ? await usersByIds(tx, ctx.personKeys, memberIds) : [];
      if (users.some((user) => user.email === email)) {
        return {
          invitation: null,
          errors: failure('ALREADY_EXISTS', 'this address belongs to a member already', ['input', 'email']),
        };
      }
      const withinLimits =
        (await allow(tx, `invite:organization:${organization.id}`, INVITATIONS_PER_ORGANIZATION)) &&
        (await allow(tx, `invite:address:${email}`, INVITATIONS_PER_ADDRESS));
      // Thrown, so the transaction and with it this hit roll back: only sent invitations count.
      if (!withinLimits)
        throw new DomainError('RATE_LIMITED', 'too many invitations for now; try again in an hour');
      const inviter = users.find((user) => user.id === actor.userId);
      await revokeOpenInvitations(tx, organization.id, email);
      const token = newToken('bin_');
      const invitation = await insertInvitation(tx, {
        id: uuidv7(),
        organizationId: organization.id,
        email,
        role,
        tokenHash: tokenHash(token),
        invitedBy: actor.userId,
        expiresAt: new Date(Date.now() + INVITATION_TTL_MS),
      });
      await ctx.outbox.publish(tx, invitationCreated, invitation.id, {
        invitationId: invitation.id,
        organizationId: organization.id,
        organizationName: organization.name,
        inviterName: inviter?.displayName ?? organization.name,
        email,
        role,
        sealedToken: ctx.links.seal(token, invitation.id),
        expiresAt: invitation.expiresAt.toISOString(),
      });
      ctx.log.info({ organizationId: organization.id, invitationId: invitation.id, role }, 'member invited');
      return { invitation, errors: [] };
    }),
);

/**
 * The signed-in, verified user whose address the invitation went to joins with its role. The
 * token is spent; an unknown, spent, revoked or expired one is one answer.
 */
export const acceptInvitation = mutationRule(
  {
    input: z.object({ token: z.string().min(1).max(200) }),
    caller: requireVerifiedUser,
    invalid: (errors) => ({ organization: null, role: null, errors }),
  },
  async (
    ctx: Ctx,
    { token },
    viewer,
  ): Promise<{
    organization: OrganizationRow | null;
    role: OrganizationRole | null;
    errors: UserError[];
  }> => {
    const invalid = {
      organization: null,
      role: null,
      errors: failure('INVALID_INPUT', 'this invitation is not valid, was used, or has expired', [
        'input',
        'token',
      ]),
    };
    return ctx.db.transaction(async (tx) => {
      const invitation = await lockInvitationByToken(tx, tokenHash(token));
      if (!invitation || invitation.acceptedAt || invitation.revokedAt) return invalid;
      if (invitation.expiresAt.getTime() <= Date.now()) return invalid;
      const [user] = await usersByIds(tx, ctx.personKeys, [viewer.userId]);
      if (!user || user.email !== invitation.email) {
        throw forbidden('this invitation was sent to another email address');
      }
      const state = await lockMembers(tx, invitation.organizationId);
      if (!state) return invalid;
      requireActive(state.organization);
      if (state.members.some((member) => member.userId === user.id)) {
        return {
          organization: null,
          role: null,
          errors: failure('ALREADY_EXISTS', 'you are a member of this organization already', [
            'input',
            'token',
          ]),
        };
      }
      await insertMember(tx, {
        organizationId: invitation.organizationId,
        userId: user.id,
        role: invitation.role,
      });
      await markInvitation(tx, invitation.id, { acceptedAt: new Date(), acceptedBy: user.id });
      ctx.log.info({ organizationId: invitation.organizationId, userId: user.id }, 'invitation accepted');
      return { organization: state.organization, role: invitation.role as OrganizationRole, errors: [] };
    });
  },
);

/** ADMIN+ of the invitation's organization; anyone else gets FORBIDDEN, as for an unknown id. */
export const revokeInvitation = mutationRule(
  {
    input: z.object({ id: uuidInput }),
    caller: requireUser,
    invalid: (errors) => ({ invitation: null, errors }),
  },
  async (ctx: Ctx, { id }, viewer): Promise<{ invitation: InvitationRow | null; errors: UserError[] }> => {
    const found = await invitationById(ctx.db, id);
    // An unknown id and another organization's answer alike: ids do not probe other organizations.
    if (!found || !viewer.organizations[found.organizationId]) {
      throw forbidden('no such invitation in an organization you manage');
    }
    return withMembers(ctx, found.organizationId, 'ADMIN', async (tx, { actor }) => {
      if (found.role === 'OWNER' && actor.role !== 'OWNER')
        throw forbidden('only owners may revoke owner invitations');
      if (found.acceptedAt || found.revokedAt) {
        return {
          invitation: found,
          errors: failure('CONFLICT', 'this invitation is closed already', ['input', 'id']),
        };
      }
      return { invitation: await markInvitation(tx, found.id, { revokedAt: new Date() }), errors: [] };
    });
  },
);

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
