import { type Database, loaderById, loaderOfLists } from '@bilten/platform';
import { ordersByIds } from './queries.ts';
import { itemsOfReservations, reservationsByIds } from './reservations.ts';
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
  };
}
