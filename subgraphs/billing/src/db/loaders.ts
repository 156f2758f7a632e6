import { type Database, loaderById, loaderOfLists } from '@bilten/platform';
import { orderChargesByIds, paymentsByIds, paymentsByOrderIds } from './queries.ts';

export function createLoaders(db: Database) {
  return {
    payment: loaderById((ids) => paymentsByIds(db, ids)),
    paymentsOfOrder: loaderOfLists(
      (ids) => paymentsByOrderIds(db, ids),
      (row) => row.orderId,
    ),
    /** Who may see an order's payments: its buyer and organization (order_charges). */
    orderCharge: loaderById(
      (ids) => orderChargesByIds(db, ids),
      (row) => row.orderId,
    ),
  };
}
