import type { OrganizationRole } from '@bilten/platform';
import { accessLog, myDataAccessLog } from '../domain/access-log.ts';
import { changeEmail, register, resendVerification, userById, verifyEmail } from '../domain/accounts.ts';
import { createApiKey, organizationApiKeys, revokeApiKey, setApiKeyPlan } from '../domain/api-keys.ts';
import { discardDeadLetter, listDeadLetters, replayDeadLetters } from '../domain/dead-letters.ts';
import { closureRefusalOf, deleteOrganization } from '../domain/organization-closure.ts';
import {
  acceptInvitation,
  changeMemberRole,
  createOrganization,
  inviteMember,
  leaveOrganization,
  organizationInvitations,
  organizationMembers,
  organizationWithSlug,
  removeMember,
  revokeInvitation,
  updateOrganization,
} from '../domain/organizations.ts';
import { changePassword, requestPasswordReset, resetPassword } from '../domain/passwords-reset.ts';
import {
  liveOrganizationOf,
  openSandbox,
  organizationActedOn,
  sandboxOfOrganization,
} from '../domain/sandboxes.ts';
import {
  login,
  logout,
  logoutEverywhere,
  me,
  mySessions,
  refresh,
  revokeSession,
} from '../domain/sessions.ts';
import { rotateSigningKey } from '../domain/signing-keys.ts';
import type { AccessActorKind, ApiKeyMode, Resolvers } from '../generated/graphql.ts';

export const resolvers: Resolvers = {
  Query: {
    me: (_, __, ctx) => me(ctx),
    mySessions: (_, __, ctx) => mySessions(ctx),
    user: (_, args, ctx) => userById(ctx, args),
    organization: (_, { id }, { loaders }) => loaders.organization.load(id),
    organizationBySlug: (_, args, ctx) => organizationWithSlug(ctx, args),
    deadLetters: (_, args, ctx) => listDeadLetters(ctx, args),
    accessLog: (_, args, ctx) => accessLog(ctx, args),
    myDataAccessLog: (_, args, ctx) => myDataAccessLog(ctx, args),
  },
  Mutation: {
    register: (_, { input }, ctx) => register(ctx, input),
    verifyEmail: (_, { input }, ctx) => verifyEmail(ctx, input),
    resendVerification: (_, { input }, ctx) => resendVerification(ctx, input),
    requestPasswordReset: (_, { input }, ctx) => requestPasswordReset(ctx, input),
    resetPassword: (_, { input }, ctx) => resetPassword(ctx, input),
    changePassword: (_, { input }, ctx) => changePassword(ctx, input),
    changeEmail: (_, { input }, ctx) => changeEmail(ctx, input),
    login: (_, { input }, ctx) => login(ctx, input),
    refreshToken: (_, { input }, ctx) => refresh(ctx, input),
    logout: (_, { input }, ctx) => logout(ctx, input),
    logoutEverywhere: (_, __, ctx) => logoutEverywhere(ctx),
    revokeSession: (_, { input }, ctx) => revokeSession(ctx, input),
    rotateSigningKey: (_, { input }, ctx) => rotateSigningKey(ctx, input),
    createOrganization: (_, { input }, ctx) => createOrganization(ctx, input),
    updateOrganization: (_, { input }, ctx) => updateOrganization(ctx, input),
    deleteOrganization: (_, { input }, ctx) => deleteOrganization(ctx, input),
    inviteMember: (_, { input }, ctx) => inviteMember(ctx, input),
    acceptInvitation: (_, { input }, ctx) => acceptInvitation(ctx, input),
    revokeInvitation: (_, { input }, ctx) => revokeInvitation(ctx, input),
    changeMemberRole: (_, { input }, ctx) => changeMemberRole(ctx, input),
    removeMember: (_, { input }, ctx) => removeMember(ctx, input),
    leaveOrganization: (_, { input }, ctx) => leaveOrganization(ctx, input),
    createApiKey: (_, { input }, ctx) => createApiKey(ctx, input),
    revokeApiKey: (_, { input }, ctx) => revokeApiKey(ctx, input),
    openSandbox: (_, { input }, ctx) => openSandbox(ctx, input),
    setApiKeyPlan: (_, { input }, ctx) => setApiKeyPlan(ctx, input),
    replayDeadLetters: (_, { input }, ctx) => replayDeadLetters(ctx, input),
    discardDeadLetter: (_, { input }, ctx) => discardDeadLetter(ctx, input),
  },
  AccessLogEntry: {
    actorKind: (entry) => entry.actorKind.toUpperCase() as AccessActorKind,
    organization: (entry, _, { loaders }) =>
      entry.organizationId ? loaders.organization.load(entry.organizationId) : null,
  },
  DeadLetter: {
    consumer: (letter) => letter.durableName,
    eventId: (letter) => letter.eventId ?? null,
    type: (letter) => letter.type ?? null,
    failedAt: (letter) => new Date(letter.failedAt),
    payload: (letter) => letter.data,
  },
  User: {
    __resolveReference: ({ id }, ctx) => userById(ctx, { id }),
    emailVerified: (user) => user.emailVerifiedAt !== null,
  },
  Organization: {
    __resolveReference: ({ id }, { loaders }) => loaders.organization.load(id),
    members: (organization, _, ctx) => organizationMembers(ctx, organization),
    invitations: (organization, _, ctx) => organizationInvitations(ctx, organization),
    apiKeys: (organization, _, ctx) => organizationApiKeys(ctx, organization),
    closureRefusal: (organization, _, ctx) => closureRefusalOf(ctx, organization),
    sandbox: (organization, _, ctx) => sandboxOfOrganization(ctx, organization),
    sandboxOf: (organization, _, ctx) => liveOrganizationOf(ctx, organization),
  },
  ApiKey: {
    mode: (key) => key.mode as ApiKeyMode,
    actsOn: (key, _, ctx) => organizationActedOn(ctx, key),
  },
  OrganizationMember: {
    user: async (member, _, { loaders }) => (await loaders.user.load(member.userId))!,
    role: (member) => member.role as OrganizationRole,
    joinedAt: (member) => member.createdAt,
  },
  OrganizationInvitation: {
    role: (invitation) => invitation.role as OrganizationRole,
    invitedBy: (invitation, _, { loaders }) =>
      invitation.invitedBy ? loaders.user.load(invitation.invitedBy) : null,
  },
};
