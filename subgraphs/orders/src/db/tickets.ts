import type { Database, Transaction } from '@bilten/platform';
import { and, asc, desc, eq, inArray, lte, sql } from 'drizzle-orm';
import { type TicketRow, type TicketSigningKeyRow, ticketSigningKeys, tickets } from './schema.ts';

// ---------------------------------------------------------------- signing keys

/** Serializes key creation and rotation across replicas, until the transaction ends. */
export async function lockTicketSigningKeys(tx: Transaction): Promise<void> {
  await tx.execute(sql`select pg_advisory_xact_lock(hashtext('orders.ticket_signing_keys'))`);
}

/** The key that signs now: the newest whose activation time has come. */
export async function currentTicketSigningKey(
  db: Database | Transaction,
): Promise<TicketSigningKeyRow | undefined> {
  const [key] = await db
    .select()
    .from(ticketSigningKeys)
    .where(lte(ticketSigningKeys.activatesAt, sql`now()`))
    .orderBy(desc(ticketSigningKeys.activatesAt), desc(ticketSigningKeys.createdAt))
    .limit(1);
  return key;
}

export async function ticketSigningKey(
  db: Database | Transaction,
  kid: string,
): Promise<TicketSigningKeyRow | undefined> {
  const [key] = await db.select().from(ticketSigningKeys).where(eq(ticketSigningKeys.kid, kid));
  return key;
}

export async function hasTicketSigningKey(tx: Transaction): Promise<boolean> {
  const [key] = await tx.select({ kid: ticketSigningKeys.kid }).from(ticketSigningKeys).limit(1);
  return key !== undefined;
}

export async function insertTicketSigningKey(
  tx: Transaction,
  row: typeof ticketSigningKeys.$inferInsert,
): Promise<void> {
  await tx.insert(ticketSigningKeys).values(row);
}

// ---------------------------------------------------------------- tickets

export async function insertTickets(
  tx: Transaction,
  rows: Array<typeof tickets.$inferInsert>,
): Promise<void> {
  for (let start = 0; start < rows.length; start += 500) {
    await tx.insert(tickets).values(rows.slice(start, start + 500));
  }
}

export const ticketsOfOrders = (db: Database, orderIds: string[]) =>
  db.select().from(tickets).where(inArray(tickets.orderId, orderIds)).orderBy(asc(tickets.id));

export async function ticketById(db: Database | Transaction, id: string): Promise<TicketRow | undefined> {
  const [ticket] = await db.select().from(tickets).where(eq(tickets.id, id));
  return ticket;
}

/**
 * Checks a VALID ticket in, in one conditional statement: of two scans at once, PostgreSQL lets
 * one update the row and the other, after waiting for its lock, finds it no longer VALID and
 * changes nothing. Answers the ticket when this call checked it in, else undefined.
 */
export async function markCheckedIn(
  db: Database | Transaction,
  id: string,
  gate: string | null,
): Promise<TicketRow | undefined> {
  const [ticket] = await db
    .update(tickets)
    .set({ status: 'CHECKED_IN', checkedInAt: sql`now()`, checkedInGate: gate })
    .where(and(eq(tickets.id, id), eq(tickets.status, 'VALID')))
    .returning();
  return ticket;
}

/** Voids the order's tickets that were not used (a full refund, a cancelled event). */
export async function voidTicketsOfOrder(tx: Transaction, orderId: string): Promise<void> {
  await tx
    .update(tickets)
    .set({ status: 'VOID' })
    .where(and(eq(tickets.orderId, orderId), eq(tickets.status, 'VALID')));
}
