import { type Database, loaderById, loaderOfLists } from '@bilten/platform';
import { sharingLoader } from './consents.ts';
import { ordersByIds } from './queries.ts';
import { itemsOfReservations, reservationsByIds } from './reservations.ts';
import {
  checkInsOfEvents,
  grossByTicketTypeOfEvents,
  grossOfEvents,
  heldOfEvents,
  offersByEventIds,
  ticketTypesOfEvents,
} from './sales-views.ts';
import { ticketsOfOrders } from './tickets.ts';

export function createLoaders(db: Database) {
  return {
    order: loaderById((ids) => ordersByIds(db, ids)),
    reservation: loaderById((ids) => reservationsByIds(db, ids)),
    reservationItems: loaderOfLists(
      (ids) => itemsOfReservations(db, ids),
      (item) => item.reservationId,
    ),
    ticketsOfOrder: loaderOfLists(
      (ids) => ticketsOfOrders(db, ids),
      (ticket) => ticket.orderId,
    ),
    // The organizer's views of a list of events (sales-views.ts), each one query per request tick.
    offerOfEvent: loaderById(
      (ids) => offersByEventIds(db, ids),
      (offer) => offer.eventId,
    ),
    ticketTypesOfEvent: loaderOfLists(
      (ids) => ticketTypesOfEvents(db, ids),
      (type) => type.eventId,
    ),
    heldOfEvent: loaderOfLists(
      (ids) => heldOfEvents(db, ids),
      (row) => row.eventId,
    ),
    grossByTicketTypeOfEvent: loaderOfLists(
      (ids) => grossByTicketTypeOfEvents(db, ids),
      (row) => row.eventId,
    ),
    grossOfEvent: loaderById(
      (ids) => grossOfEvents(db, ids),
      (row) => row.eventId,
    ),
    checkInsOfEvent: loaderOfLists(
      (ids) => checkInsOfEvents(db, ids),
      (row) => row.eventId,
    ),
    /** Whether a buyer shares their contact details with an organization (domain/organizer-sharing.ts). */
    organizerSharing: sharingLoader(db),
  };
}
