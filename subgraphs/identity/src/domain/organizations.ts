import {
  type Database,
  DomainError,
  displayText,
  emailAddress,
  ORGANIZATION_ROLES,
  type OrganizationRole,
  type Outbox,
  requireOrgRole,
  requireUser,
  requireVerifiedUser,
  slug,
  type UserError,
  userErrorsFrom,
  uuidInput,
  type Viewer,
} from '@bilten/platform';
import { v7 as uuidv7 } from 'uuid';
import { z } from 'zod';
import type { Context } from '../context.ts';
import {
  deleteMember,
  insertInvitation,
  insertMember,
  insertOrganization,
  invitationById,
  lockInvitationByToken,
  lockMembers,
  markInvitation,
  revokeOpenInvitations,
  setMemberRole,
  usersByIds,
} from '../db/queries.ts';
import type { InvitationRow, MemberRow, OrganizationRow } from '../db/schema.ts';
import { invitationCreated, organizationCreated } from '../events.ts';
import { newToken, tokenHash } from './secrets.ts';

const INVITATION_TTL_MS = 7 * 24 * 60 * 60 * 1000;

export type Ctx = Pick<Context, 'db' | 'outbox' | 'log' | 'viewer'>;
type Tx = Parameters<Parameters<Database['transaction']>[0]>[0];

const createOrganizationInput = z.object({ name: displayText(100), slug });

