import type { Transaction } from '@bilten/platform';
import { and, asc, eq, inArray, isNull, or } from 'drizzle-orm';
import {
  consents,
  deliveries,
  follows,
  notificationPreferences,
  notifications,
  orderBook,
  pushSubscriptions,
  recipients,
  suppressedAddresses,
} from './schema.ts';

// The SQL of a user's privacy requests (domain/personal-data.ts says what and why).

export async function recipientOf(tx: Transaction, userId: string) {
  const [row] = await tx.select().from(recipients).where(eq(recipients.userId, userId));
  return row;
}

export async function preferencesOf(tx: Transaction, userId: string) {
  const [row] = await tx
    .select()
    .from(notificationPreferences)
    .where(eq(notificationPreferences.userId, userId));
  return row;
}

export const consentsOf = (tx: Transaction, userId: string) =>
  tx.select().from(consents).where(eq(consents.userId, userId));

export const followsOf = (tx: Transaction, userId: string) =>
  tx.select().from(follows).where(eq(follows.userId, userId)).orderBy(asc(follows.createdAt));

export const pushSubscriptionsOf = (tx: Transaction, userId: string) =>
  tx.select().from(pushSubscriptions).where(eq(pushSubscriptions.userId, userId));

export const notificationsOf = (tx: Transaction, userId: string) =>
  tx.select().from(notifications).where(eq(notifications.recipientId, userId)).orderBy(asc(notifications.id));

/** The user's deliveries: to the account, or to one of the address hashes (a guest's mail to their address). */
export const deliveriesOf = (tx: Transaction, userId: string, addressHashes: string[]) =>
  tx
    .select()
    .from(deliveries)
    .where(
      addressHashes.length
        ? or(eq(deliveries.recipientId, userId), inArray(deliveries.addressHash, addressHashes))
        : eq(deliveries.recipientId, userId),
    )
    .orderBy(asc(deliveries.createdAt));

/** The order book's rows of the account. */
export const orderBookOf = (tx: Transaction, userId: string) =>
  tx.select().from(orderBook).where(eq(orderBook.userId, userId)).orderBy(asc(orderBook.id));

/** The order book's rows without an account (guests, transfers' recipients) whose address has one of these blind indexes. */
export const guestOrderBookRowsOf = (tx: Transaction, emailIndexes: string[]) =>
  emailIndexes.length
    ? tx
        .select()
        .from(orderBook)
        .where(and(isNull(orderBook.userId), inArray(orderBook.emailIndex, emailIndexes)))
        .orderBy(asc(orderBook.id))
    : Promise.resolve([]);

const count = (rows: unknown[]) => rows.length;

/** Deletes every row keyed by the user, and the deliveries and suppressions of their address hashes; rows per table. */
export async function deleteMessagingDataOf(
  tx: Transaction,
  userId: string,
  addressHashes: string[],
  orderBookIds: string[],
): Promise<Record<string, number>> {
  const byHash = <T extends { addressHash: typeof deliveries.addressHash }>(table: T) =>
    addressHashes.length ? inArray(table.addressHash, addressHashes) : undefined;
  return {
    // Their attempts and test-mode captures go with them (on delete cascade).
    'deliveries.deleted': count(
      await tx
        .delete(deliveries)
        .where(or(eq(deliveries.recipientId, userId), byHash(deliveries)))
        .returning({ id: deliveries.id }),
    ),
    'suppressed_addresses.deleted': addressHashes.length
      ? count(
          await tx
            .delete(suppressedAddresses)
            .where(inArray(suppressedAddresses.addressHash, addressHashes))
            .returning({ hash: suppressedAddresses.addressHash }),
        )
      : 0,
    'notifications.deleted': count(
      await tx
        .delete(notifications)
        .where(eq(notifications.recipientId, userId))
        .returning({ id: notifications.id }),
    ),
    'order_book.deleted': count(
      await tx
        .delete(orderBook)
        .where(
          orderBookIds.length
            ? or(eq(orderBook.userId, userId), inArray(orderBook.id, orderBookIds))
            : eq(orderBook.userId, userId),
        )
        .returning({ id: orderBook.id }),
    ),
    'push_subscriptions.deleted': count(
      await tx
        .delete(pushSubscriptions)
        .where(eq(pushSubscriptions.userId, userId))
        .returning({ id: pushSubscriptions.id }),
    ),
    'follows.deleted': count(
      await tx.delete(follows).where(eq(follows.userId, userId)).returning({ userId: follows.userId }),
    ),
    'consents.deleted': count(
      await tx.delete(consents).where(eq(consents.userId, userId)).returning({ userId: consents.userId }),
    ),
    'notification_preferences.deleted': count(
      await tx
        .delete(notificationPreferences)
        .where(eq(notificationPreferences.userId, userId))
        .returning({ userId: notificationPreferences.userId }),
    ),
    'recipients.deleted': count(
      await tx
        .delete(recipients)
        .where(eq(recipients.userId, userId))
        .returning({ userId: recipients.userId }),
    ),
  };
}
