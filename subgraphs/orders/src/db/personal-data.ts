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

/** The user's orders (as a signed-in buyer), oldest first, with their event's title. */
export const ordersOfUser = (tx: Transaction, userId: string) =>
  tx
    .select({ order: orderRecords, eventTitle: offers.title })
    .from(orderRecords)
    .leftJoin(offers, eq(offers.eventId, orderRecords.eventId))
    .where(eq(orderRecords.buyerId, userId))
    .orderBy(asc(orderRecords.createdAt), asc(orderRecords.id));

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

const sameAddress = (column: typeof orderRecords.buyerEmail | typeof tickets.holderEmail, email: string) =>
  sql`lower(${column}) = ${email.trim().toLowerCase()}`;

/** The orders bought by the account or, as a guest, under the address. */
const ordersOf = (subject: { userId: string; email: string }) =>
  or(eq(orderRecords.buyerId, subject.userId), sameAddress(orderRecords.buyerEmail, subject.email));

/**
 * The tickets the person holds: those of their orders not given away (no holder of their own), and
 * those given to their address. Each gets the marker name (and address, for the latter). Run before
 * the orders lose the address their guest orders are found by.
 */
export async function anonymizeTicketsOf(
  tx: Transaction,
  subject: { userId: string; email: string },
  marker: { name: string; email: string },
): Promise<number> {
  const own = await tx
    .update(tickets)
    .set({ attendeeName: marker.name })
    .where(
      and(
        isNull(tickets.holderEmail),
        ne(tickets.attendeeName, marker.name),
        inArray(
          tickets.orderId,
          tx.select({ id: orderRecords.id }).from(orderRecords).where(ordersOf(subject)),
        ),
      ),
    )
    .returning({ id: tickets.id });
  const received = await tx
    .update(tickets)
    .set({ attendeeName: marker.name, holderEmail: marker.email })
    .where(sameAddress(tickets.holderEmail, subject.email))
    .returning({ id: tickets.id });
  return own.length + received.length;
}

/** Buyer's name, address and attendee names of the person's orders replaced by the marker; amounts stay. */
export async function anonymizeOrdersOf(
  tx: Transaction,
  subject: { userId: string; email: string },
  marker: { name: string; email: string },
): Promise<number> {
  const rows = await tx
    .update(orderRecords)
    .set({
      buyerName: marker.name,
      buyerEmail: marker.email,
      attendees: sql`(select coalesce(jsonb_agg(jsonb_build_object('name', ${marker.name}::text)), '[]'::jsonb)
        from jsonb_array_elements(${orderRecords.attendees}))`,
    })
    .where(and(ordersOf(subject), ne(orderRecords.buyerEmail, marker.email)))
    .returning({ id: orderRecords.id });
  return rows.length;
}

/** Deletes the person's places in waiting lines; the holds offered to them, returned for release. */
export async function deleteWaitingListEntriesOf(
  tx: Transaction,
  subject: { userId: string; email: string },
): Promise<{ deleted: number; offeredHoldIds: string[] }> {
  const rows = await tx
    .delete(waitingListEntries)
    .where(
      or(
        eq(waitingListEntries.userId, subject.userId),
        sql`lower(${waitingListEntries.email}) = ${subject.email.trim().toLowerCase()}`,
      ),
    )
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
