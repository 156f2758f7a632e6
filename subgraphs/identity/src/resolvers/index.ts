import type { OrganizationRole } from '@bilten/platform';
import { accessLog, myDataAccessLog } from '../domain/access-log.ts';
import { changeEmail, register, resendVerification, userById, verifyEmail } from '../domain/accounts.ts';
import { createApiKey, organizationApiKeys, revokeApiKey, setApiKeyPlan } from '../domain/api-keys.ts';
import {
  grantConsent,
  myConsentHistory,
  myConsents,
  organizationIdOf,
  withdrawConsent,
} from '../domain/consents.ts';
import { discardDeadLetter, listDeadLetters, replayDeadLetters } from '../domain/dead-letters.ts';
import { containIncident, notifyAffectedUsers } from '../domain/incident-containment.ts';
import {
  affectedUserCount,
  affectedUsersOf,
  breachRegister,
  incident,
  incidents,
  regulatorClock,
  timelineOfIncident,
} from '../domain/incident-queries.ts';
import {
  addAffectedUsers,
  addIncidentNote,
  advanceIncident,
  markRegulatorNotified,
  openIncident,
  updateIncidentRegister,
} from '../domain/incidents.ts';
import {
  acceptInvitation,
  inviteMember,
  organizationInvitations,
  revokeInvitation,
} from '../domain/invitations.ts';
import { closureRefusalOf, deleteOrganization } from '../domain/organization-closure.ts';
import {
  changeMemberRole,
  createOrganization,
  leaveOrganization,
  organizationMembers,
  organizationWithSlug,
  removeMember,
  updateOrganization,
} from '../domain/organizations.ts';
import { changePassword, requestPasswordReset, resetPassword } from '../domain/passwords-reset.ts';
import {
  createDataExportLink,
  myPrivacyRequests,
  privacyRequestSteps,
  privacyRequests,
  requestAccountDeletion,
  requestDataExport,
} from '../domain/privacy-requests.ts';
import {
  liveOrganizationOf,
  openSandbox,
  organizationActedOn,
  sandboxOfOrganization,
} from '../domain/sandboxes.ts';
import { securityAlerts, securityEvents } from '../domain/security-monitoring.ts';
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
import { estimatedCost, type PricedUsage, usageLines, usageReport } from '../domain/usage.ts';
import type {
  AccessActorKind,
  ApiKeyMode,
  IncidentTimelineKind,
  Resolvers,
  SecurityEventType,
  UsageMetric,
} from '../generated/graphql.ts';

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
    securityEvents: (_, args, ctx) => securityEvents(ctx, args),
    securityAlerts: (_, args, ctx) => securityAlerts(ctx, args),
    myPrivacyRequests: (_, args, ctx) => myPrivacyRequests(ctx, args),
    privacyRequests: (_, args, ctx) => privacyRequests(ctx, args),
    incident: (_, args, ctx) => incident(ctx, args),
    incidents: (_, args, ctx) => incidents(ctx, args),
    breachRegister: (_, args, ctx) => breachRegister(ctx, args),
    myConsents: (_, __, ctx) => myConsents(ctx),
    myConsentHistory: (_, args, ctx) => myConsentHistory(ctx, args),
    usageReport: (_, args, ctx) => usageReport(ctx, args),
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
    requestDataExport: (_, __, ctx) => requestDataExport(ctx),
    createDataExportLink: (_, { input }, ctx) => createDataExportLink(ctx, input),
    requestAccountDeletion: (_, { input }, ctx) => requestAccountDeletion(ctx, input),
    openIncident: (_, { input }, ctx) => openIncident(ctx, input),
    advanceIncident: (_, { input }, ctx) => advanceIncident(ctx, input),
    addIncidentNote: (_, { input }, ctx) => addIncidentNote(ctx, input),
    addAffectedUsers: (_, { input }, ctx) => addAffectedUsers(ctx, input),
    updateIncidentRegister: (_, { input }, ctx) => updateIncidentRegister(ctx, input),
    markRegulatorNotified: (_, { input }, ctx) => markRegulatorNotified(ctx, input),
    containIncident: (_, { input }, ctx) => containIncident(ctx, input),
    notifyAffectedUsers: (_, { input }, ctx) => notifyAffectedUsers(ctx, input),
    grantConsent: (_, { input }, ctx) => grantConsent(ctx, input),
    withdrawConsent: (_, { input }, ctx) => withdrawConsent(ctx, input),
  },
  PrivacyRequest: {
    steps: (request, _, ctx) => privacyRequestSteps(ctx, request),
  },
  AccessLogEntry: {
    actorKind: (entry) => entry.actorKind.toUpperCase() as AccessActorKind,
    organization: (entry, _, { loaders }) =>
      entry.organizationId ? loaders.organization.load(entry.organizationId) : null,
  },
  Consent: {
    organizationId: organizationIdOf,
    organization: (consent, _, { loaders }) =>
      consent.scope ? loaders.organization.load(consent.scope) : null,
  },
  ConsentChange: {
    organizationId: organizationIdOf,
  },
  Incident: {
    regulatorOverdue: (incident) => regulatorClock(incident).overdue,
    regulatorTimeLeftSeconds: (incident) => regulatorClock(incident).timeLeftSeconds,
    affectedUserCount: (incident, _, ctx) => affectedUserCount(ctx, incident),
    affectedUsers: (incident, args, ctx) => affectedUsersOf(ctx, incident, args),
    timeline: (incident, _, ctx) => timelineOfIncident(ctx, incident),
  },
  SecurityEvent: {
    type: (event) => event.type.toUpperCase() as SecurityEventType,
    details: (event) => JSON.stringify(event.details),
  },
  SecurityAlert: {
    details: (alert) => JSON.stringify(alert.details),
  },
  IncidentTimelineEntry: {
    kind: (entry) => entry.kind as IncidentTimelineKind,
    details: (entry) => JSON.stringify(entry.details),
  },
  IncidentAffectedUser: {
    user: (affected, _, { loaders }) => loaders.user.load(affected.userId),
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
  UsageReport: {
    // The root field's check is never trusted: a reference is checked again (domain/usage.ts).
    __resolveReference: async (report, ctx) => ({ ...report, ...(await usageReport(ctx, report)) }),
    estimatedCost: (report, _, ctx) => estimatedCost(ctx, ctx.usagePrices, report as PricedUsage),
    lines: (report, _, ctx) =>
      usageLines(ctx, ctx.usagePrices, report as PricedUsage).map((line) => ({
        ...line,
        metric: line.metric.toUpperCase() as UsageMetric,
      })),
  },
  OrganizationInvitation: {
    role: (invitation) => invitation.role as OrganizationRole,
    invitedBy: (invitation, _, { loaders }) =>
      invitation.invitedBy ? loaders.user.load(invitation.invitedBy) : null,
  },
};
