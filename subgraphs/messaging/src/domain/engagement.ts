import { createHmac, timingSafeEqual } from 'node:crypto';
import {
  type Database,
  DomainError,
  isUuid,
  keyFromSecret,
  requireOrgRole,
  requireUser,
  uuidInput,
  type Viewer,
} from '@bilten/platform';
import { z } from 'zod';
import {
  applyBounce,
  applyComplaint,
  applyDelivered,
  applySmsFailure,
  deliveriesByProviderId,
  deliveryStats,
  recordClick,
  recordOpen,
  recordSoftBounce,
  type StatsScope,
} from '../db/engagement.ts';
import type { Category } from '../db/schema.ts';
import type { NotificationStatsFilter } from '../generated/graphql.ts';
import type { EmailTracking } from './channels.ts';
import { KINDS, kindFromEnum } from './delivery-rules.ts';

/** What the tracking routes need besides decorating: reading the tokens back. */
export interface EngagementLinks extends EmailTracking {
  /** The delivery an open pixel's token names, or null for any token we did not sign. */
  openedDelivery(token: string): string | null;
  /** The delivery and URL a click token names, or null for any token we did not sign. */
  clickedLink(token: string): { deliveryId: string; url: string } | null;
}

/** Longer tokens are refused unread: a URL in a mail is never this long. */
const MAX_TOKEN_LENGTH = 6000;

/** Attribute values as MJML writes them: `href="…"`, HTML-escaped. */
const HREF = /(\shref\s*=\s*)"([^"]*)"/gi;

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
/** What the reader's browser makes of an attribute value: the URL they actually open. */
const unescapeAttribute = (value: string) =>
  value.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (whole, entity: string) => {
    if (entity[0] !== '#') return ENTITIES[entity.toLowerCase()] ?? whole;
    const code =
      entity[1] === 'x' || entity[1] === 'X' ? Number.parseInt(entity.slice(2), 16) : Number(entity.slice(1));
    return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
  });

/**
 * Stateless signed tokens (nothing stored): the pixel's names a delivery, a click's a delivery and
 * the URL. Only URLs that were in a mail we sent are ever signed, so the redirect cannot be pointed
 * anywhere else (no open redirect). The key is derived from MAIL_LINK_SECRET for this use alone.
 */
