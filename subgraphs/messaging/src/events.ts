import { defineEvent } from '@bilten/platform';
import { z } from 'zod';

// Consumed from identity: messaging's own view of the contract (no imports across subgraphs).

/** Identity normalized it already; this only keeps whitespace (and so header breaks) out of the To line. */
const emailAddress = z
  .string()
  .max(320)
  .regex(/^[^\s@]+@[^\s@]+$/, 'must be an email address');

const emailVerificationPayload = z.object({
  userId: z.uuid(),
  email: emailAddress,
  displayName: z.string(),
  verificationToken: z.string().min(1),
  expiresAt: z.iso.datetime({ offset: true }),
});

/** A new account: its address must be confirmed. */
export const userRegistered = defineEvent({
  type: 'bilten.identity.user.registered',
  aggregateType: 'user',
  payload: emailVerificationPayload,
});

/** A resend, or a changed address to confirm. */
export const emailVerificationRequested = defineEvent({
  type: 'bilten.identity.email_verification.requested',
  aggregateType: 'user',
  payload: emailVerificationPayload,
});

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

/** Someone was invited to join an organization's team. */
export const invitationCreated = defineEvent({
  type: 'bilten.identity.invitation.created',
  aggregateType: 'organization_invitation',
  payload: z.object({
    invitationId: z.uuid(),
    organizationId: z.uuid(),
    organizationName: z.string(),
    inviterName: z.string(),
    email: emailAddress,
    role: z.enum(['OWNER', 'ADMIN', 'STAFF']),
    token: z.string().min(1),
    expiresAt: z.iso.datetime({ offset: true }),
  }),
});
