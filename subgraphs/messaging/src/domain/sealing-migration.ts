import {
  columnAad,
  type Database,
  type EncryptedColumn,
  type KeyRing,
  sealPlaintextRows,
  type Transaction,
} from '@bilten/platform';
import {
  type MessagingKeys,
  type Person,
  personOf,
  saveSealedDelivery,
  saveSealedNotification,
  saveSealedOrderBookRow,
  saveSealedPhone,
  saveSealedRecipient,
  sealFor,
  unsealedDeliveries,
  unsealedNotifications,
  unsealedOrderBookRows,
  unsealedPhones,
  unsealedRecipients,
} from '../db/person-keys.ts';
import {
  DELIVERY_COLUMNS,
  DISPLAY_NAME_COLUMN,
  NOTIFICATION_COLUMNS,
  ORDER_BOOK_EMAIL_COLUMN,
  ORDER_BOOK_NAME_COLUMN,
  PHONE_COLUMN,
  RECIPIENT_EMAIL_COLUMN,
} from '../db/schema.ts';

/**
 * The data migration to per-person keys (issue 18), run at start-up before serving: addresses and
 * numbers the key ring sealed (`v1.`) and plaintext display names are opened and sealed again
 * under their person's key, and so are in-app notifications' plaintext texts. Idempotent, in
 * batches, shared by replicas (`sealPlaintextRows`).
 */
export interface SealingDeps {
  keys: MessagingKeys;
  /** DATA_ENCRYPTION_KEYS: opens the values sealed before. */
  ring: KeyRing;
}

export async function sealPersonData(db: Database, deps: SealingDeps, batchSize?: number): Promise<number> {
  let sealed = 0;
  for (const step of [sealRecipients, sealPhones, sealOrderBook, sealDeliveries, sealNotifications])
    sealed += await sealPlaintextRows(db, (tx, limit) => step(tx, deps, limit), batchSize);
  return sealed;
}

/** The value again, sealed under `person`'s key; one already sealed so is kept as it is. */
async function resealed(
  tx: Transaction,
  deps: SealingDeps,
  person: Person,
  stored: string,
  plaintext: string,
  aad: string,
): Promise<string> {
  if (deps.keys.users.vault.isEncrypted(stored)) return stored;
  const value = await sealFor(tx, deps.keys, person, plaintext, aad);
  // Erasure deletes a person's rows in the transaction that destroys their key: none is left to seal.
  if (value === null) throw new Error('a row of an erased person is still stored: not sealed');
  return value;
}

/** What the key ring sealed, opened (`v1.` values); anything else was stored as plaintext. */
const legacyPlaintext = (ring: KeyRing, stored: string, column: EncryptedColumn, rowKey: string) =>
  stored.startsWith('v1.') ? ring.decrypt(stored, columnAad(column, rowKey)) : stored;

async function sealRecipients(tx: Transaction, deps: SealingDeps, limit: number): Promise<number> {
  const rows = await unsealedRecipients(tx, limit);
  for (const row of rows) {
    const person = { userId: row.userId };
    const email = legacyPlaintext(deps.ring, row.emailSealed, RECIPIENT_EMAIL_COLUMN, row.userId);
    const name = row.displayNameSealed;
    await saveSealedRecipient(tx, row.userId, {
      emailSealed: await resealed(
        tx,
        deps,
        person,
        row.emailSealed,
        email,
        columnAad(RECIPIENT_EMAIL_COLUMN, row.userId),
      ),
      displayNameSealed:
        name === null
          ? null
          : await resealed(tx, deps, person, name, name, columnAad(DISPLAY_NAME_COLUMN, row.userId)),
    });
  }
  return rows.length;
}

async function sealPhones(tx: Transaction, deps: SealingDeps, limit: number): Promise<number> {
  const rows = await unsealedPhones(tx, limit);
  for (const { userId, phoneSealed } of rows) {
    const phone = legacyPlaintext(deps.ring, phoneSealed!, PHONE_COLUMN, userId);
    await saveSealedPhone(
      tx,
      userId,
      await resealed(tx, deps, { userId }, phoneSealed!, phone, columnAad(PHONE_COLUMN, userId)),
    );
  }
  return rows.length;
}

async function sealOrderBook(tx: Transaction, deps: SealingDeps, limit: number): Promise<number> {
  const rows = await unsealedOrderBookRows(tx, limit);
  for (const row of rows) {
    const email = legacyPlaintext(deps.ring, row.emailSealed, ORDER_BOOK_EMAIL_COLUMN, row.id);
    const person = personOf(deps.keys, row.userId, email);
    await saveSealedOrderBookRow(tx, row.id, {
      emailSealed: await resealed(
        tx,
        deps,
        person,
        row.emailSealed,
        email,
        columnAad(ORDER_BOOK_EMAIL_COLUMN, row.id),
      ),
      emailIndex: deps.keys.users.index(email, 'email'),
      // Names were stored as plaintext.
      nameSealed: await resealed(
        tx,
        deps,
        person,
        row.nameSealed,
        row.nameSealed,
        columnAad(ORDER_BOOK_NAME_COLUMN, row.id),
      ),
    });
  }
  return rows.length;
}

async function sealDeliveries(tx: Transaction, deps: SealingDeps, limit: number): Promise<number> {
  const [addressColumn] = DELIVERY_COLUMNS;
  const rows = await unsealedDeliveries(tx, limit);
  for (const row of rows) {
    const address = legacyPlaintext(deps.ring, row.addressSealed, addressColumn, row.id);
    const person = personOf(deps.keys, row.recipientId, address);
    await saveSealedDelivery(tx, row.id, {
      addressSealed: await resealed(
        tx,
        deps,
        person,
        row.addressSealed,
        address,
        columnAad(addressColumn, row.id),
      ),
      addressIndex: 'guestIndex' in person ? person.guestIndex : null,
    });
  }
  return rows.length;
}

async function sealNotifications(tx: Transaction, deps: SealingDeps, limit: number): Promise<number> {
  const rows = await unsealedNotifications(tx, limit);
  for (const row of rows) {
    const person = { userId: row.recipientId };
    // Texts were stored as plaintext.
    const seal = (column: keyof typeof NOTIFICATION_COLUMNS, stored: string) =>
      resealed(tx, deps, person, stored, stored, columnAad(NOTIFICATION_COLUMNS[column], row.id));
    await saveSealedNotification(tx, row.id, {
      subjectSealed: await seal('subject', row.subjectSealed),
      bodySealed: await seal('body', row.bodySealed),
    });
  }
  return rows.length;
}
