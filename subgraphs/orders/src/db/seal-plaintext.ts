import {
  type Database,
  ERASED_EMAIL,
  ERASED_NAME,
  erasedAsNull,
  sealPlaintextRows,
  type Transaction,
} from '@bilten/platform';
import { and, type Column, eq, ne, notLike } from 'drizzle-orm';
import {
  guestPerson,
  type OrdersPeople,
  orderPerson,
  sealEntryEmail,
  sealOrderData,
  sealTicketData,
} from './person-data.ts';
import { orderRecords, tickets, waitingListEntries } from './schema.ts';

// The data migration of issue 18's per-person keys: rows written before them still hold plaintext
// in their `_sealed` columns (0011_person_keys renamed them). Setup seals them, batch by batch,
// before serving; a row is selected while its value is neither sealed (`p1.…`) nor an erasure's
// marker, so running it again (or on several replicas at once) seals each row once.

const unsealed = (column: Column, marker: string) => and(notLike(column, 'p1.%'), ne(column, marker));

/** `seal()`, or the markers when the person was erased meanwhile (their key refuses new data). */
async function sealedOr<T>(seal: () => Promise<T>, erased: T): Promise<T> {
  return (await erasedAsNull(seal)) ?? erased;
}

async function sealOrders(tx: Transaction, people: OrdersPeople, batchSize: number): Promise<number> {
  const rows = await tx
    .select()
    .from(orderRecords)
    .where(unsealed(orderRecords.buyerEmailSealed, ERASED_EMAIL))
    .limit(batchSize)
    .for('update', { skipLocked: true });
  for (const row of rows) {
    const data = {
      buyerName: row.buyerNameSealed,
      buyerEmail: row.buyerEmailSealed,
      attendees: JSON.parse(row.attendeesSealed) as Array<{ name: string }>,
    };
    const erased = { buyerNameSealed: ERASED_NAME, buyerEmailSealed: ERASED_EMAIL, attendeesSealed: '[]' };
    const sealed = await sealedOr<Partial<typeof orderRecords.$inferInsert>>(
      () => sealOrderData(tx, people, row.id, row.buyerId, data),
      { ...erased, buyerEmailIndex: null },
    );
    await tx.update(orderRecords).set(sealed).where(eq(orderRecords.id, row.id));
  }
  return rows.length;
}

/** Run after the orders: a ticket of its buyer is sealed under the order's person, a given one under its holder. */
async function sealTickets(tx: Transaction, people: OrdersPeople, batchSize: number): Promise<number> {
  const rows = await tx
    .select({ ticket: tickets, buyerId: orderRecords.buyerId, buyerEmailIndex: orderRecords.buyerEmailIndex })
    .from(tickets)
    .innerJoin(orderRecords, eq(orderRecords.id, tickets.orderId))
    .where(unsealed(tickets.attendeeNameSealed, ERASED_NAME))
    .limit(batchSize)
    .for('update', { skipLocked: true });
  for (const { ticket, ...order } of rows) {
    const holderEmail = ticket.holderEmailSealed ?? undefined;
    const person = holderEmail === undefined ? orderPerson(order) : guestPerson(people, holderEmail);
    const data = { attendeeName: ticket.attendeeNameSealed, holderEmail };
    const sealed = await sealedOr<Partial<typeof tickets.$inferInsert>>(
      () => sealTicketData(tx, people, person, ticket.id, data),
      { attendeeNameSealed: ERASED_NAME },
    );
    await tx.update(tickets).set(sealed).where(eq(tickets.id, ticket.id));
  }
  return rows.length;
}

async function sealWaitingList(tx: Transaction, people: OrdersPeople, batchSize: number): Promise<number> {
  const rows = await tx
    .select()
    .from(waitingListEntries)
    .where(unsealed(waitingListEntries.emailSealed, ERASED_EMAIL))
    .limit(batchSize)
    .for('update', { skipLocked: true });
  for (const row of rows) {
    const entry = { id: row.id, userId: row.userId, email: row.emailSealed };
    const emailSealed = await sealedOr(() => sealEntryEmail(tx, people, entry), ERASED_EMAIL);
    await tx.update(waitingListEntries).set({ emailSealed }).where(eq(waitingListEntries.id, row.id));
  }
  return rows.length;
}

/** Seals every row still holding plaintext; how many rows it sealed. */
export async function sealPlaintextData(
  db: Database,
  people: OrdersPeople,
  batchSize = 500,
): Promise<number> {
  let sealed = 0;
  for (const step of [sealOrders, sealTickets, sealWaitingList])
    sealed += await sealPlaintextRows(db, (tx, size) => step(tx, people, size), batchSize);
  return sealed;
}
