import { type Database, loaderById, loaderOfLists } from '@bilten/platform';
import { paymentsByIds, paymentsByOrderIds } from './queries.ts';

export function createLoaders(db: Database) {
  return {
    payment: loaderById((ids) => paymentsByIds(db, ids)),
    paymentsOfOrder: loaderOfLists(
      (ids) => paymentsByOrderIds(db, ids),
      (row) => row.orderId,
    ),
  };
}