/** The creator becomes its OWNER; their next access token (after a refresh) carries the role. */
export async function createOrganization(
  viewer: Viewer,
  db: Database,
  outbox: Outbox,
  input: unknown,
): Promise<{ organization: OrganizationRow | null; errors: UserError[] }> {
  const creator = requireVerifiedUser(viewer);
  const parsed = createOrganizationInput.safeParse(input);
  if (!parsed.success) return { organization: null, errors: userErrorsFrom(parsed.error) };
  const organization = await db.transaction(async (tx) => {
    const created = await insertOrganization(tx, { id: uuidv7(), ...parsed.data });
    if (created) {
      await insertMember(tx, { organizationId: created.id, userId: creator.userId, role: 'OWNER' });
      await outbox.publish(tx, organizationCreated, created.id, {
        organizationId: created.id,
        name: created.name,
        slug: created.slug,
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
}

const rank = (role: string) => ORGANIZATION_ROLES.indexOf(role as OrganizationRole);
const forbidden = (message: string) => new DomainError('FORBIDDEN', message);
const failure = (code: UserError['code'], message: string, field?: string[]): UserError[] => [
  { code, message, ...(field ? { field } : {}) },
];

/**
 * Runs `change` with the organization and its members locked, after checking the caller's role
 * from the database too: the token's roles may be up to 15 minutes old, a demotion is not.
 * The token check comes first, so another organization's ids never reach the database.
 */
export async function withMembers<T>(
  ctx: Ctx,
  organizationId: string,
  minimum: OrganizationRole,
  change: (
    tx: Tx,
    state: { organization: OrganizationRow; members: MemberRow[]; actor: MemberRow },
  ) => Promise<T>,
): Promise<T> {
  const viewer = requireOrgRole(ctx.viewer, organizationId, minimum);
  return ctx.db.transaction(async (tx) => {
    const state = await lockMembers(tx, organizationId);
    const actor = state?.members.find((member) => member.userId === viewer.userId);
    if (!state || !actor || rank(actor.role) < rank(minimum)) {
      throw forbidden(`needs the ${minimum} role in this organization`);
    }
    return change(tx, { ...state, actor });
  });
}

const roleInput = z.enum(ORGANIZATION_ROLES);

const inviteInput = z.object({ organizationId: uuidInput, email: emailAddress, role: roleInput });

/**
 * ADMINs and OWNERs invite by email; only an OWNER may invite another OWNER. A new invitation
 * of the same address replaces the open one, so only the latest link works.
 */
export async function inviteMember(
  ctx: Ctx,
  input: unknown,
): Promise<{ invitation: InvitationRow | null; errors: UserError[] }> {
  requireUser(ctx.viewer);
  const parsed = inviteInput.safeParse(input);
  if (!parsed.success) return { invitation: null, errors: userErrorsFrom(parsed.error) };
  const { email, role } = parsed.data;
  return withMembers(
    ctx,
    parsed.data.organizationId,
    'ADMIN',
    async (tx, { organization, members, actor }) => {
      if (role === 'OWNER' && actor.role !== 'OWNER') throw forbidden('only owners may invite owners');
      const memberIds = members.map((member) => member.userId);
      const users = memberIds.length ? await usersByIds(tx, memberIds) : [];
      if (users.some((user) => user.email === email)) {
        return {
          invitation: null,
          errors: failure('ALREADY_EXISTS', 'this address belongs to a member already', ['input', 'email']),
        };
      }
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
        token,
        expiresAt: invitation.expiresAt.toISOString(),
      });
      ctx.log.info({ organizationId: organization.id, invitationId: invitation.id, role }, 'member invited');
      return { invitation, errors: [] };
    },
  );
}

const acceptInput = z.object({ token: z.string().min(1).max(200) });

/**
 * The signed-in, verified user whose address the invitation went to joins with its role. The
 * token is spent; an unknown, spent, revoked or expired one is one answer.
 */
export async function acceptInvitation(
  ctx: Ctx,
  input: unknown,
): Promise<{ organization: OrganizationRow | null; role: OrganizationRole | null; errors: UserError[] }> {
  const viewer = requireVerifiedUser(ctx.viewer);
  const parsed = acceptInput.safeParse(input);
  if (!parsed.success) return { organization: null, role: null, errors: userErrorsFrom(parsed.error) };
  const invalid = {
    organization: null,
    role: null,
    errors: failure('INVALID_INPUT', 'this invitation is not valid, was used, or has expired', [
      'input',
      'token',
    ]),
  };
  return ctx.db.transaction(async (tx) => {
    const invitation = await lockInvitationByToken(tx, tokenHash(parsed.data.token));
    if (!invitation || invitation.acceptedAt || invitation.revokedAt) return invalid;
    if (invitation.expiresAt.getTime() <= Date.now()) return invalid;
    const [user] = await usersByIds(tx, [viewer.userId]);
    if (!user || user.email !== invitation.email) {
      throw forbidden('this invitation was sent to another email address');
    }
    const state = await lockMembers(tx, invitation.organizationId);
    if (!state) return invalid;
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
}

const revokeInvitationInput = z.object({ id: uuidInput });

/** ADMIN+ of the invitation's organization; anyone else gets FORBIDDEN, as for an unknown id. */
export async function revokeInvitation(
  ctx: Ctx,
  input: unknown,
): Promise<{ invitation: InvitationRow | null; errors: UserError[] }> {
  const viewer = requireUser(ctx.viewer);
  const parsed = revokeInvitationInput.safeParse(input);
  if (!parsed.success) return { invitation: null, errors: userErrorsFrom(parsed.error) };
  const found = await invitationById(ctx.db, parsed.data.id);
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
}

const memberInput = z.object({ organizationId: uuidInput, userId: uuidInput });
const changeRoleInput = memberInput.extend({ role: roleInput });

const owners = (members: MemberRow[]) => members.filter((member) => member.role === 'OWNER').length;
const LAST_OWNER = 'an organization keeps at least one owner';

/**
 * ADMIN+ manage STAFF and ADMIN; only OWNERs promote to, demote or remove an OWNER; the last
 * OWNER stays. The new role is in the member's next access token (at the latest after 15 minutes,
 * at once after a refresh).
 */
export async function changeMemberRole(
  ctx: Ctx,
  input: unknown,
): Promise<{ member: MemberRow | null; errors: UserError[] }> {
  requireUser(ctx.viewer);
  const parsed = changeRoleInput.safeParse(input);
  if (!parsed.success) return { member: null, errors: userErrorsFrom(parsed.error) };
  const { organizationId, userId, role } = parsed.data;
  return withMembers(ctx, organizationId, 'ADMIN', async (tx, { members, actor }) => {
    const target = members.find((member) => member.userId === userId);
    if (!target) return { member: null, errors: failure('NOT_FOUND', 'no such member', ['input', 'userId']) };
    if ((target.role === 'OWNER' || role === 'OWNER') && actor.role !== 'OWNER') {
      throw forbidden('only owners may change who is an owner');
    }
    if (target.role === 'OWNER' && role !== 'OWNER' && owners(members) === 1) {
      return { member: null, errors: failure('CONFLICT', LAST_OWNER, ['input', 'role']) };
    }
    const member = await setMemberRole(tx, organizationId, userId, role);
    ctx.log.info({ organizationId, userId, role, by: actor.userId }, 'member role changed');
    return { member, errors: [] };
  });
}

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
    ctx.log.info({ organizationId, userId, by: actor.userId }, 'member removed');
    return { removedUserId: userId, errors: [] };
  });
}

/** ADMIN+ remove STAFF and ADMINs, OWNERs anyone but the last owner. */
export async function removeMember(ctx: Ctx, input: unknown) {
  requireUser(ctx.viewer);
  const parsed = memberInput.safeParse(input);
  if (!parsed.success) return { removedUserId: null, errors: userErrorsFrom(parsed.error) };
  return remove(ctx, parsed.data.organizationId, parsed.data.userId, 'ADMIN');
}

/** Any member may leave, except the last owner. */
export async function leaveOrganization(ctx: Ctx, input: unknown) {
  const viewer = requireUser(ctx.viewer);
  const parsed = z.object({ organizationId: uuidInput }).safeParse(input);
  if (!parsed.success) return { removedUserId: null, errors: userErrorsFrom(parsed.error) };
  return remove(ctx, parsed.data.organizationId, viewer.userId, 'STAFF');
}
