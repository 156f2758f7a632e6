import type { Transaction } from '@bilten/platform';
import { and, asc, eq, inArray, isNull, ne, notExists, or, sql } from 'drizzle-orm';
import {
  offers,
  orderRecords,
  organizerSharingConsents,
  refundRequests,
  reservationItems,
  reservations,
  tickets,
  waitingListEntries,
} from './schema.ts';

// The SQL of a user's privacy requests (domain/personal-data.ts says what and why).

/** The user's orders (as a signed-in buyer) or, with `emailIndex`, a guest's under that address; oldest first, with their event's title. */
export const ordersOfUser = (tx: Transaction, buyer: { userId: string } | { emailIndex: string }) =>
  tx
    .select({ order: orderRecords, eventTitle: offers.title })
    .from(orderRecords)
    .leftJoin(offers, eq(offers.eventId, orderRecords.eventId))
    .where(
      'userId' in buyer
        ? eq(orderRecords.buyerId, buyer.userId)
        : and(isNull(orderRecords.buyerId), eq(orderRecords.buyerEmailIndex, buyer.emailIndex)),
    )
    .orderBy(asc(orderRecords.createdAt), asc(orderRecords.id));

/** Tickets given to the address (by its index), oldest first. */
export const ticketsReceivedBy = (tx: Transaction, emailIndex: string) =>
  tx.select().from(tickets).where(eq(tickets.holderEmailIndex, emailIndex)).orderBy(asc(tickets.createdAt));

export const ticketsOfOrders = (tx: Transaction, orderIds: string[]) =>
  orderIds.length
    ? tx.select().from(tickets).where(inArray(tickets.orderId, orderIds)).orderBy(asc(tickets.createdAt))
    : Promise.resolve([]);

export const refundRequestsOfOrders = (tx: Transaction, orderIds: string[]) =>
  orderIds.length
    ? tx.select().from(refundRequests).where(inArray(refundRequests.orderId, orderIds))
    : Promise.resolve([]);

export const waitingListOfUser = (tx: Transaction, userId: string) =>
  tx
    .select()
    .from(waitingListEntries)
    .where(eq(waitingListEntries.userId, userId))
    .orderBy(asc(waitingListEntries.createdAt));

/** The user's holds that never became an order (those that did are listed with their order). */
export const orderlessReservationsOfUser = (tx: Transaction, userId: string) =>
  tx
    .select()
    .from(reservations)
    .where(and(eq(reservations.buyerId, userId), orderless))
    .orderBy(asc(reservations.createdAt));

export const itemsOfReservations = (tx: Transaction, reservationIds: string[]) =>
  reservationIds.length
    ? tx.select().from(reservationItems).where(inArray(reservationItems.reservationId, reservationIds))
    : Promise.resolve([]);

const orderless = notExists(
  sql`(select 1 from ${orderRecords} where ${orderRecords.reservationId} = ${reservations.id})`,
);

/** Who is erased: the account, and the blind index of its address (guest orders, tickets received). */
export interface ErasureSubject {
  userId: string;
  emailIndex: string;
}

/** The orders bought by the account or, as a guest, under the address. */
const ordersOf = (subject: ErasureSubject) =>
  or(eq(orderRecords.buyerId, subject.userId), eq(orderRecords.buyerEmailIndex, subject.emailIndex));

/**
 * The tickets the person holds: those of their orders not given away (no holder of their own), and
 * those given to their address. Each gets the marker name (and address, for the latter). Run before
 * the orders lose the address their guest orders are found by.
 */
export async function anonymizeTicketsOf(
  tx: Transaction,
  subject: ErasureSubject,
  marker: { name: string; email: string },
): Promise<number> {
  const own = await tx
    .update(tickets)
    .set({ attendeeNameSealed: marker.name })
    .where(
      and(
        isNull(tickets.holderEmailIndex),
        ne(tickets.attendeeNameSealed, marker.name),
        inArray(
          tickets.orderId,
          tx.select({ id: orderRecords.id }).from(orderRecords).where(ordersOf(subject)),
        ),
      ),
    )
    .returning({ id: tickets.id });
  const received = await tx
    .update(tickets)
    // The marker stays in the index too: the ticket is still not the giver's.
    .set({ attendeeNameSealed: marker.name, holderEmailSealed: marker.email, holderEmailIndex: marker.email })
    .where(eq(tickets.holderEmailIndex, subject.emailIndex))
    .returning({ id: tickets.id });
  return own.length + received.length;
}

/**
 * Buyer's name and address of the person's orders replaced by the marker, attendee names and the
 * address's index dropped; amounts stay. Plain markers, so they read as erased under any key.
 */
export async function anonymizeOrdersOf(
  tx: Transaction,
  subject: ErasureSubject,
  marker: { name: string; email: string },
): Promise<number> {
  const rows = await tx
    .update(orderRecords)
    .set({
      buyerNameSealed: marker.name,
      buyerEmailSealed: marker.email,
      buyerEmailIndex: null,
      attendeesSealed: '[]',
    })
    .where(and(ordersOf(subject), ne(orderRecords.buyerEmailSealed, marker.email)))
    .returning({ id: orderRecords.id });
  return rows.length;
}

/** Deletes the person's places in waiting lines (only accounts wait); the holds offered to them, returned for release. */
export async function deleteWaitingListEntriesOf(
  tx: Transaction,
  subject: ErasureSubject,
): Promise<{ deleted: number; offeredHoldIds: string[] }> {
  const rows = await tx
    .delete(waitingListEntries)
    .where(eq(waitingListEntries.userId, subject.userId))
    .returning({ reservationId: waitingListEntries.reservationId });
  return {
    deleted: rows.length,
    offeredHoldIds: rows.flatMap((row) => (row.reservationId ? [row.reservationId] : [])),
  };
}

/**
 * Deletes the account's holds that never became an order (their items go with them) and any
 * other orderless hold named (a waiting-list offer); the events whose stock a live one held.
 */
export async function deleteOrderlessReservations(
  tx: Transaction,
  userId: string,
  alsoIds: string[],
): Promise<{ deleted: number; freedEventIds: string[] }> {
  const named = alsoIds.length
    ? or(eq(reservations.buyerId, userId), inArray(reservations.id, alsoIds))
    : eq(reservations.buyerId, userId);
  const rows = await tx
    .delete(reservations)
    .where(and(named, orderless))
    .returning({
      eventId: reservations.eventId,
      live: sql<boolean>`${reservations.status} = 'HELD' and ${reservations.expiresAt} > statement_timestamp()`,
    });
  return {
    deleted: rows.length,
    freedEventIds: [...new Set(rows.filter((row) => row.live).map((row) => row.eventId))],
  };
}

/** Orders' copy of the user's ORGANIZER_SHARING answers (identity keeps the record). */
export const sharingConsentsOfUser = (tx: Transaction, userId: string) =>
  tx.select().from(organizerSharingConsents).where(eq(organizerSharingConsents.userId, userId));

export async function deleteSharingConsentsOf(tx: Transaction, userId: string): Promise<number> {
  const rows = await tx
    .delete(organizerSharingConsents)
    .where(eq(organizerSharingConsents.userId, userId))
    .returning({ userId: organizerSharingConsents.userId });
  return rows.length;
}
