import { type Database, type People, peopleFromEnv, type Transaction } from '@bilten/platform';
import { asc, eq, isNull, notLike, or } from 'drizzle-orm';
import {
  deliveries,
  notificationPreferences,
  notifications,
  orderBook,
  personKeys,
  recipients,
} from './schema.ts';

/**
 * Messaging's per-person keys (issue 18): a user's personal data is sealed under the key of their
 * user id, a guest's under the key of their address's blind index; the platform's `People` over
 * `messaging.person_keys` (users' keys never come back once shredded, guests' renew). Sealing and
 * opening are the platform's `sealFor`/`openFor`: null for an erased person, never an error.
 */
export type MessagingKeys = People;

export const messagingKeysFromEnv = (db: Database, env: Parameters<typeof peopleFromEnv>[2]): MessagingKeys =>
  peopleFromEnv(db, personKeys, env);

export { openFor, type Person, personOf, sealFor } from '@bilten/platform';

// Rows written before per-person keys (the key ring's `v1.` values, plaintext names), a batch at a
// time for `sealPlaintextRows`: locked, skipping rows another replica is sealing.
const SEALED = 'p1.%';

export const unsealedRecipients = (tx: Transaction, limit: number) =>
  tx
    .select()
    .from(recipients)
    .where(or(notLike(recipients.emailSealed, SEALED), notLike(recipients.displayNameSealed, SEALED)))
    .orderBy(asc(recipients.userId))
    .limit(limit)
    .for('update', { skipLocked: true });

export const unsealedPhones = (tx: Transaction, limit: number) =>
  tx
    .select({ userId: notificationPreferences.userId, phoneSealed: notificationPreferences.phoneSealed })
    .from(notificationPreferences)
    .where(notLike(notificationPreferences.phoneSealed, SEALED))
    .orderBy(asc(notificationPreferences.userId))
    .limit(limit)
    .for('update', { skipLocked: true });

export const unsealedOrderBookRows = (tx: Transaction, limit: number) =>
  tx
    .select({
      id: orderBook.id,
      userId: orderBook.userId,
      emailSealed: orderBook.emailSealed,
      nameSealed: orderBook.nameSealed,
    })
    .from(orderBook)
    .where(or(isNull(orderBook.emailIndex), notLike(orderBook.nameSealed, 'p1.%')))
    .orderBy(asc(orderBook.id))
    .limit(limit)
    .for('update', { skipLocked: true });

export const unsealedDeliveries = (tx: Transaction, limit: number) =>
  tx
    .select({
      id: deliveries.id,
      recipientId: deliveries.recipientId,
      addressSealed: deliveries.addressSealed,
    })
    .from(deliveries)
    .where(notLike(deliveries.addressSealed, SEALED))
    .orderBy(asc(deliveries.id))
    .limit(limit)
    .for('update', { skipLocked: true });

/** Notifications stored before their texts were sealed (plaintext subject and body). */
export const unsealedNotifications = (tx: Transaction, limit: number) =>
  tx
    .select({
      id: notifications.id,
      recipientId: notifications.recipientId,
      subjectSealed: notifications.subjectSealed,
      bodySealed: notifications.bodySealed,
    })
    .from(notifications)
    .where(or(notLike(notifications.subjectSealed, SEALED), notLike(notifications.bodySealed, SEALED)))
    .orderBy(asc(notifications.id))
    .limit(limit)
    .for('update', { skipLocked: true });

export async function saveSealedRecipient(
  tx: Transaction,
  userId: string,
  set: { emailSealed: string; displayNameSealed: string | null },
): Promise<void> {
  await tx.update(recipients).set(set).where(eq(recipients.userId, userId));
}

export async function saveSealedPhone(tx: Transaction, userId: string, phoneSealed: string): Promise<void> {
  await tx
    .update(notificationPreferences)
    .set({ phoneSealed })
    .where(eq(notificationPreferences.userId, userId));
}

export async function saveSealedOrderBookRow(
  tx: Transaction,
  id: string,
  set: { emailSealed: string; emailIndex: string; nameSealed: string },
): Promise<void> {
  await tx.update(orderBook).set(set).where(eq(orderBook.id, id));
}

export async function saveSealedDelivery(
  tx: Transaction,
  id: string,
  set: { addressSealed: string; addressIndex: string | null },
): Promise<void> {
  await tx.update(deliveries).set(set).where(eq(deliveries.id, id));
}

export async function saveSealedNotification(
  tx: Transaction,
  id: string,
  set: { subjectSealed: string; bodySealed: string },
): Promise<void> {
  await tx.update(notifications).set(set).where(eq(notifications.id, id));
}
