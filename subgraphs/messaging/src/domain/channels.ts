import type { KindName } from './delivery-rules.ts';

/**
 * The seams of messaging's delivery, one place: what workflows hand the queue (template data per
 * kind), what renders it (templates.ts), what sends it (one sender per channel) and what decorates
 * mails for engagement tracking. Workflows enqueue; the delivery worker renders at send time.
 */

/** What every template gets besides its kind's own data. */
/** An amount in minor units. */
export interface Money {
  amount: number;
  currency: string;
}

export interface CommonData {
  recipient: { name: string };
}

/** A point in time with the zone to show it in (an event's own zone). */
export interface LocalTime {
  at: string;
  timezone: string;
}

/** The variables of each kind's template: what its workflow puts in a delivery's `data`. */
export interface TemplateData {
  emailVerification: { link: string; expiresAt: string; issuedAt: string; newAccount: boolean };
  passwordReset: { link: string; expiresAt: string; issuedAt: string };
  invitation: {
    link: string;
    organizationName: string;
    inviterName: string;
    role: 'OWNER' | 'ADMIN' | 'STAFF';
    expiresAt: string;
    issuedAt: string;
  };
  addressInUse: { attempt: 'sign_up' | 'email_change' };
  orderConfirmed: {
    orderId: string;
    event: { id: string; title: string };
    total: Money;
    /** One per ticket: its PDF (with the QR code) behind a signed link; attached to the email. */
    tickets: Array<{ ticketId: string; url: string }>;
  };
  paymentFailed: { orderId: string; event: { id: string; title: string }; reason: string };
  refundIssued: { orderId: string; event: { id: string; title: string }; amount: Money };
  receipt: {
    receiptId: string;
    kind: 'RECEIPT' | 'CREDIT_NOTE';
    number: string;
    sellerName: string;
    event: { title: string };
    total: Money;
    url: string;
  };
  ticketTransfer: { fromEmail: string; event: { id: string; title: string }; ticketId: string; url: string };
  waitingListOffer: {
    event: { id: string; title: string };
    quantity: number;
    reservationId: string;
    expiresAt: string;
    issuedAt: string;
  };
  eventPublished: {
    event: { id: string; title: string; url: string; starts: LocalTime };
    organizer: { name: string };
  };
  eventRescheduled: {
    event: { id: string; title: string; url: string };
    previous: { starts: LocalTime; place: string };
    current: { starts: LocalTime; place: string };
  };
  eventCancelled: {
    event: { id: string; title: string };
    reason: string | null;
    /** What the holder paid, refunded in full to how they paid; null for free tickets. */
    refund: Money | null;
  };
  eventReminder: { event: { id: string; title: string; url: string; starts: LocalTime; place: string } };
  announcement: {
    event: { id: string; title: string; url: string };
    organizer: { name: string };
    subject: string;
    body: string;
  };
  adminNotice: { subject: string; body: string };
  /** identity's breachNotificationRequested; `dataCategories` joined for reading. */
  breachNotice: {
    incidentId: string;
    title: string;
    description: string;
    dataCategories: string;
    measuresTaken: string;
    contact: string;
  };
  /** identity's securityAlertRaised, to a platform admin; `incidentId` null when none was opened. */
  securityAlert: {
    alertId: string;
    rule: string;
    severity: string;
    summary: string;
    raisedAt: string;
    incidentId: string | null;
  };
  /** identity's usageAlertRaised, to a platform admin: the metric, the hour and how far above its mean. */
  usageJump: {
    organizationId: string;
    metric: string;
    hour: string;
    quantity: string;
    trailingHourlyMean: string;
  };
  /** identity's platformAlertRaised, to a platform admin; `severity`, `service`, `runbook` null when the alert has none. */
  platformAlert: {
    alertname: string;
    status: 'firing' | 'resolved';
    severity: string | null;
    service: string | null;
    summary: string;
    runbook: string | null;
    startsAt: string;
  };
}

export type DataOf<K extends KindName> = TemplateData[K] & CommonData;

/** An organization's brand as mails and pushes show it (messaging's copy of branding's context). */
export interface Brand {
  primaryColor: string;
  accentColor: string;
  backgroundColor: string;
  textColor: string;
  /** A CSS font stack, one of FONT_STACKS (the renderer takes no other). */
  fontFamily: string;
  logoUrl: string | null;
  /** The email header image (600 px wide): absolute, or `/assets/<sha256>` on the gateway. */
  emailHeaderUrl: string | null;
  /** Plain text (≤ 500 characters), line breaks kept. */
  emailFooter: string | null;
  /** The organization's ACTIVE custom domain: its mails' links point there. */
  domain: string | null;
  /** The kit's version (0 before versions). */
  version: number;
  organizerName: string | null;
}

