import { z } from 'zod';
import { defineEvent, usageJumpedPayload } from './define.ts';

/**
 * Identity normalizes addresses before it publishes them; consumers send mail to them, so the
 * contract also keeps whitespace (and so header breaks) out of them.
 */
const emailAddress = z
  .string()
  .max(320)
  .regex(/^[^\s@]+@[^\s@]+$/, 'must be an email address');

const organizationRole = z.enum(['OWNER', 'ADMIN', 'STAFF']);

/**
 * Published when an organization is created: branding makes its default brand kit; billing keeps
 * its name and slug (the seller on receipts) and whether it is a test-mode organization (Sandbox
 * payments only).
 */
export const organizationCreated = defineEvent({
  type: 'bilten.identity.organization.created',
  // 2: testMode (issue 14). 3: sandboxOf (issue 16).
  version: 3,
  aggregateType: 'organization',
  payload: z.object({
    organizationId: z.uuid(),
    name: z.string(),
    slug: z.string(),
    testMode: z.boolean(),
    /** For an organization's sandbox (its test environment): the live organization it belongs to. */
    sandboxOf: z.uuid().nullable().default(null),
  }),
});

/** An organization's name or slug changed: billing's receipts name the seller as it is now. */
export const organizationUpdated = defineEvent({
  type: 'bilten.identity.organization.updated',
  aggregateType: 'organization',
  payload: z.object({ organizationId: z.uuid(), name: z.string(), slug: z.string() }),
});

const verificationPayload = z.object({
  userId: z.uuid(),
  email: emailAddress,
  displayName: z.string(),
  /** The link's single-use token sealed for `userId` (see linkTokenSeal); identity keeps only its hash. */
  sealedToken: z.string().min(1),
  expiresAt: z.iso.datetime({ offset: true }),
});

/** A new account: messaging sends the verification email. */
export const userRegistered = defineEvent({
  type: 'bilten.identity.user.registered',
  // 2: the token travels sealed (issue 12).
  version: 2,
  aggregateType: 'user',
  payload: verificationPayload,
});

/** Another verification email (resend, or a changed address: then `email` is the new one). */
export const emailVerificationRequested = defineEvent({
  type: 'bilten.identity.email_verification.requested',
  // 2: the token travels sealed (issue 12).
  version: 2,
  aggregateType: 'user',
  payload: verificationPayload,
});

/** A password reset link to send. */
export const passwordResetRequested = defineEvent({
  type: 'bilten.identity.password_reset.requested',
  // 2: the token travels sealed (issue 12).
  version: 2,
  aggregateType: 'user',
  payload: z.object({
    userId: z.uuid(),
    email: emailAddress,
    displayName: z.string(),
    /** Sealed for `userId`, like the verification token. */
    sealedToken: z.string().min(1),
    expiresAt: z.iso.datetime({ offset: true }),
  }),
});

/** Too many failed sign-ins: an address (`email`, known account or not) or a client IP is locked. */
export const loginLocked = defineEvent({
  type: 'bilten.identity.security.login_locked',
  aggregateType: 'login_throttle',
  payload: z.object({
    scope: z.enum(['email', 'ip']),
    /** The account behind the address, when there is one (to warn its owner). */
    userId: z.uuid().nullable(),
    ip: z.string(),
    userAgent: z.string().nullable(),
    lockedUntil: z.iso.datetime(),
    lockouts: z.number().int(),
  }),
});

/** Someone was invited to an organization: messaging mails them the link. */
export const invitationCreated = defineEvent({
  type: 'bilten.identity.invitation.created',
  // 2: the token travels sealed (issue 12).
  version: 2,
  aggregateType: 'organization_invitation',
  payload: z.object({
    invitationId: z.uuid(),
    organizationId: z.uuid(),
    organizationName: z.string(),
    inviterName: z.string(),
    email: emailAddress,
    role: organizationRole,
    /** The link's single-use token sealed for `invitationId`; identity keeps only its hash. */
    sealedToken: z.string().min(1),
    expiresAt: z.iso.datetime({ offset: true }),
  }),
});

/**
 * An OWNER asked to close the organization: catalog cancels its upcoming events, or refuses while
 * some have sold tickets. `closureId` names this request, so an answer to an earlier one is ignored.
 */
export const organizationClosureRequested = defineEvent({
  type: 'bilten.identity.organization.closure_requested',
  aggregateType: 'organization',
  payload: z.object({ organizationId: z.uuid(), closureId: z.uuid(), requestedBy: z.uuid() }),
});

