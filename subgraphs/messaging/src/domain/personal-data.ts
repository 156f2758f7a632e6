import { type PersonalDataSteps, purgeSentEventsAbout, type Transaction } from '@bilten/platform';
import type { AddressHash } from '../adapters/address-hash.ts';
import { openNotifications } from '../db/notification-texts.ts';
import type { MessagingKeys } from '../db/person-keys.ts';
import {
  consentsOf,
  deleteMessagingDataOf,
  deliveriesOf,
  followsOf,
  guestOrderBookRowsOf,
  notificationsOf,
  orderBookOf,
  preferencesOf,
  pushSubscriptionsOf,
  recipientOf,
} from '../db/personal-data.ts';
import { eventStore } from '../db/schema.ts';
import { addressOf } from './deliveries.ts';
import { emailOfEntry, nameOfEntry } from './order-book.ts';
import { phoneOf } from './preferences.ts';
import { displayNameOf, emailOf } from './recipients.ts';

/**
 * Messaging's step of a user's privacy requests (issue 18, GDPR articles 15 and 17). Messaging keeps
 * nothing the law asks to keep, so erasure deletes outright: the address-book entry (sealed address,
 * display name), preferences (sealed phone number), the consent copy, follows, push subscriptions,
 * in-app notifications, deliveries of every channel (sealed addresses and template data; their
 * attempts and test-mode captures go with them), suppressions of the person's address and number,
 * the order book's rows of the account and those addressed to the person as a guest or a ticket's
 * recipient, and sent outbox events naming them. Then it destroys the user's key and the guest key
 * of each of their addresses (crypto-shredding): every copy left elsewhere (backups, a delivery
 * enqueued meanwhile) reads as nothing, and a late event for the user stores nothing. Guest rows
 * are found by the addresses identity vouches for (the request's and the address book's): order-book
 * rows by the blind index of the address, deliveries by address hash. The export holds the same,
 * opened; template data is left out (it carries link tokens).
 */
export function messagingPersonalDataSteps(deps: {
  keys: MessagingKeys;
  addressHash: AddressHash;
}): PersonalDataSteps {
  const { keys, addressHash } = deps;

  /** The person's addresses and number as messaging knows them, and their hashes. */
  async function addressesOf(tx: Transaction, userId: string, email: string | null) {
    const [recipient, preferences] = await Promise.all([recipientOf(tx, userId), preferencesOf(tx, userId)]);
    const bookEmail = recipient ? await emailOf(tx, keys, recipient) : null;
    const emails = [
      ...new Set([email, bookEmail].flatMap((value) => (value ? [value.trim().toLowerCase()] : []))),
    ];
    const phone = await phoneOf(tx, keys, preferences ?? null);
    const hashes = [
      ...emails.map((value) => addressHash(value, 'EMAIL')),
      ...(phone ? [addressHash(phone, 'SMS')] : []),
    ];
    return { recipient, bookEmail, preferences, phone, emails, hashes };
  }

  /** The account-less order-book rows addressed to one of `emails` (under any blind-index key). */
  const guestOrderBook = (tx: Transaction, emails: string[]) =>
    guestOrderBookRowsOf(
      tx,
      emails.flatMap((email) => keys.users.indexes(email, 'email')),
    );

  return {
    async collect(tx, userId) {
      const known = await addressesOf(tx, userId, null);
      const [consents, follows, subscriptions, notifications, deliveries, book, guestRows] =
        await Promise.all([
          consentsOf(tx, userId),
          followsOf(tx, userId),
          pushSubscriptionsOf(tx, userId),
          notificationsOf(tx, userId),
          deliveriesOf(tx, userId, known.hashes),
          orderBookOf(tx, userId),
          guestOrderBook(tx, known.emails),
        ]);
      const prefs = known.preferences;
      return {
        recipient: known.recipient
          ? {
              email: known.bookEmail,
              displayName: await displayNameOf(tx, keys, known.recipient),
              emailSetAt: iso(known.recipient.emailSetAt),
            }
          : null,
        preferences: prefs
          ? {
              categories: prefs.categories,
              timezone: prefs.timezone,
              quietHoursStart: prefs.quietHoursStart,
              quietHoursEnd: prefs.quietHoursEnd,
              locale: prefs.locale,
              phoneNumber: known.phone,
              marketingConsentAt: iso(prefs.marketingConsentAt),
              marketingConsentSource: prefs.marketingConsentSource,
            }
          : null,
        consents: consents.map((row) => ({
          purpose: row.purpose,
          granted: row.granted,
          textVersion: row.textVersion,
          changedAt: iso(row.changedAt),
        })),
        follows: follows.map((row) => ({ organizationId: row.organizationId, since: iso(row.createdAt) })),
        pushSubscriptions: subscriptions.map((row) => ({
          endpoint: row.endpoint,
          userAgent: row.userAgent,
          createdAt: iso(row.createdAt),
          lastUsedAt: iso(row.lastUsedAt),
        })),
        notifications: (await openNotifications(tx, keys, notifications)).map((row) => ({
          id: row.id,
          channel: row.channel,
          category: row.category,
          subject: row.subject,
          body: row.body,
          url: row.url,
          createdAt: iso(row.createdAt),
          readAt: iso(row.readAt),
          archivedAt: iso(row.archivedAt),
        })),
        deliveries: await Promise.all(
          deliveries.map(async (row) => ({
            id: row.id,
            kind: row.kind,
            channel: row.channel,
            category: row.category,
            address: await addressOf(tx, keys, row),
            status: row.status,
            createdAt: iso(row.createdAt),
            sentAt: iso(row.sentAt),
            deliveredAt: iso(row.deliveredAt),
            openedAt: iso(row.openedAt),
            clickedAt: iso(row.clickedAt),
          })),
        ),
        orders: await Promise.all(
          [...book, ...guestRows].map(async (row) => ({
            orderId: row.orderId,
            eventId: row.eventId,
            eventTitle: row.eventTitle,
            name: await nameOfEntry(tx, keys, row),
            email: await emailOfEntry(tx, keys, row),
            totalAmount: row.totalAmount,
            currency: row.currency,
            holdingSince: iso(row.holdingSince),
            releasedAt: iso(row.releasedAt),
          })),
        ),
      };
    },
    async erase(tx, subject) {
      const known = await addressesOf(tx, subject.userId, subject.email);
      const emails = known.emails.length ? known.emails : [subject.email];
      const guestIds = (await guestOrderBook(tx, emails)).map((row) => row.id);
      const summary = await deleteMessagingDataOf(tx, subject.userId, known.hashes, guestIds);
      const destroyed = await destroyKeysOf(tx, keys, subject.userId, emails);
      let purged = 0;
      let unsentKept = 0;
      for (const email of emails) {
        const outboxRows = await purgeSentEventsAbout(tx, eventStore, { userId: subject.userId, email });
        purged += outboxRows.purged;
        unsentKept = Math.max(unsentKept, outboxRows.unsentKept);
      }
      return {
        ...summary,
        'person_keys.destroyed': destroyed,
        'outbox.purged': purged,
        'outbox.unsent_kept': unsentKept,
      };
    },
  };
}

/** Shreds the user's key and the guest key of each of their addresses; how many live keys it destroyed. */
async function destroyKeysOf(
  tx: Transaction,
  keys: MessagingKeys,
  userId: string,
  emails: string[],
): Promise<number> {
  let destroyed = Number(await keys.users.vault.shred(tx, userId));
  for (const email of emails)
    destroyed += Number(await keys.guests.shred(tx, keys.users.index(email, 'email')));
  return destroyed;
}

const iso = (date: Date | null) => date?.toISOString() ?? null;
