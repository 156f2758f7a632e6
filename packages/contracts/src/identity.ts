import { z } from 'zod';
import { defineEvent } from './define.ts';

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
