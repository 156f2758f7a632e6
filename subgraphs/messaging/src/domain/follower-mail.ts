import { createHash } from 'node:crypto';
import { eventPublished } from '@bilten/contracts/catalog';
import type { EventConsumer, KeyRing } from '@bilten/platform';
import type { UnsubscribeLinks } from '../adapters/unsubscribe-links.ts';
import { organizationNameOf, recipientsByIds } from '../db/recipients.ts';
import { KINDS } from './delivery-rules.ts';
import { followersTaking } from './followers.ts';
import { followerEventMail } from './mail-templates.ts';
import { emailOf } from './recipients.ts';
import { type MailDeps, sendMailOnce } from './transactional-mail.ts';

/**
 * The id of one recipient's mail of a fan-out (a UUID derived from the event and the user): what
 * sent_emails and the Message-ID are keyed by, so each follower is mailed once per event.
 */
export function fanOutMailId(eventId: string, userId: string): string {
  const hex = createHash('sha256').update(`${eventId}:${userId}`).digest('hex');
  // Shaped as a version-8 (custom) UUID, RFC 9562.
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-8${hex.slice(13, 16)}-${((Number.parseInt(hex[16]!, 16) & 3) | 8).toString(16)}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/**
 * Event published → a mail to each follower who has EVENT_UPDATES by EMAIL on and whose address
 * is in the book (others get the in-app notification only), with RFC 8058 one-click opt-out of
 * exactly that category by email. Its own durable consumer: a failing SMTP server retries the
 * mails, never the in-app fan-out. Public events only, followers walked in batches like the
 * in-app fan-out.
 */
export function eventPublishedFollowerMailConsumer(
  deps: MailDeps & {
    ring: KeyRing;
    unsubscribe: UnsubscribeLinks;
    /** PUBLIC_WEB_URL, or PUBLIC_GATEWAY_URL: where `/events/{id}` is. */
    web: string;
  },
): EventConsumer<typeof eventPublished.payload> {
  return {
    name: 'event-published-follower-mail',
    event: eventPublished,
    async handle(event, tx) {
      const { eventId, organizationId, title, startsAt, timezone, visibility } = event.payload;
      if (visibility !== 'PUBLIC') return;
      const organizerName = await organizationNameOf(tx, organizationId);
      const eventUrl = `${deps.web.replace(/\/+$/, '')}/events/${encodeURIComponent(eventId)}`;
      for await (const wanting of followersTaking(tx, organizationId, KINDS.eventPublished, 'EMAIL')) {
        for (const recipient of await recipientsByIds(tx, wanting)) {
          const mail = followerEventMail({
            email: emailOf(deps.ring, recipient),
            displayName: recipient.displayName ?? '',
            organizerName,
            eventTitle: title,
            startsAt,
            timezone,
            eventUrl,
            unsubscribeUrl: deps.unsubscribe.link({
              userId: recipient.userId,
              category: KINDS.eventPublished.category,
              channel: 'EMAIL',
            }),
          });
          await sendMailOnce(tx, deps, fanOutMailId(event.id, recipient.userId), mail);
        }
      }
    },
  };
}
