import {
  columnAad,
  type KeyRing,
  type PersonalDataSteps,
  purgeSentEventsAbout,
  type Transaction,
} from '@bilten/platform';
import type { AddressHash } from '../adapters/address-hash.ts';
import {
  consentsOf,
  deleteMessagingDataOf,
  deliveriesOf,
  followsOf,
  guestOrderBookPage,
  notificationsOf,
  orderBookOf,
  orderBookRows,
  preferencesOf,
  pushSubscriptionsOf,
  recipientOf,
} from '../db/personal-data.ts';
import { eventStore, ORDER_BOOK_EMAIL_COLUMN } from '../db/schema.ts';
import { ADDRESS_COLUMN } from './deliveries.ts';
import { phoneOf } from './preferences.ts';
import { emailOf } from './recipients.ts';

/**
 * Messaging's step of a user's privacy requests (issue 18, GDPR articles 15 and 17). Messaging keeps
 * nothing the law asks to keep, so erasure deletes outright: the address-book entry (sealed address,
 * display name), preferences (sealed phone number), the consent copy, follows, push subscriptions,
 * in-app notifications, deliveries of every channel (sealed addresses and template data; their
 * attempts and test-mode captures go with them), suppressions of the person's address and number,
 * the order book's rows of the account and those addressed to the person as a guest or a ticket's
 * recipient, and sent outbox events naming them. Guest rows are found by the addresses identity
 * vouches for (the request's and the address book's): order-book rows by opening each account-less
 * row (a scan in pages: erasure is rare, and the book keeps no hash), deliveries by address hash.
 * The export holds the same, opened; template data is left out (it carries link tokens).
 */
export function messagingPersonalDataSteps(deps: {
  ring: KeyRing;
  addressHash: AddressHash;
}): PersonalDataSteps {
  const { ring, addressHash } = deps;

  /** The person's addresses and number as messaging knows them, and their hashes. */
  async function addressesOf(tx: Transaction, userId: string, email: string | null) {
    const [recipient, preferences] = await Promise.all([recipientOf(tx, userId), preferencesOf(tx, userId)]);
    const bookEmail = recipient ? emailOf(ring, recipient) : null;
    const emails = [
      ...new Set([email, bookEmail].flatMap((value) => (value ? [value.trim().toLowerCase()] : []))),
    ];
    const phone = phoneOf(ring, preferences ?? null);
    const hashes = [
      ...emails.map((value) => addressHash(value, 'EMAIL')),
      ...(phone ? [addressHash(phone, 'SMS')] : []),
    ];
    return { recipient, bookEmail, preferences, phone, emails, hashes };
  }

  /** The account-less order-book rows addressed to one of `emails`, opened. */
  async function guestOrderBookIds(tx: Transaction, emails: string[]): Promise<string[]> {
    const found: string[] = [];
    if (!emails.length) return found;
    for (let after: string | null = null; ; ) {
      const page = await guestOrderBookPage(tx, after, GUEST_PAGE);
      for (const row of page)
        if (
          emails.includes(
            openOrNull(ring, row.emailSealed, columnAad(ORDER_BOOK_EMAIL_COLUMN, row.id))
              ?.trim()
              .toLowerCase() ?? '',
          )
        )
          found.push(row.id);
      if (page.length < GUEST_PAGE) return found;
      after = page.at(-1)!.id;
    }
  }

  return {
    async collect(tx, userId) {
      const known = await addressesOf(tx, userId, null);
      const [consents, follows, subscriptions, notifications, deliveries, book, guestIds] = await Promise.all(
        [
          consentsOf(tx, userId),
          followsOf(tx, userId),
          pushSubscriptionsOf(tx, userId),
          notificationsOf(tx, userId),
          deliveriesOf(tx, userId, known.hashes),
          orderBookOf(tx, userId),
          guestOrderBookIds(tx, known.emails),
        ],
      );
      const prefs = known.preferences;
      return {
        recipient: known.recipient
          ? {
              email: known.bookEmail,
              displayName: known.recipient.displayName,
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
        notifications: notifications.map((row) => ({
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
        deliveries: deliveries.map((row) => ({
          id: row.id,
          kind: row.kind,
          channel: row.channel,
          category: row.category,
          address: openOrNull(ring, row.addressSealed, columnAad(ADDRESS_COLUMN, row.id)),
          status: row.status,
          createdAt: iso(row.createdAt),
          sentAt: iso(row.sentAt),
          deliveredAt: iso(row.deliveredAt),
          openedAt: iso(row.openedAt),
          clickedAt: iso(row.clickedAt),
        })),
        orders: [...book, ...(guestIds.length ? await orderBookRows(tx, guestIds) : [])].map((row) => ({
          orderId: row.orderId,
          eventId: row.eventId,
          eventTitle: row.eventTitle,
          name: row.name,
          email: openOrNull(ring, row.emailSealed, columnAad(ORDER_BOOK_EMAIL_COLUMN, row.id)),
          totalAmount: row.totalAmount,
          currency: row.currency,
          holdingSince: iso(row.holdingSince),
          releasedAt: iso(row.releasedAt),
        })),
      };
    },
    async erase(tx, subject) {
      const known = await addressesOf(tx, subject.userId, subject.email);
      const guestIds = await guestOrderBookIds(tx, known.emails);
      const summary = await deleteMessagingDataOf(tx, subject.userId, known.hashes, guestIds);
      let purged = 0;
      let unsentKept = 0;
      for (const email of known.emails.length ? known.emails : [subject.email]) {
        const outboxRows = await purgeSentEventsAbout(tx, eventStore, { userId: subject.userId, email });
        purged += outboxRows.purged;
        unsentKept = Math.max(unsentKept, outboxRows.unsentKept);
      }
      return { ...summary, 'outbox.purged': purged, 'outbox.unsent_kept': unsentKept };
    },
  };
}

/** Rows of the order book sealed under a retired key open for no one: nothing readable to export or match. */
function openOrNull(ring: KeyRing, sealed: string, aad: string): string | null {
  try {
    return ring.decrypt(sealed, aad);
  } catch {
    return null;
  }
}

const GUEST_PAGE = 500;

const iso = (date: Date | null) => date?.toISOString() ?? null;