/** Bilten's own look, for organizations without a brand (branding's default kit). */
export const DEFAULT_BRAND = {
  primaryColor: '#1F2937',
  accentColor: '#2563EB',
  backgroundColor: '#FFFFFF',
  textColor: '#111827',
} as const;

/**
 * CSS font stacks of branding's font allow-list (BrandFont), each ending in families every mail
 * client has. Unquoted names (CSS identifiers), so nothing in them needs escaping.
 */
export const FONT_STACKS: Readonly<Record<string, string>> = {
  SYSTEM_UI: 'system-ui, -apple-system, Segoe UI, Roboto, Helvetica, Arial, sans-serif',
  INTER: 'Inter, Helvetica, Arial, sans-serif',
  ROBOTO: 'Roboto, Helvetica, Arial, sans-serif',
  OPEN_SANS: 'Open Sans, Helvetica, Arial, sans-serif',
  LATO: 'Lato, Helvetica, Arial, sans-serif',
  SOURCE_SERIF: 'Source Serif Pro, Georgia, Times New Roman, serif',
  MERRIWEATHER: 'Merriweather, Georgia, Times New Roman, serif',
  GEORGIA: 'Georgia, Times New Roman, serif',
};
export const DEFAULT_FONT_STACK = FONT_STACKS.SYSTEM_UI!;

export interface RenderedEmail {
  subject: string;
  text: string;
  html: string;
  /** Files to attach, fetched when sent (the tickets' PDFs). */
  attachments: Array<{ filename: string; url: string }>;
}

/** What in-app, web push and SMS show: a title, a short body, where a tap leads. */
export interface RenderedShort {
  title: string;
  body: string;
  url: string | null;
  /** Rendered for an organization's push: its logo (http(s), checked) as the notification's icon. */
  icon?: string | null;
  /** Rendered for an organization's push: its name and primary colour, for the service worker. */
  organization?: { name: string | null; color: string };
}

export interface Renderer {
  /** The email of `kind` in `locale` (English when the template has no such language), in `brand`. */
  email<K extends KindName>(
    kind: K,
    locale: string,
    data: DataOf<K>,
    brand: Brand | null,
    extras: { unsubscribeUrl?: string },
  ): Promise<RenderedEmail>;
  /** With a brand (a push or SMS of an organization): its icon, name and colour, links on its domain. */
  short<K extends KindName>(
    kind: K,
    locale: string,
    data: DataOf<K>,
    brand?: Brand | null,
  ): Promise<RenderedShort>;
}

/** Makes opens and clicks of a sent mail countable: signed redirects and a pixel (domain/engagement.ts). */
export interface EmailTracking {
  /** `html` with every http(s) link but the unsubscribe one through a signed redirect, and the open pixel. */
  decorate(html: string, deliveryId: string, unsubscribeUrl?: string): string;
}

/** Why a send did not go through. TRANSIENT is retried; PERMANENT ends the delivery (FAILED). */
export class DeliveryFailure extends Error {
  constructor(
    message: string,
    readonly permanent: boolean,
    /** What a permanent failure says about the address: it is suppressed (or, GONE, the push subscription removed). */
    readonly addressProblem?: 'BOUNCE' | 'INVALID_NUMBER' | 'GONE',
  ) {
    super(message);
    this.name = 'DeliveryFailure';
  }
}

/** A transport accepted the message. */
export interface Sent {
  /** `smtp`, `smtp-fallback`, `log`, `web-push`, `sms-http`, `sms-log`. */
  transport: string;
  /** The Message-ID or the provider's id: what its webhooks name it by. */
  providerMessageId: string | null;
}

export interface OutgoingEmail {
  to: { name: string; address: string };
  subject: string;
  text: string;
  html: string;
  messageId: string;
  /** Non-transactional mails: RFC 8058 List-Unsubscribe (+ one-click Post). */
  unsubscribeUrl?: string;
  attachments: Array<{ filename: string; url: string }>;
}

export interface EmailSender {
  /** Resolves when a server accepted it; throws DeliveryFailure otherwise. */
  send(email: OutgoingEmail): Promise<Sent>;
}

export interface PushTarget {
  endpoint: string;
  keys: { p256dh: string; auth: string };
}

export interface PushSender {
  /** Whether VAPID keys are configured; without them no WEB_PUSH delivery is enqueued. */
  readonly enabled: boolean;
  /** A 404/410 from the push service throws DeliveryFailure(permanent, 'GONE'). */
  send(
    target: PushTarget,
    message: RenderedShort,
    options: { ttlSeconds: number; urgency: 'normal' | 'high' },
  ): Promise<Sent>;
}

export interface SmsSender {
  /** An invalid number throws DeliveryFailure(permanent, 'INVALID_NUMBER'). */
  send(to: string, body: string): Promise<Sent>;
}
