import { escapeHtml, formatMoney } from '@bilten/platform';
/** A rendered mail, ready for any transport. */
export interface Mail {
  template:
    | 'email-verification'
    | 'password-reset'
    | 'organization-invitation'
    | 'address-in-use'
    | 'order-tickets'
    | 'ticket-transfer'
    | 'waiting-list-offer'
    | 'receipt'
    | 'event-published';
  to: { name: string; address: string };
  subject: string;
  text: string;
  html: string;
  /** The link the mail exists for, if any (the development log transport prints it). */
  link?: string;
  /** Non-transactional mails: the one-click opt-out link (RFC 8058 headers and a visible link). */
  unsubscribeUrl?: string;
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
  /** Several links of the same kind (one per ticket), listed after the intro; the first is `Mail.link`. */
  links?: Array<{ label: string; url: string }>;
  notes: string[];
  /** Shown at the end (text and HTML) and sent as the List-Unsubscribe header. */
  unsubscribeUrl?: string;
}

/**
 * Text and HTML from the same plain strings; everything goes through `escapeHtml` here, so no
 * template can forget it.
 */
function compose({
  template,
  to,
  subject,
  intro,
  action,
  links = [],
  notes,
  unsubscribeUrl,
}: MailContent): Mail {
  const name = singleLine(to.name);
  const greeting = name ? `Hello ${name},` : 'Hello,';
  const text = [
    greeting,
    intro,
    ...(action ? [`${action.label}:\n${action.url}`] : []),
    ...links.map((link) => `${link.label}:\n${link.url}`),
    ...notes,
    'Bilten',
    ...(unsubscribeUrl ? [`Unsubscribe from these emails:\n${unsubscribeUrl}`] : []),
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
    ...(links.length
      ? [
          '<ul>',
          ...links.map(
            (link) =>
              `<li><a href="${escapeHtml(link.url)}">${escapeHtml(link.label)}</a><br><span style="font-size: small">${escapeHtml(link.url)}</span></li>`,
          ),
          '</ul>',
        ]
      : []),
    ...notes.map(paragraph),
    paragraph('Bilten'),
    ...(unsubscribeUrl
      ? [
          `<p style="font-size: small"><a href="${escapeHtml(unsubscribeUrl)}">Unsubscribe from these emails</a></p>`,
        ]
      : []),
    '</body></html>',
  ].join('\n');
  return {
    template,
    to: { name, address: to.address },
    subject: singleLine(subject),
    text,
    html,
    ...(action ? { link: action.url } : links[0] ? { link: links[0].url } : {}),
    ...(unsubscribeUrl ? { unsubscribeUrl } : {}),
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

// ---------------------------------------------------------------- orders' mails

/** `${PUBLIC_GATEWAY_URL}/tickets/{id}.pdf?token=…`: a ticket's PDF, opened by its link token alone. */
export function ticketLink(gatewayUrl: string, ticketId: string, token: string): string {
  return linkTo(gatewayUrl, `/tickets/${encodeURIComponent(ticketId)}.pdf`, token);
}

export interface OrderTicketsMailInput {
  buyerEmail: string;
  buyerName: string;
  eventTitle: string;
  total: { amount: number; currency: string };
  /** Each ticket with its link token, opened from the event. */
  tickets: Array<{ ticketId: string; token: string }>;
}

/** To the buyer of a paid order (a guest has no other way to get the tickets): one link per ticket. */
export function orderTicketsMail(input: OrderTicketsMailInput, gatewayUrl: string): Mail {
  const title = singleLine(input.eventTitle);
  const count = input.tickets.length;
  return compose({
    template: 'order-tickets',
    to: { name: input.buyerName, address: input.buyerEmail },
    subject: `Your tickets for ${title}`,
    intro: `Thank you for your order: ${count === 1 ? '1 ticket' : `${count} tickets`} for ${title}, ${formatMoney(input.total)} paid.`,
    links: input.tickets.map((ticket, index) => ({
      label: `Ticket ${index + 1}`,
      url: ticketLink(gatewayUrl, ticket.ticketId, ticket.token),
    })),
    notes: [
      'Each link opens a ticket with its QR code, to show at the entrance. Anyone with a link can open its ticket: keep them to yourself.',
    ],
  });
}

export interface TicketTransferMailInput {
  toEmail: string;
  toName: string | null;
  fromEmail: string;
  eventTitle: string;
  toTicketId: string;
  token: string;
}

/** To a ticket's new holder: the link to the ticket issued to them. */
export function ticketTransferMail(input: TicketTransferMailInput, gatewayUrl: string): Mail {
  const title = singleLine(input.eventTitle);
  return compose({
    template: 'ticket-transfer',
    to: { name: input.toName ?? '', address: input.toEmail },
    subject: `A ticket for ${title} is yours`,
    intro: `${singleLine(input.fromEmail)} gave you their ticket for ${title}. It has a new code, issued to you; the old one no longer gets in.`,
    action: { label: 'Open your ticket', url: ticketLink(gatewayUrl, input.toTicketId, input.token) },
    notes: [
      'Show its QR code at the entrance. Anyone with this link can open the ticket: keep it to yourself.',
      'If you did not expect this, you can ignore this email.',
    ],
  });
}

export interface WaitingListOfferMailInput {
  email: string;
  eventTitle: string;
  quantity: number;
  reservationId: string;
  expiresAt: string;
  /** When the offer was made (the event's time), to say how long it holds. */
  issuedAt: string;
}

/** To the next in a waiting list: tickets set aside for them, to check out before they go to the next. */
export function waitingListOfferMail(input: WaitingListOfferMailInput): Mail {
  const title = singleLine(input.eventTitle);
  const tickets = input.quantity === 1 ? '1 ticket' : `${input.quantity} tickets`;
  return compose({
    template: 'waiting-list-offer',
    // The account's name is not in the event: no name to greet.
    to: { name: '', address: input.email },
    subject: `Tickets for ${title} are waiting for you`,
    intro: `Good news from the waiting list: ${tickets} for ${title} are set aside for you until ${new Date(input.expiresAt).toUTCString()} (${validity(new Date(input.issuedAt), new Date(input.expiresAt))}).`,
    notes: [
      `Sign in to Bilten and check out reservation ${input.reservationId} before then; after that, the tickets go to the next person in line.`,
      'If you no longer want them, do nothing, or leave the waiting list.',
    ],
  });
}

// ---------------------------------------------------------------- billing's mails

/** `${PUBLIC_GATEWAY_URL}/receipts/{id}.pdf?token=…`: a receipt's PDF, opened by its link token alone. */
export function receiptLink(gatewayUrl: string, receiptId: string, token: string): string {
  return linkTo(gatewayUrl, `/receipts/${encodeURIComponent(receiptId)}.pdf`, token);
}

export interface ReceiptMailInput {
  receiptId: string;
  kind: 'RECEIPT' | 'CREDIT_NOTE';
  number: string;
  sellerName: string;
  buyerEmail: string;
  eventTitle: string;
  total: { amount: number; currency: string };
  /** The PDF's link token, opened from the event. */
  token: string;
}

/** To the buyer: a receipt for a paid order, or a credit note for a refund of it, as a PDF link. */
export function receiptMail(input: ReceiptMailInput, gatewayUrl: string): Mail {
  const credit = input.kind === 'CREDIT_NOTE';
  const what = credit ? 'credit note' : 'receipt';
  const seller = singleLine(input.sellerName);
  return compose({
    template: 'receipt',
    // The event carries no name: the greeting stays plain rather than guess one.
    to: { name: '', address: input.buyerEmail },
    subject: `Your ${what} ${singleLine(input.number)} from ${seller}`,
    intro: credit
      ? `${seller} refunded ${formatMoney(input.total)} of your order for ${singleLine(input.eventTitle)}. Your credit note ${singleLine(input.number)} is ready.`
      : `Thank you for your payment of ${formatMoney(input.total)} to ${seller} for ${singleLine(input.eventTitle)}. Your receipt ${singleLine(input.number)} is ready.`,
    action: {
      label: `Open your ${what} (PDF)`,
      url: receiptLink(gatewayUrl, input.receiptId, input.token),
    },
    notes: [`Anyone with this link can open the ${what}: keep it to yourself.`],
  });
}

// ---------------------------------------------------------------- followers' mails

export interface FollowerEventMailInput {
  email: string;
  displayName: string;
  /** Null while messaging has not heard the organization's name. */
  organizerName: string | null;
  eventTitle: string;
  startsAt: string;
  timezone: string;
  eventUrl: string;
  unsubscribeUrl: string;
}

/** To a follower of an organization: it published an event. Not transactional, so it can be turned off. */
export function followerEventMail(input: FollowerEventMailInput): Mail {
  const title = singleLine(input.eventTitle);
  const organizer = input.organizerName ? singleLine(input.organizerName) : null;
  const when = new Intl.DateTimeFormat('en-GB', {
    dateStyle: 'full',
    timeStyle: 'short',
    timeZone: input.timezone,
  }).format(new Date(input.startsAt));
  return compose({
    template: 'event-published',
    to: { name: input.displayName, address: input.email },
    subject: organizer ? `New from ${organizer}: ${title}` : `New event: ${title}`,
    intro: `${organizer ?? 'An organizer you follow'} published ${title}, on ${when} (${input.timezone}).`,
    action: { label: 'See the event', url: input.eventUrl },
    notes: ['You get this because you follow this organizer on Bilten.'],
    unsubscribeUrl: input.unsubscribeUrl,
  });
}
