import { paymentSucceeded, refundSucceeded } from '@bilten/contracts/billing';
import type { Transaction } from '@bilten/platform';
import { addRefunded } from '../db/queries.ts';
import type { PaymentRow, RefundRow } from '../db/schema.ts';
import { issueCreditNote, issueReceipt, type ReceiptDeps } from './receipts.ts';

// What follows a payment or a refund turning SUCCEEDED, whoever learnt it first (the provider's
// answer to our call, or its webhook): one function each, so both paths have the same effects.

/** In the transaction that made `payment` SUCCEEDED: paymentSucceeded, and the order's receipt. */
export async function completePayment(
  tx: Transaction,
  deps: ReceiptDeps,
  payment: PaymentRow,
): Promise<void> {
  await deps.outbox.publish(tx, paymentSucceeded, payment.id, {
    paymentId: payment.id,
    orderId: payment.orderId,
    amount: { amount: payment.amount, currency: payment.currency },
  });
  await issueReceipt(tx, deps, payment);
}

/**
 * In the transaction that made `refund` SUCCEEDED: the money counts as given back on its payment,
 * refundSucceeded, and its credit note.
 */
export async function completeRefund(tx: Transaction, deps: ReceiptDeps, refund: RefundRow): Promise<void> {
  await addRefunded(tx, refund.paymentId, refund.amount);
  await deps.outbox.publish(tx, refundSucceeded, refund.paymentId, {
    refundId: refund.id,
    orderId: refund.orderId,
    amount: { amount: refund.amount, currency: refund.currency },
  });
  await issueCreditNote(tx, deps, refund);
}
