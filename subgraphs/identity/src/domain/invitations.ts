import {
  DomainError,
  emailAddress,
  mutationRule,
  type OrganizationRole,
  requireOrgRole,
  requireUser,
  requireVerifiedUser,
  type UserError,
  uuidInput,
} from '@bilten/platform';
import { v7 as uuidv7 } from 'uuid';
import { z } from 'zod';
import { usersByIds } from '../db/accounts.ts';
import {
  insertInvitation,
  insertMember,
  invitationById,
  lockInvitationByToken,
  lockMembers,
  markInvitation,
  openInvitationsOf,
  revokeOpenInvitations,
} from '../db/organizations.ts';
import type { InvitationRow, OrganizationRow } from '../db/schema.ts';
import { invitationCreated } from '../events.ts';
import { type Ctx, failure, forbidden, requireActive, roleInput, withMembers } from './organizations.ts';
import { newToken, tokenHash } from './secrets.ts';
import { allow } from './throttles.ts';

// Invitations to an organization's team (split from organizations.ts, whose rules they share).

const INVITATION_TTL_MS = 7 * 24 * 60 * 60 * 1000;
/**
 * Invitations are mail that an organization's name and a stranger's address decide: one address
 * gets at most 3 an hour from all organizations, one organization sends at most 50 an hour.
 */
const INVITATIONS_PER_ADDRESS = { limit: 3, windowMs: 60 * 60_000 };
const INVITATIONS_PER_ORGANIZATION = { limit: 50, windowMs: 60 * 60_000 };

/** The open invitations, for ADMINs and OWNERs. */
export function organizationInvitations(ctx: Ctx, organization: OrganizationRow) {
  requireOrgRole(ctx.viewer, organization.id, 'ADMIN');
  return openInvitationsOf(ctx.db, ctx, organization.id);
}

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
      await revokeOpenInvitations(tx, organization.id, { keys: ctx.personKeys, email });
      const token = newToken('bin_');
      const invitation = await insertInvitation(tx, ctx, {
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
      if (!user || !ctx.personKeys.indexes(user.email, 'email').includes(invitation.emailIndex ?? '')) {
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
      await markInvitation(tx, ctx, invitation.id, { acceptedAt: new Date(), acceptedBy: user.id });
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
    const found = await invitationById(ctx.db, ctx, id);
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
      return { invitation: await markInvitation(tx, ctx, found.id, { revokedAt: new Date() }), errors: [] };
    });
  },
);