export function createEmailTracking(options: {
  env: { NODE_ENV: string; MAIL_LINK_SECRET?: string | undefined };
  /** PUBLIC_GATEWAY_URL: the gateway passes `/t/…` on to messaging. */
  gateway: string;
}): EngagementLinks {
  const key = keyFromSecret({
    env: options.env,
    variable: 'MAIL_LINK_SECRET',
    secret: options.env.MAIL_LINK_SECRET,
    developmentSecret: 'bilten-development-only-mail-link-secret',
    salt: 'bilten',
    info: 'click-links',
  });
  const base = options.gateway.replace(/\/+$/, '');
  // The purpose goes into the MAC, so an open token can never pass for a click token.
  const mac = (purpose: 'open' | 'click', body: string) =>
    createHmac('sha256', key).update(`${purpose}:${body}`).digest('base64url');
  const signed = (purpose: 'open' | 'click', token: string): string | null => {
    if (token.length > MAX_TOKEN_LENGTH) return null;
    const [body, signature, ...rest] = token.split('.');
    if (!body || !signature || rest.length) return null;
    const expected = Buffer.from(mac(purpose, body));
    const given = Buffer.from(signature);
    return given.length === expected.length && timingSafeEqual(given, expected) ? body : null;
  };
  const clickLink = (deliveryId: string, url: string) => {
    const body = Buffer.from(`${deliveryId}|${url}`).toString('base64url');
    return `${base}/t/c/${body}.${mac('click', body)}`;
  };

  return {
    decorate(html, deliveryId, unsubscribeUrl) {
      const linked = html.replace(HREF, (whole, prefix: string, value: string) => {
        const url = unescapeAttribute(value).trim();
        if (!/^https?:\/\//i.test(url) || url === unsubscribeUrl) return whole;
        return `${prefix}"${clickLink(deliveryId, url)}"`;
      });
      const pixel = `<img src="${base}/t/o/${deliveryId}.${mac('open', deliveryId)}.gif" width="1" height="1" alt="" style="display:block;border:0">`;
      const bodyEnd = linked.toLowerCase().lastIndexOf('</body>');
      return bodyEnd < 0 ? linked + pixel : `${linked.slice(0, bodyEnd)}${pixel}${linked.slice(bodyEnd)}`;
    },
    openedDelivery(token) {
      const deliveryId = signed('open', token);
      return deliveryId && isUuid(deliveryId) ? deliveryId : null;
    },
    clickedLink(token) {
      const body = signed('click', token);
      if (!body) return null;
      const decoded = Buffer.from(body, 'base64url').toString();
      const separator = decoded.indexOf('|');
      const deliveryId = decoded.slice(0, separator);
      const url = decoded.slice(separator + 1);
      if (separator < 0 || !isUuid(deliveryId) || !/^https?:\/\//i.test(url) || !URL.canParse(url))
        return null;
      return { deliveryId, url };
    },
  };
}

/**
 * The pixel was loaded: the first open counts, and the state moves forward only. Only for a
 * recipient who granted ANALYTICS; a guest (no account, so no consent) is never tracked.
 */
export const trackOpen = (db: Database, deliveryId: string) => recordOpen(db, deliveryId, new Date());

/** A signed link was followed: the first click counts, and implies an open (ANALYTICS as above). */
export const trackClick = (db: Database, deliveryId: string) => recordClick(db, deliveryId, new Date());

/** One event of the email provider's webhook (adapters/delivery-webhooks.ts checked its signature). */
export interface EmailProviderEvent {
  type: 'delivered' | 'bounce' | 'complaint';
  messageId: string;
  /** A bounce: hard (the address does not exist) or soft (a full mailbox: recorded only). */
  permanent?: boolean | undefined;
  at?: Date | undefined;
}

/**
 * Applies the provider's events: delivered moves the state forward; a hard bounce or a complaint
 * ends the delivery and suppresses its address (nothing more goes there, or for a complaint nothing
 * non-critical); a soft bounce is only recorded. Events about messages we do not know are ignored
 * (another sender's, or long deleted): the provider must not retry them.
 */
export async function applyEmailEvents(db: Database, events: EmailProviderEvent[]) {
  let applied = 0;
  let ignored = 0;
  for (const event of events) {
    const at = event.at ?? new Date();
    const found = await db.transaction(async (tx) => {
      const [delivery] = await deliveriesByProviderId(tx, 'EMAIL', event.messageId);
      if (!delivery) return false;
      if (event.type === 'delivered') await applyDelivered(tx, delivery.id, at);
      else if (event.type === 'complaint') await applyComplaint(tx, delivery, at);
      else if (event.permanent) await applyBounce(tx, delivery, at);
      else await recordSoftBounce(tx, delivery.id);
      return true;
    });
    if (found) applied++;
    else ignored++;
  }
  return { applied, ignored };
}

/** Twilio's error codes for a number that cannot receive SMS: not a number, or not a mobile one. */
const INVALID_NUMBER_CODES = new Set(['21211', '21614']);

/**
 * Applies one SMS status callback: delivered moves the state forward; undelivered or failed ends
 * a delivery the provider had accepted, and an invalid number is suppressed. queued and sent say
 * nothing new. Answers whether the message was one of ours.
 */
export async function applySmsStatus(
  db: Database,
  status: { messageSid: string; messageStatus: string; errorCode: string | null },
): Promise<boolean> {
  return db.transaction(async (tx) => {
    const [delivery] = await deliveriesByProviderId(tx, 'SMS', status.messageSid);
    if (!delivery) return false;
    if (status.messageStatus === 'delivered') await applyDelivered(tx, delivery.id, new Date());
    else if (status.messageStatus === 'undelivered' || status.messageStatus === 'failed') {
      const invalidNumber = status.errorCode !== null && INVALID_NUMBER_CODES.has(status.errorCode);
      await applySmsFailure(tx, delivery, `${status.messageStatus} (error ${status.errorCode ?? 'none'})`, {
        invalidNumber,
      });
    }
    return true;
  });
}

/** What an organization's admins see of its deliveries: what it sends its audience, not account mail. */
const ORGANIZER_CATEGORIES: Category[] = ['EVENT_UPDATES', 'ANNOUNCEMENTS'];

const statsFilter = z
  .object({
    kind: z
      .string()
      .nullish()
      .transform((value) => (value ? kindFromEnum(value) : undefined))
      .refine((kind) => kind === undefined || kind in KINDS, 'not a notification kind'),
    eventId: uuidInput.nullish(),
    organizationId: uuidInput.nullish(),
    from: z.date().nullish(),
    to: z.date().nullish(),
    channel: z.enum(['IN_APP', 'EMAIL', 'WEB_PUSH', 'SMS']).nullish(),
  })
  .refine((filter) => !filter.from || !filter.to || filter.from < filter.to, {
    message: 'must be later than from',
    path: ['to'],
  });

/**
 * `notificationStats(filter:)`: platform ADMINs see every delivery; anyone else must name an
 * organization they are ADMIN+ of and sees its event updates and announcements. Rates are shares of
 * what was sent (0 when nothing was).
 */
export async function notificationStats(
  ctx: { db: Database; viewer: Viewer },
  filter: NotificationStatsFilter,
) {
  const user = requireUser(ctx.viewer);
  const parsed = statsFilter.safeParse(filter);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new DomainError('BAD_USER_INPUT', `filter.${issue.path.join('.')}: ${issue.message}`);
  }
  const { organizationId, ...rest } = parsed.data;
  const admin = user.roles.includes('ADMIN');
  if (!admin) {
    if (!organizationId)
      throw new DomainError('FORBIDDEN', 'name the organization (filter.organizationId) you are ADMIN of');
    requireOrgRole(ctx.viewer, organizationId, 'ADMIN');
  }
  const scope: StatsScope = {
    organizationId: organizationId ?? undefined,
    kind: rest.kind,
    eventId: rest.eventId ?? undefined,
    channel: rest.channel ?? undefined,
    from: rest.from ?? undefined,
    to: rest.to ?? undefined,
    categories: admin ? undefined : ORGANIZER_CATEGORIES,
  };
  const counts = await deliveryStats(ctx.db, scope);
  const rate = (count: number) => (counts.sent ? count / counts.sent : 0);
  return {
    ...counts,
    openRate: rate(counts.opened),
    clickRate: rate(counts.clicked),
    bounceRate: rate(counts.bounced),
  };
}
