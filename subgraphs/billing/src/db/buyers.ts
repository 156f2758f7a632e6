import {
  columnAad,
  type Database,
  ERASED_EMAIL,
  ERASED_NAME,
  openFor,
  type People,
  type Person,
  sealFor,
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

const personOfRow = (buyerId: string | null, emailIndex: string | null): Person | undefined =>
  buyerId ? { userId: buyerId } : emailIndex ? { guestIndex: emailIndex } : undefined;

/** The buyer's columns for row `rowId` of `table`; the markers when the buyer was erased (a late event). */
export async function sealBuyer(
  tx: Transaction,
  people: People,
  table: BuyerTable,
  rowId: string,
  buyer: Buyer & { buyerId: string | null },
): Promise<Omit<SealedBuyer, 'buyerId'>> {
  if (buyer.buyerEmail === ERASED_EMAIL) return ERASED;
  const buyerEmailIndex = people.users.index(buyer.buyerEmail, 'email');
  const person = personOfRow(buyer.buyerId, buyerEmailIndex)!;
  const buyerNameSealed = await sealFor(
    tx,
    people,
    person,
    buyer.buyerName,
    aad(table, 'buyer_name_sealed', rowId),
  );
  const buyerEmailSealed = await sealFor(
    tx,
    people,
    person,
    buyer.buyerEmail,
    aad(table, 'buyer_email_sealed', rowId),
  );
  return buyerNameSealed === null || buyerEmailSealed === null
    ? ERASED
    : { buyerNameSealed, buyerEmailSealed, buyerEmailIndex };
}

/** The buyer of row `rowId` in the clear; the markers once their key was destroyed (never an error). */
export async function openBuyer(
  db: Database | Transaction,
  people: People,
  table: BuyerTable,
  rowId: string,
  row: SealedBuyer,
): Promise<Buyer> {
  const person = personOfRow(row.buyerId, row.buyerEmailIndex);
  // Markers (erased) and rows a replica without per-person keys wrote are not encrypted.
  const open = (value: string, column: Parameters<typeof aad>[1]) =>
    person && people.users.vault.isEncrypted(value)
      ? openFor(db, people, person, value, aad(table, column, rowId))
      : value;
  const [buyerName, buyerEmail] = await Promise.all([
    open(row.buyerNameSealed, 'buyer_name_sealed'),
    open(row.buyerEmailSealed, 'buyer_email_sealed'),
  ]);
  return buyerName === null || buyerEmail === null
    ? { buyerName: ERASED_NAME, buyerEmail: ERASED_EMAIL }
    : { buyerName, buyerEmail };
}

/** Rows still holding the plaintext of before per-person keys (erased rows hold the markers). */
const plaintextOf = (column: typeof orderCharges.buyerEmailSealed | typeof receipts.buyerEmailSealed) =>
  and(notLike(column, 'p1.%'), ne(column, ERASED_EMAIL));

async function sealChargeBatch(tx: Transaction, people: People, batchSize: number): Promise<number> {
  const rows = await tx
    .select()
    .from(orderCharges)
    .where(plaintextOf(orderCharges.buyerEmailSealed))
    .limit(batchSize)
    .for('update', { skipLocked: true });
  for (const row of rows) {
    const sealed = await sealBuyer(tx, people, 'order_charges', row.orderId, plainBuyer(row));
    await tx.update(orderCharges).set(sealed).where(eq(orderCharges.orderId, row.orderId));
  }
  return rows.length;
}

async function sealReceiptBatch(tx: Transaction, people: People, batchSize: number): Promise<number> {
  const rows = await tx
    .select()
    .from(receipts)
    .where(plaintextOf(receipts.buyerEmailSealed))
    .limit(batchSize)
    .for('update', { skipLocked: true });
  for (const row of rows) {
    const sealed = await sealBuyer(tx, people, 'receipts', row.id, plainBuyer(row));
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
export async function sealPlaintextBuyers(db: Database, people: People, batchSize = 500) {
  const charges = await sealPlaintextRows(db, (tx, size) => sealChargeBatch(tx, people, size), batchSize);
  const receiptCount = await sealPlaintextRows(
    db,
    (tx, size) => sealReceiptBatch(tx, people, size),
    batchSize,
  );
  return { charges, receipts: receiptCount };
}

/** An erased buyer's columns: the markers in the clear and no index, so what remains reads as erased. */
export const erasedBuyer = () => ({ ...ERASED });
