import { escapeHtml } from '@bilten/platform';
/** A rendered mail, ready for any transport. */
export interface Mail {
  template: 'email-verification' | 'password-reset' | 'organization-invitation' | 'address-in-use';
  to: { name: string; address: string };
  subject: string;
  text: string;
  html: string;
  /** The link the mail exists for, if any (the development log transport prints it). */
  link?: string;
}

/** One line: control characters (CR, LF, ...) and runs of whitespace become one space. */
export const singleLine = (value: string) => value.replace(/[\p{Cc}\s]+/gu, ' ').trim();

/** `https://web.example/app` + `/verify-email` + the token, URL-encoded. */
export function linkTo(publicWebUrl: string, path: string, token: string): string {
  return `${publicWebUrl.replace(/\/+$/, '')}${path}?token=${encodeURIComponent(token)}`;
}

/** "7 days", "24 hours", "1 hour", "30 minutes": how long a link issued at `from` stays valid. */
export function validity(from: Date, until: Date): string {
  const minutes = Math.max(1, Math.round((until.getTime() - from.getTime()) / 60_000));
  if (minutes < 60) return minutes === 1 ? '1 minute' : `${minutes} minutes`;
  const hours = Math.round(minutes / 60);
  if (hours <= 36) return hours === 1 ? '1 hour' : `${hours} hours`;
  return `${Math.round(hours / 24)} days`;
}

interface MailContent {
  template: Mail['template'];
  to: { name: string; address: string };
  subject: string;
  intro: string;
  /** The one link of the mail, shown as a button; notices have none. */
  action?: { label: string; url: string };
  notes: string[];
}

/**
 * Text and HTML from the same plain strings; everything goes through `escapeHtml` here, so no
 * template can forget it.
 */
function compose({ template, to, subject, intro, action, notes }: MailContent): Mail {
  const name = singleLine(to.name);
  const greeting = name ? `Hello ${name},` : 'Hello,';
  const text = [
    greeting,
    intro,
    ...(action ? [`${action.label}:\n${action.url}`] : []),
    ...notes,
    'Bilten',
  ].join('\n\n');
  const paragraph = (value: string) => `<p>${escapeHtml(value)}</p>`;
  const button = action
    ? [
        `<p><a href="${escapeHtml(action.url)}" style="display: inline-block; padding: 10px 16px; background: #2563EB; color: #ffffff; text-decoration: none; border-radius: 6px">${escapeHtml(action.label)}</a></p>`,
        `<p style="font-size: small">Or paste this address into your browser: ${escapeHtml(action.url)}</p>`,
      ]
    : [];
  const html = [
    '<!doctype html>',
    '<html><body style="font-family: sans-serif; line-height: 1.5; color: #111827">',
    paragraph(greeting),
    paragraph(intro),
    ...button,
    ...notes.map(paragraph),
    paragraph('Bilten'),
    '</body></html>',
  ].join('\n');
  return {
    template,
    to: { name, address: to.address },
    subject: singleLine(subject),
    text,
    html,
    ...(action ? { link: action.url } : {}),
  };
}

export interface VerificationMailInput {
  email: string;
  displayName: string;
  /** The link's single-use token, opened from the event. */
  token: string;
  expiresAt: string;
  /** When the token was issued (the event's time), to say how long it is valid. */
  issuedAt: string;
  /** A fresh sign-up, rather than a resend or a changed address. */
  newAccount: boolean;
}

export function verificationMail(input: VerificationMailInput, publicWebUrl: string): Mail {
  return compose({
    template: 'email-verification',
    to: { name: input.displayName, address: input.email },
    subject: 'Confirm your email address',
    intro: input.newAccount
      ? 'Welcome to Bilten! Please confirm your email address to finish setting up your account.'
      : 'Please confirm that this email address belongs to your Bilten account.',
    action: {
      label: 'Confirm your email address',
      url: linkTo(publicWebUrl, '/verify-email', input.token),
    },
    notes: [
      `This link expires in ${validity(new Date(input.issuedAt), new Date(input.expiresAt))}.`,
      input.newAccount
        ? 'If you did not create a Bilten account, you can ignore this email.'
        : 'If you did not ask for this, you can ignore this email.',
    ],
  });
}

export interface PasswordResetMailInput {
  email: string;
  displayName: string;
  token: string;
  expiresAt: string;
  issuedAt: string;
}

export function passwordResetMail(input: PasswordResetMailInput, publicWebUrl: string): Mail {
  return compose({
    template: 'password-reset',
    to: { name: input.displayName, address: input.email },
    subject: 'Reset your Bilten password',
    intro: 'Someone asked to reset the password of your Bilten account.',
    action: {
      label: 'Choose a new password',
      url: linkTo(publicWebUrl, '/reset-password', input.token),
    },
    notes: [
      `This link works once and expires in ${validity(new Date(input.issuedAt), new Date(input.expiresAt))}.`,
      "If it wasn't you, ignore this email: your password stays as it is.",
    ],
  });
}

export interface InvitationMailInput {
  email: string;
  organizationName: string;
  inviterName: string;
  role: 'OWNER' | 'ADMIN' | 'STAFF';
  token: string;
  expiresAt: string;
  issuedAt: string;
}

const ROLE_NAMES: Record<InvitationMailInput['role'], string> = {
  OWNER: 'an owner',
  ADMIN: 'an administrator',
  STAFF: 'a staff member',
};

export function invitationMail(input: InvitationMailInput, publicWebUrl: string): Mail {
  const organization = singleLine(input.organizationName);
  return compose({
    template: 'organization-invitation',
    // The invitee may have no account yet: no name to greet.
    to: { name: '', address: input.email },
    subject: `Join ${organization} on Bilten`,
    intro: `${singleLine(input.inviterName)} invited you to join ${organization} on Bilten as ${ROLE_NAMES[input.role]}.`,
    action: {
      label: 'Accept the invitation',
      url: linkTo(publicWebUrl, '/accept-invitation', input.token),
    },
    notes: [
      `This link works once, for ${input.email}, and expires in ${validity(new Date(input.issuedAt), new Date(input.expiresAt))}. Sign in (or create an account) with this address to accept.`,
      'If you did not expect this invitation, you can ignore this email.',
    ],
  });
}

export interface AddressInUseMailInput {
  email: string;
  displayName: string;
  /** What someone tried: a new account with this address, or moving another account to it. */
  attempt: 'sign_up' | 'email_change';
}

/** To an account's owner: someone tried to use their address. No link: anyone can make us send this. */
export function addressInUseMail(input: AddressInUseMailInput): Mail {
  return compose({
    template: 'address-in-use',
    to: { name: input.displayName, address: input.email },
    subject: 'Someone tried to use your email address on Bilten',
    intro:
      input.attempt === 'sign_up'
        ? 'Someone tried to create a Bilten account with this email address. You already have one, so nothing was created and nothing changed.'
        : 'Someone tried to move another Bilten account to this email address. It stays with your account, and nothing changed.',
    notes: [
      'If it was you: sign in with this address and your password, or reset your password if you have forgotten it.',
      "If it wasn't you, you can ignore this email: your account stays as it is.",
    ],
  });
}
