import type { Database, Transaction } from '@bilten/platform';
import { and, asc, desc, eq, gt, inArray, lte, sql } from 'drizzle-orm';
import {
  offers,
  offerTicketTypes,
  orderRecords,
  type TicketRow,
  type TicketSigningKeyRow,
  ticketSigningKeys,
  tickets,
} from './schema.ts';

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

// ---------------------------------------------------------------- offline check-in

/** Every signing key, oldest first: scanners need the public half of each (future ones too). */
export const allTicketSigningKeys = (db: Database | Transaction) =>
  db
    .select()
    .from(ticketSigningKeys)
    .orderBy(asc(ticketSigningKeys.activatesAt), asc(ticketSigningKeys.createdAt));

export const ticketsByIds = (db: Database | Transaction, ids: string[]) =>
  ids.length === 0 ? Promise.resolve([]) : db.select().from(tickets).where(inArray(tickets.id, ids));

/**
 * A page of the tickets that may enter the event (VALID, or CHECKED_IN so a scanner can tell a
 * second entry), in id order after `afterId`: keyset paging over (event_id, status) and the id.
 */
export const admissibleTicketsOfEvent = (
  db: Database | Transaction,
  eventId: string,
  limit: number,
  afterId?: string,
) =>
  db
    .select({
      id: tickets.id,
      ticketTypeId: tickets.ticketTypeId,
      status: tickets.status,
      checkedInAt: tickets.checkedInAt,
      checkedInGate: tickets.checkedInGate,
    })
    .from(tickets)
    .where(
      and(
        eq(tickets.eventId, eventId),
        inArray(tickets.status, ['VALID', 'CHECKED_IN']),
        afterId ? gt(tickets.id, afterId) : undefined,
      ),
    )
    .orderBy(asc(tickets.id))
    .limit(limit);

/**
 * markCheckedIn for a scan made offline: the scan's own time, not now. The same conditional
 * UPDATE, so an online scan and an upload racing for one ticket cannot both win.
 */
export async function markCheckedInAt(
  db: Database | Transaction,
  id: string,
  scannedAt: Date,
  gate: string,
): Promise<TicketRow | undefined> {
  const [ticket] = await db
    .update(tickets)
    .set({ status: 'CHECKED_IN', checkedInAt: scannedAt, checkedInGate: gate })
    .where(and(eq(tickets.id, id), eq(tickets.status, 'VALID')))
    .returning();
  return ticket;
}

// ---------------------------------------------------------------- ticket files

/**
 * A ticket with what its PDF prints and who may open it: its order's buyer, and orders' copy of
 * the event (title, start, time zone) and of its ticket type's name.
 */
export async function ticketFileById(db: Database, id: string) {
  const [row] = await db
    .select({
      ticket: tickets,
      buyerId: orderRecords.buyerId,
      eventTitle: offers.title,
      startsAt: offers.startsAt,
      timezone: offers.timezone,
      ticketTypeName: offerTicketTypes.name,
    })
    .from(tickets)
    .innerJoin(orderRecords, eq(orderRecords.id, tickets.orderId))
    .leftJoin(offers, eq(offers.eventId, tickets.eventId))
    .leftJoin(offerTicketTypes, eq(offerTicketTypes.id, tickets.ticketTypeId))
    .where(eq(tickets.id, id));
  return row;
}

export type TicketFileRow = NonNullable<Awaited<ReturnType<typeof ticketFileById>>>;