/** The organization is closed: its events are cancelled, its members, invitations and API keys gone. */
export const organizationClosed = defineEvent({
  type: 'bilten.identity.organization.closed',
  aggregateType: 'organization',
  payload: z.object({ organizationId: z.uuid(), closureId: z.uuid() }),
});

/**
 * Sign-in sessions ended (logout, logoutEverywhere, revokeSession, a password change or reset, a
 * reused refresh token): every service refuses access tokens naming them from now on.
 */
export const sessionsRevoked = defineEvent({
  type: 'bilten.identity.user.sessions_revoked',
  aggregateType: 'user',
  payload: z.object({ userId: z.uuid(), sessionIds: z.array(z.uuid()).min(1), reason: z.string() }),
});

/** An API key was revoked: every service refuses the tokens the gateway got for it. */
export const apiKeyRevoked = defineEvent({
  type: 'bilten.identity.api_key.revoked',
  aggregateType: 'api_key',
  payload: z.object({ apiKeyId: z.uuid(), organizationId: z.uuid() }),
});

/**
 * `resendVerification`, `requestPasswordReset` and `register` with a taken address record only
 * one of these (keyed by the address's SHA-256), whoever owns the address: identity's own
 * consumers look it up afterwards, so neither the answer nor its time tells whether it has an
 * account (issue 12).
 */
export const emailVerificationRequestedForAddress = defineEvent({
  type: 'bilten.identity.email_verification.requested_for_address',
  aggregateType: 'email_address',
  payload: z.object({ email: emailAddress }),
});

/** See above: a password reset for the account at `email`, if there is one. */
export const passwordResetRequestedForAddress = defineEvent({
  type: 'bilten.identity.password_reset.requested_for_address',
  aggregateType: 'email_address',
  payload: z.object({ email: emailAddress }),
});

/** See above: someone signed up with `email`, which had an account already. */
export const registrationForTakenAddress = defineEvent({
  type: 'bilten.identity.registration.address_taken',
  aggregateType: 'email_address',
  payload: z.object({ email: emailAddress }),
});

/** `changeEmail`: identity mails `newEmail` a link, or tells its owner when another account has it. */
export const emailChangeRequested = defineEvent({
  type: 'bilten.identity.email_change.requested',
  aggregateType: 'user',
  payload: z.object({ userId: z.uuid(), newEmail: emailAddress }),
});

/**
 * An address change was confirmed (`verifyEmail` with a change token): the account has `email`
 * now. Messaging's recipient book follows it.
 */
export const userEmailChanged = defineEvent({
  type: 'bilten.identity.user.email_changed',
  aggregateType: 'user',
  payload: z.object({ userId: z.uuid(), email: emailAddress }),
});

/**
 * Someone tried to sign up with the address of `userId`, or to move another account to it: messaging
 * tells the owner (if it was them, they sign in or reset their password).
 */
export const addressClaimAttempted = defineEvent({
  type: 'bilten.identity.user.address_claim_attempted',
  aggregateType: 'user',
  payload: z.object({
    userId: z.uuid(),
    email: emailAddress,
    displayName: z.string(),
    attempt: z.enum(['sign_up', 'email_change']),
  }),
});

/**
 * The head of the access log's hash chain (issue 18), published when it moved: a copy outside the
 * database, so a rewritten chain no longer matches what was anchored (`npm run audit:verify --
 * --anchor <rowHash>`).
 */
export const auditChainAnchored = defineEvent({
  type: 'bilten.identity.audit.anchor',
  aggregateType: 'access_log',
  payload: z.object({
    seq: z.number().int().min(1),
    rowHash: z.string().regex(/^[0-9a-f]{64}$/),
    at: z.iso.datetime({ offset: true }),
  }),
});

const CONSENT_PURPOSES = ['MARKETING_EMAIL', 'MARKETING_PUSH', 'ANALYTICS', 'ORGANIZER_SHARING'] as const;

/**
 * A user granted or withdrew consent for a purpose (issue 18): messaging's marketing and orders'
 * sharing of attendee data with organizers follow their copy. `organizationId` scopes
 * ORGANIZER_SHARING to one organizer (null: every purpose that is not scoped).
 */
export const consentChanged = defineEvent({
  type: 'bilten.identity.consent.changed',
  aggregateType: 'user',
  payload: z.object({
    userId: z.uuid(),
    purpose: z.enum(CONSENT_PURPOSES),
    organizationId: z.uuid().nullable(),
    granted: z.boolean(),
    textVersion: z.string().min(1).max(64),
    changedAt: z.iso.datetime({ offset: true }),
  }),
});

