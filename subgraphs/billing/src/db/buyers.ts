import {
  columnAad,
  type Database,
  ERASED_EMAIL,
  ERASED_NAME,
  PersonDataErasedError,
  type PersonKeys,
  type PersonVault,
  sealPlaintextRows,
  type Transaction,
} from '@bilten/platform';
import { and, eq, ne, notLike } from 'drizzle-orm';
import { orderCharges, receipts } from './schema.ts';

/**
 * The buyer's name and address on billing's copy of an order and on receipts, sealed per person
 * (issue 18): under the signed-in buyer's key (their user id), else under the key of the guest's
 * address (its blind index), so erasure destroys them with one key each, backups included.
 */
export interface BuyerKeys {
  /** Signed-in buyers, by user id: never renewed after erasure. */
  users: PersonKeys;
  /** Guests, by the blind index of their address: a guest may buy again after erasure. */
  guests: PersonKeys;
}

export interface Buyer {
  buyerName: string;
  buyerEmail: string;
}

/** The buyer columns of an order charge or a receipt row. */
export interface SealedBuyer {
  buyerId: string | null;
  buyerNameSealed: string;
  buyerEmailSealed: string;
  buyerEmailIndex: string | null;
}

type BuyerTable = 'order_charges' | 'receipts';

const aad = (table: BuyerTable, column: 'buyer_name_sealed' | 'buyer_email_sealed', rowId: string) =>
  columnAad({ schema: 'billing', table, column }, rowId);

/** What an erased buyer's row holds: the markers in the clear, no index. */
const ERASED = { buyerNameSealed: ERASED_NAME, buyerEmailSealed: ERASED_EMAIL, buyerEmailIndex: null };

function personOf(keys: BuyerKeys, buyerId: string | null, emailIndex: string | null) {
  if (buyerId) return { vault: keys.users.vault, personId: buyerId };
  return emailIndex ? { vault: keys.guests.vault, personId: emailIndex } : undefined;
}

/** The buyer's columns for row `rowId` of `table`; the markers when the buyer was erased (a late event). */
export async function sealBuyer(
  tx: Transaction,
  keys: BuyerKeys,
  table: BuyerTable,
  rowId: string,
  buyer: Buyer & { buyerId: string | null },
): Promise<Omit<SealedBuyer, 'buyerId'>> {
  if (buyer.buyerEmail === ERASED_EMAIL) return ERASED;
  const buyerEmailIndex = keys.users.index(buyer.buyerEmail, 'email');
  const { vault, personId } = personOf(keys, buyer.buyerId, buyerEmailIndex)!;
  try {
    return {
      buyerNameSealed: await vault.encryptFor(
        tx,
        personId,
        buyer.buyerName,
        aad(table, 'buyer_name_sealed', rowId),
      ),
      buyerEmailSealed: await vault.encryptFor(
        tx,
        personId,
        buyer.buyerEmail,
        aad(table, 'buyer_email_sealed', rowId),
      ),
      buyerEmailIndex,
    };
  } catch (error) {
    if (error instanceof PersonDataErasedError) return ERASED;
    throw error;
  }
}

/** The buyer of row `rowId` in the clear; the markers once their key was destroyed (never an error). */
export async function openBuyer(
  db: Database | Transaction,
  keys: BuyerKeys,
  table: BuyerTable,
  rowId: string,
  row: SealedBuyer,
): Promise<Buyer> {
  const person = personOf(keys, row.buyerId, row.buyerEmailIndex);
  const open = (vault: PersonVault, personId: string, value: string, column: Parameters<typeof aad>[1]) =>
    vault.isEncrypted(value) ? vault.decryptFor(db, personId, value, aad(table, column, rowId)) : value;
  // Markers (erased) and rows a replica without per-person keys wrote are not encrypted.
  if (!person) return { buyerName: row.buyerNameSealed, buyerEmail: row.buyerEmailSealed };
  try {
    return {
      buyerName: await open(person.vault, person.personId, row.buyerNameSealed, 'buyer_name_sealed'),
      buyerEmail: await open(person.vault, person.personId, row.buyerEmailSealed, 'buyer_email_sealed'),
    };
  } catch (error) {
    if (error instanceof PersonDataErasedError) return { buyerName: ERASED_NAME, buyerEmail: ERASED_EMAIL };
    throw error;
  }
}

/** Rows still holding the plaintext of before per-person keys (erased rows hold the markers). */
const plaintextOf = (column: typeof orderCharges.buyerEmailSealed | typeof receipts.buyerEmailSealed) =>
  and(notLike(column, 'p1.%'), ne(column, ERASED_EMAIL));

async function sealChargeBatch(tx: Transaction, keys: BuyerKeys, batchSize: number): Promise<number> {
  const rows = await tx
    .select()
    .from(orderCharges)
    .where(plaintextOf(orderCharges.buyerEmailSealed))
    .limit(batchSize)
    .for('update', { skipLocked: true });
  for (const row of rows) {
    const sealed = await sealBuyer(tx, keys, 'order_charges', row.orderId, plainBuyer(row));
    await tx.update(orderCharges).set(sealed).where(eq(orderCharges.orderId, row.orderId));
  }
  return rows.length;
}

async function sealReceiptBatch(tx: Transaction, keys: BuyerKeys, batchSize: number): Promise<number> {
  const rows = await tx
    .select()
    .from(receipts)
    .where(plaintextOf(receipts.buyerEmailSealed))
    .limit(batchSize)
    .for('update', { skipLocked: true });
  for (const row of rows) {
    const sealed = await sealBuyer(tx, keys, 'receipts', row.id, plainBuyer(row));
    await tx.update(receipts).set(sealed).where(eq(receipts.id, row.id));
  }
  return rows.length;
}

const plainBuyer = (row: SealedBuyer) => ({
  buyerId: row.buyerId,
  buyerName: row.buyerNameSealed,
  buyerEmail: row.buyerEmailSealed,
});

/** The data migration of issue 18: seals the buyers of rows written before per-person keys. */
export async function sealPlaintextBuyers(db: Database, keys: BuyerKeys, batchSize = 500) {
  const charges = await sealPlaintextRows(db, (tx, size) => sealChargeBatch(tx, keys, size), batchSize);
  const receiptCount = await sealPlaintextRows(db, (tx, size) => sealReceiptBatch(tx, keys, size), batchSize);
  return { charges, receipts: receiptCount };
}

/** An erased buyer's columns: the markers in the clear and no index, so what remains reads as erased. */
export const erasedBuyer = () => ({ ...ERASED });
