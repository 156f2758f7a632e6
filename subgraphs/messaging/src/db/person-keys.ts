import {
  type Database,
  PersonDataErasedError,
  type PersonKeys,
  type PersonVault,
  personKeysFromEnv,
  type Transaction,
} from '@bilten/platform';
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
 * user id, a guest's under the key of their address's blind index (`keys.index(email, 'email')`).
 * Users' keys never come back once shredded (a late event for an erased user changes nothing);
 * a guest who buys again after erasure gets a fresh key (`guests`).
 */
export interface MessagingKeys {
  users: PersonKeys;
  guests: PersonVault;
}

export type PersonKeysEnv = Parameters<typeof personKeysFromEnv>[2];

export function messagingKeysFromEnv(db: Database, env: PersonKeysEnv): MessagingKeys {
  return {
    users: personKeysFromEnv(db, personKeys, env),
    guests: personKeysFromEnv(db, personKeys, env, { renewAfterShred: true }).vault,
  };
}

/** Whose key seals a value: an account (its user id) or a guest (the blind index of their address). */
export type Person = { userId: string } | { guestIndex: string };

/** The person of a row: its account when it has one, otherwise the guest its address names. */
export const personOf = (keys: MessagingKeys, userId: string | null, address: string): Person =>
  userId ? { userId } : { guestIndex: keys.users.index(address, 'email') };

const vaultOf = (keys: MessagingKeys, person: Person): [PersonVault, string] =>
  'userId' in person ? [keys.users.vault, person.userId] : [keys.guests, person.guestIndex];

/** `plaintext` sealed under the person's key; null when the person was erased here (drop the data). */
export async function sealFor(
  tx: Transaction,
  keys: MessagingKeys,
  person: Person,
  plaintext: string,
  aad: string,
): Promise<string | null> {
  const [vault, personId] = vaultOf(keys, person);
  return erasedAsNull(() => vault.encryptFor(tx, personId, plaintext, aad));
}

/** The plaintext; null when the person's key was destroyed (erased): show or send nothing. */
export async function openFor(
  db: Database | Transaction,
  keys: MessagingKeys,
  person: Person,
  value: string,
  aad: string,
): Promise<string | null> {
  const [vault, personId] = vaultOf(keys, person);
  return erasedAsNull(() => vault.decryptFor(db, personId, value, aad));
}

/** The one place an erased person's data reads as nothing instead of an error. */
async function erasedAsNull(use: () => Promise<string>): Promise<string | null> {
  try {
    return await use();
  } catch (err) {
    if (err instanceof PersonDataErasedError) return null;
    throw err;
  }
}

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