/** Whom messaging writes to: identity knows the addresses (platform admins, affected users). */
const mailRecipients = z
  .array(z.object({ userId: z.uuid(), email: emailAddress, displayName: z.string() }))
  .max(200);

/** A detection rule fired (issue 18): messaging alerts the platform admins in-app and by email. */
export const securityAlertRaised = defineEvent({
  type: 'bilten.identity.security_alert.raised',
  aggregateType: 'security_alert',
  payload: z.object({
    alertId: z.uuid(),
    rule: z.string().min(1).max(64),
    severity: z.enum(['LOW', 'MEDIUM', 'HIGH', 'CRITICAL']),
    summary: z.string().min(1).max(500),
    raisedAt: z.iso.datetime({ offset: true }),
    incidentId: z.uuid().nullable(),
    recipients: mailRecipients,
  }),
});

/**
 * A personal-data breach to tell its affected users about (GDPR article 34): messaging sends each
 * recipient the breach notice by email and in-app. Large incidents publish several, 200 at most each.
 */
export const breachNotificationRequested = defineEvent({
  type: 'bilten.identity.breach_notification.requested',
  aggregateType: 'incident',
  payload: z.object({
    incidentId: z.uuid(),
    /** What happened, in plain words, as the incident's notice says it. */
    title: z.string().min(1).max(200),
    description: z.string().min(1).max(4000),
    dataCategories: z.array(z.string().min(1).max(100)).max(30),
    measuresTaken: z.string().max(4000),
    contact: z.string().min(1).max(320),
    recipients: mailRecipients.min(1),
  }),
});

/**
 * A user asked for a copy of their data (article 15): every subgraph answers with its
 * `personalDataExported`, sealed for `publicKey` (a one-time X25519 key, SPKI PEM) whose private
 * half only identity holds, until the archive is assembled.
 */
export const dataExportRequested = defineEvent({
  type: 'bilten.identity.data_export.requested',
  aggregateType: 'privacy_request',
  payload: z.object({
    requestId: z.uuid(),
    userId: z.uuid(),
    publicKey: z.string().min(1).max(4000),
    /**
     * The account's address when it is verified: subgraphs that keep guest records (orders bought
     * without signing in) export those under it too. Absent while unverified: an unproven address
     * must not open someone else's guest orders.
     */
    verifiedEmail: emailAddress.optional(),
  }),
});

/**
 * A user asked to be erased (article 17): every subgraph erases or anonymizes what it holds about
 * `userId` (and guest records under `email`) and answers with its `personalDataErased`. Identity
 * purges this event from its outbox when the saga completes.
 */
export const accountErasureRequested = defineEvent({
  type: 'bilten.identity.account_erasure.requested',
  aggregateType: 'privacy_request',
  payload: z.object({ requestId: z.uuid(), userId: z.uuid(), email: emailAddress }),
});

/**
 * A metering subgraph saw an organization's usage jump (its `usageJumped`, issue 19): identity
 * names the platform admins, messaging tells them in-app. One per (organization, metric, hour).
 */
export const usageAlertRaised = defineEvent({
  type: 'bilten.identity.usage_alert.raised',
  aggregateType: 'organization',
  payload: usageJumpedPayload.extend({ recipients: mailRecipients }),
});

/** An organization's usage of a metric identity meters jumped in one hour (issue 19): messaging tells the platform admins. */
export const usageJumped = defineEvent({
  type: 'bilten.identity.usage.jumped',
  aggregateType: 'organization',
  payload: usageJumpedPayload,
});

/**
 * An Alertmanager alert fired or resolved (issue 19, identity's POST /internal/alertmanager):
 * messaging tells the platform admins in-app. One per (fingerprint, startsAt, status), so
 * Alertmanager's repeat notifications publish nothing new.
 */
export const platformAlertRaised = defineEvent({
  type: 'bilten.identity.platform_alert.raised',
  aggregateType: 'platform_alert',
  payload: z.object({
    alertname: z.string().min(1).max(200),
    status: z.enum(['firing', 'resolved']),
    /** The alert's `severity` label (critical, warning, ...), null when it has none. */
    severity: z.string().min(1).max(64).nullable(),
    /** The alert's `service` label, null when it concerns no one service. */
    service: z.string().min(1).max(100).nullable(),
    summary: z.string().min(1).max(1000),
    /** The alert's `runbook` (or `runbook_url`) annotation: a URL or a path in the repository. */
    runbook: z.string().min(1).max(500).nullable(),
    startsAt: z.iso.datetime({ offset: true }),
    /** Alertmanager's fingerprint of the alert's labels. */
    fingerprint: z.string().min(1).max(64),
    recipients: mailRecipients,
  }),
});
