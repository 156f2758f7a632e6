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

/** Published when an organization is created; branding makes its default brand kit. */
export const organizationCreated = defineEvent({
  type: 'bilten.identity.organization.created',
  aggregateType: 'organization',
  payload: z.object({ organizationId: z.uuid(), name: z.string(), slug: z.string() }),
});

const verificationPayload = z.object({
  userId: z.uuid(),
  email: emailAddress,
  displayName: z.string(),
  /** The plain single-use token for the link; identity itself keeps only its hash. */
  verificationToken: z.string().min(1),
  expiresAt: z.iso.datetime({ offset: true }),
});

/** A new account: messaging sends the verification email. */
export const userRegistered = defineEvent({
  type: 'bilten.identity.user.registered',
  aggregateType: 'user',
  payload: verificationPayload,
});

/** Another verification email (resend, or a changed address: then `email` is the new one). */
export const emailVerificationRequested = defineEvent({
  type: 'bilten.identity.email_verification.requested',
  aggregateType: 'user',
  payload: verificationPayload,
});

/** A password reset link to send. */
export const passwordResetRequested = defineEvent({
  type: 'bilten.identity.password_reset.requested',
  aggregateType: 'user',
  payload: z.object({
    userId: z.uuid(),
    email: emailAddress,
    displayName: z.string(),
    resetToken: z.string().min(1),
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
  aggregateType: 'organization_invitation',
  payload: z.object({
    invitationId: z.uuid(),
    organizationId: z.uuid(),
    organizationName: z.string(),
    inviterName: z.string(),
    email: emailAddress,
    role: organizationRole,
    /** The plain single-use token for the link; identity keeps only its hash. */
    token: z.string().min(1),
    expiresAt: z.iso.datetime({ offset: true }),
  }),
});
