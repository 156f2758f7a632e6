import {
  ERASED_EMAIL,
  ERASED_NAME,
  type Outbox,
  type PersonalDataSteps,
  purgeSentEventsAbout,
  type Transaction,
} from '@bilten/platform';
import { type OrdersPeople, openEntryEmail, openOrder, openTicket } from '../db/person-data.ts';
import {
  anonymizeOrdersOf,
  anonymizeTicketsOf,
  deleteOrderlessReservations,
  deleteSharingConsentsOf,
  deleteWaitingListEntriesOf,
  itemsOfReservations,
  orderlessReservationsOfUser,
  ordersOfUser,
  refundRequestsOfOrders,
  sharingConsentsOfUser,
  ticketsOfOrders,
  ticketsReceivedBy,
  waitingListOfUser,
} from '../db/personal-data.ts';
import { eventStore, type OrderRow, type TicketRow } from '../db/schema.ts';
import { eventAvailabilityChanged } from '../events.ts';

/**
 * Orders' step of a user's privacy requests (issue 18, GDPR articles 15 and 17).
 *
 * Export: the account's orders (buyer name and address as given at checkout, the attendee names
 * the buyer typed, which are the buyer's own order data), their tickets except those given away
 * (a transferred ticket's new code, name and address are its recipient's), refunds, the account's
 * waiting-list places and holds that never became an order. Ticket codes and signed payloads are
 * left out: they admit whoever holds them, and the app shows them. Guest orders and tickets given
 * to an address are exported only under `verifiedEmail` (identity proved the address is theirs):
 * an address merely typed at checkout proves nothing about who owns it. Sealed values are opened
 * under their person's key (db/person-data.ts).
 *
 * Erasure: orders stay as financial records (amounts, dates, statuses, the event) with the buyer's
 * name, address and attendee names replaced by a marker; the person's tickets keep their status
 * (an upcoming event's ticket stays valid: cancelling and refunding it is not erasure's to decide)
 * under the marker name; tickets given to the person's address lose it too. Waiting-list places
 * and holds that never became an order are deleted (a live hold's stock goes back on sale), and so
 * is orders' copy of the person's ORGANIZER_SHARING consents. Then the account's data key and the
 * address's guest key are destroyed (crypto-shredding): every sealed copy, backups included,
 * becomes unreadable; what rows keep reads as the marker.
 * Tickets the person gave away stay their recipients'. Account ids stay on the records: with the
 * account erased at identity they name no one.
 */

const MARKER = { name: ERASED_NAME, email: ERASED_EMAIL };

export function ordersPersonalDataSteps(outbox: Outbox, people: OrdersPeople): PersonalDataSteps {
  return {
    collect: (tx, userId, guest) => collectOrdersData(tx, people, userId, guest.verifiedEmail),
    async erase(tx, { userId, email }) {
      const subject = { userId, emailIndex: people.keys.index(email, 'email') };
      const ticketsAnonymized = await anonymizeTicketsOf(tx, subject, MARKER);
      const ordersAnonymized = await anonymizeOrdersOf(tx, subject, MARKER);
      const waiting = await deleteWaitingListEntriesOf(tx, subject);
      const holds = await deleteOrderlessReservations(tx, subject.userId, waiting.offeredHoldIds);
      // Stock a live hold kept is on sale again: ticketAvailability listeners hear it as on a release.
      for (const eventId of holds.freedEventIds)
        await outbox.publish(tx, eventAvailabilityChanged, eventId, { eventId });
      const consents = await deleteSharingConsentsOf(tx, subject.userId);
      const outboxRows = await purgeSentEventsAbout(tx, eventStore, { userId, email });
      await people.keys.vault.shred(tx, userId);
      await people.guests.shred(tx, subject.emailIndex);
      return {
        'orders.anonymized': ordersAnonymized,
        'tickets.anonymized': ticketsAnonymized,
        'waiting_list_entries.deleted': waiting.deleted,
        'reservations.deleted': holds.deleted,
        'organizer_sharing_consents.deleted': consents,
        'outbox.purged': outboxRows.purged,
        'outbox.unsent_kept': outboxRows.unsentKept,
      };
    },
  };
}

