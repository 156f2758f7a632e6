import type { KeyRing, Logger, Outbox, Transaction } from '@bilten/platform';
import type { AddressHash } from '../adapters/address-hash.ts';
import { grantedPurposesOf } from '../db/consents.ts';
import type { MessagingKeys } from '../db/person-keys.ts';
import { preferencesOfUsers } from '../db/preferences.ts';
import { pushSubscriptionIdsOf } from '../db/push-subscriptions.ts';
import { recipientsByIds } from '../db/recipients.ts';
import type { Channel } from '../db/schema.ts';
import type { DataOf, Renderer, TemplateData } from './channels.ts';
import { enqueueDeliveries, type NewDelivery } from './deliveries.ts';
import {
  KINDS,
  type KindName,
  type NotificationKind,
  quietHoursEnd,
  shouldDeliver,
} from './delivery-rules.ts';
import { storeInAppNotifications } from './notifications.ts';
import { phoneOf } from './preferences.ts';
import { displayNameOf, emailOf } from './recipients.ts';

/**
 * One person a notice goes to. A user (userId) gets every channel their preferences take; a guest
 * (no userId: an order's buyer without an account) has no preferences and gets EMAIL only.
 */
export interface Recipient {
  userId: string | null;
  /** Where to mail them; null: the address book's address of userId. */
  email: string | null;
  /** What the mail greets them by; empty: the book's display name. */
  name: string;
  /** Overrides the user's language preference (guests: the language they ordered in). */
  locale?: string | null;
  /** What this recipient's copy adds to the notice's data (eventCancelled: their own refund). */
  data?: Record<string, unknown>;
}

/** What one workflow run tells its recipients: a kind, its data, on which channels. */
export interface Notice<K extends KindName> {
  kind: K;
  /** The domain event it comes from: deliveries and in-app notifications are unique per it. */
  sourceEventId: string;
  data: TemplateData[K];
  /** Which channels this workflow uses; preferences pick among them per recipient. */
  channels: readonly Channel[];
  organizationId?: string | null;
  eventId?: string | null;
}

export interface NotifyDeps {
  outbox: Outbox;
  ring: KeyRing;
  /** Opens the book's addresses and names, seals the deliveries' (per person). */
  keys: MessagingKeys;
  renderer: Renderer;
  /** WEB_PUSH is enqueued only when VAPID keys are configured. */
  push: { enabled: boolean };
  /** HMAC of a normalized address (adapters/address-hash.ts): the deliveries' uniqueness and suppression. */
  addressHash: AddressHash;
  log: Logger;
}

const DEFAULT_LOCALE = 'en';

/**
 * Tells `recipients` about `notice` in the consumer's transaction: IN_APP is stored at once, every
 * other channel enqueued as one delivery per address (the worker renders and sends it). The users'
 * preferences, book entries and push subscriptions are read once per call, so callers hand batches
 * (fan-outs: 1,000 at a time). Redelivered, it stores and enqueues nothing new (unique per source).
 */
export async function notify<K extends KindName>(
  tx: Transaction,
  deps: NotifyDeps,
  notice: Notice<K>,
  recipients: Recipient[],
): Promise<void> {
  if (!recipients.length) return;
  const kind = KINDS[notice.kind];
  const wants = (channel: Channel) => notice.channels.includes(channel);
  const userIds = [
    ...new Set(recipients.flatMap((recipient) => (recipient.userId ? [recipient.userId] : []))),
  ];
  const preferences = new Map((await preferencesOfUsers(tx, userIds)).map((row) => [row.userId, row]));
  // Marketing goes only where the user consented (identity's answer, copied by domain/consents.ts).
  const consents =
    (kind as NotificationKind).category === 'MARKETING'
      ? await grantedPurposesOf(tx, userIds)
      : new Map<string, Set<string>>();
  // The book fills in what the caller did not know: the address, the name to greet.
  const needBook = new Set<string>();
  for (const recipient of recipients)
    if (recipient.userId && (!recipient.email || !recipient.name)) needBook.add(recipient.userId);
  const book = new Map((await recipientsByIds(tx, [...needBook])).map((row) => [row.userId, row]));
  const pushing = wants('WEB_PUSH') && deps.push.enabled;
  const subscriptions = pushing ? await pushSubscriptionIdsOf(tx, userIds) : new Map<string, string[]>();

  const now = new Date();
  const inApp: Parameters<typeof storeInAppNotifications>[2] = [];
  const deliveries: NewDelivery[] = [];
  for (const recipient of recipients) {
    const row = recipient.userId ? preferences.get(recipient.userId) : undefined;
    const entry = recipient.userId ? book.get(recipient.userId) : undefined;
    const name = recipient.name || (entry && (await displayNameOf(tx, deps.keys, entry))) || '';
    const locale = recipient.locale ?? row?.locale ?? DEFAULT_LOCALE;
    const data = { ...notice.data, ...recipient.data, recipient: { name } } as DataOf<K>;
    const delivery = {
      kind: notice.kind,
      locale,
      sourceEventId: notice.sourceEventId,
      recipientId: recipient.userId,
      data,
      organizationId: notice.organizationId ?? null,
      eventId: notice.eventId ?? null,
    };
    // Guests have no preferences to ask: whatever reaches them is transactional, by email.
    const takes = (channel: Channel) =>
      wants(channel) &&
      (recipient.userId
        ? shouldDeliver(row ?? null, kind, channel, consents.get(recipient.userId))
        : channel === 'EMAIL');
    // Critical notices are never held; the rest wait out the user's quiet hours on noisy channels.
    const notBefore = kind.critical ? null : quietHoursEnd(row ?? null, now);

    if (recipient.userId && takes('IN_APP')) {
      const short = await deps.renderer.short(notice.kind, locale, data);
      inApp.push({
        recipientId: recipient.userId,
        category: kind.category,
        kind: notice.kind,
        subject: short.title,
        body: short.body,
        url: short.url,
        sourceEventId: notice.sourceEventId,
      });
    }
    if (takes('EMAIL')) {
      const email = recipient.email ?? (entry ? await emailOf(tx, deps.keys, entry) : null);
      if (email) deliveries.push({ ...delivery, channel: 'EMAIL', address: email });
      // A follower identity never told us the address of gets the other channels only.
      else
        deps.log.debug(
          { kind: notice.kind, userId: recipient.userId },
          'no address to mail: not in the book',
        );
    }
    if (recipient.userId && pushing && takes('WEB_PUSH'))
      for (const subscriptionId of subscriptions.get(recipient.userId) ?? [])
        deliveries.push({
          ...delivery,
          channel: 'WEB_PUSH',
          address: subscriptionId,
          ...(notBefore && { notBefore }),
        });
    if (recipient.userId && takes('SMS')) {
      const phone = await phoneOf(tx, deps.keys, row ?? null);
      if (phone)
        deliveries.push({ ...delivery, channel: 'SMS', address: phone, ...(notBefore && { notBefore }) });
    }
  }
  if (inApp.length) await storeInAppNotifications(tx, deps, inApp);
  if (deliveries.length) await enqueueDeliveries(tx, deps, deliveries);
}
