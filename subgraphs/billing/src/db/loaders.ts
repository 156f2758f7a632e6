import { type Database, loaderById, loaderOfLists } from '@bilten/platform';
import { orderChargesByIds, paymentsByIds, paymentsByOrderIds } from './queries.ts';
import { creditNotesByRefundIds, receiptsByIds, receiptsByOrderIds } from './receipts.ts';

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
    receipt: loaderById((ids) => receiptsByIds(db, ids)),
    /** An order's receipt and credit notes, oldest first. */
    receiptsOfOrder: loaderOfLists(
      (ids) => receiptsByOrderIds(db, ids),
      (row) => row.orderId,
    ),
    creditNoteOfRefund: loaderById(
      (ids) => creditNotesByRefundIds(db, ids),
      (row) => row.refundId!,
    ),
  };
}