async function collectOrdersData(
  tx: Transaction,
  people: OrdersPeople,
  userId: string,
  verifiedEmail: string | undefined,
): Promise<Record<string, unknown>> {
  const emailIndex = verifiedEmail === undefined ? null : people.keys.index(verifiedEmail, 'email');
  const [orders, guestOrders, received] = await Promise.all([
    ordersOfUser(tx, { userId }),
    emailIndex ? ordersOfUser(tx, { emailIndex }) : [],
    emailIndex ? ticketsReceivedBy(tx, emailIndex) : [],
  ]);
  const orderIds = [...orders, ...guestOrders].map(({ order }) => order.id);
  const [tickets, refunds, waitingList, holds, consents] = await Promise.all([
    ticketsOfOrders(tx, orderIds),
    refundRequestsOfOrders(tx, orderIds),
    waitingListOfUser(tx, userId),
    orderlessReservationsOfUser(tx, userId),
    sharingConsentsOfUser(tx, userId),
  ]);
  const items = await itemsOfReservations(
    tx,
    holds.map((hold) => hold.id),
  );
  return {
    // A copy of the answers identity records: which organizations may see the buyer's address.
    organizerSharingConsents: consents.map((consent) => ({
      organizationId: consent.organizationId,
      granted: consent.granted,
      textVersion: consent.textVersion,
      changedAt: iso(consent.changedAt),
    })),
    orders: await Promise.all(orders.map((row) => exportedOrder(tx, people, row, tickets, refunds))),
    // Under the verified address: its guest orders and the tickets given to it.
    guestOrders: await Promise.all(
      guestOrders.map((row) => exportedOrder(tx, people, row, tickets, refunds)),
    ),
    ticketsReceived: await Promise.all(received.map((ticket) => exportedTicket(tx, people, ticket))),
    waitingList: await Promise.all(
      waitingList.map(async (entry) => ({
        id: entry.id,
        eventId: entry.eventId,
        ticketTypeId: entry.ticketTypeId,
        email: await openEntryEmail(tx, people, entry),
        quantity: entry.quantity,
        status: entry.status,
        offeredAt: iso(entry.offeredAt),
        joinedAt: iso(entry.createdAt),
      })),
    ),
    reservations: holds.map((hold) => ({
      id: hold.id,
      eventId: hold.eventId,
      status: hold.status,
      currency: hold.currency,
      expiresAt: iso(hold.expiresAt),
      createdAt: iso(hold.createdAt),
      items: items
        .filter((item) => item.reservationId === hold.id)
        .map(({ ticketTypeId, quantity, unitPriceAmount }) => ({ ticketTypeId, quantity, unitPriceAmount })),
    })),
  };
}

/** An order with its data opened, its tickets not given away, and its refunds. */
async function exportedOrder(
  tx: Transaction,
  people: OrdersPeople,
  { order, eventTitle }: { order: OrderRow; eventTitle: string | null },
  tickets: TicketRow[],
  refunds: Array<{
    orderId: string;
    reason: string;
    amount: number;
    currency: string;
    requestedAt: Date;
    refundedAt: Date | null;
  }>,
) {
  const { buyerName, buyerEmail, attendees } = await openOrder(tx, people, order);
  const own = tickets.filter((ticket) => ticket.orderId === order.id && ticket.holderEmailIndex === null);
  return {
    id: order.id,
    eventId: order.eventId,
    eventTitle,
    organizationId: order.organizationId,
    status: order.status,
    currency: order.currency,
    subtotalAmount: order.subtotalAmount,
    feesAmount: order.feesAmount,
    taxesAmount: order.taxesAmount,
    totalAmount: order.totalAmount,
    refundedAmount: order.refundedAmount,
    buyerName,
    buyerEmail,
    attendees,
    createdAt: iso(order.createdAt),
    tickets: await Promise.all(own.map((ticket) => exportedTicket(tx, people, ticket))),
    refunds: refunds
      .filter((refund) => refund.orderId === order.id)
      .map((refund) => ({
        reason: refund.reason,
        amount: refund.amount,
        currency: refund.currency,
        requestedAt: iso(refund.requestedAt),
        refundedAt: iso(refund.refundedAt),
      })),
  };
}

async function exportedTicket(tx: Transaction, people: OrdersPeople, ticket: TicketRow) {
  const { attendeeName } = await openTicket(tx, people, ticket);
  return {
    id: ticket.id,
    ticketTypeId: ticket.ticketTypeId,
    attendeeName,
    status: ticket.status,
    checkedInAt: iso(ticket.checkedInAt),
    issuedAt: iso(ticket.createdAt),
  };
}

const iso = (date: Date | null) => date?.toISOString() ?? null;
