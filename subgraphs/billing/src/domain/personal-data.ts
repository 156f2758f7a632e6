import {
  ERASED_EMAIL,
  ERASED_NAME,
  type PersonalDataSteps,
  purgeSentEventsAbout,
  type Transaction,
} from '@bilten/platform';
import {
  anonymizeOrderChargesOf,
  anonymizeReceiptsOf,
  deletePaymentTokensOf,
  orderChargesOfUser,
  paymentsOfOrders,
  receiptsOfOrders,
  refundsOfOrders,
} from '../db/personal-data.ts';
import { eventStore } from '../db/schema.ts';

/**
 * Billing's step of a user's privacy requests (issue 18, GDPR articles 15 and 17).
 *
 * Export: the account's orders as billing charged them (buyer name and address, what was bought),
 * their payments (provider, status, amounts, the card's brand, last four digits and expiry, never
 * the payment-method token), refunds, and receipts and credit notes as issued. Guest orders under
 * an address are not exported: the request names the account only.
 *
 * Erasure: payments, refunds, receipts and credit notes are accounting records that tax law makes
 * the seller keep (in the EU typically 10 years, e.g. Germany's §147 AO; Bosnia and Herzegovina's
 * law on accounting 10 years; erasure cannot shorten it: GDPR art. 17(3)(b)). They stay, amounts,
 * numbers, dates and the card summary (as printed on the receipt) included, with the buyer's name
 * and address replaced by a marker, on the receipts and on billing's copy of the order alike; a
 * receipt's PDF is rendered from its row when asked, so it reads the marker too. The stored
 * payment-method tokens of the person's settled payments are deleted (an unsettled payment keeps
 * its token until it settles: the stale-payment sweep asks the provider with it; a later erasure
 * takes it). Billing keeps no provider customer ids. Account ids stay: with the account erased at
 * identity they name no one.
 */
export const billingPersonalDataSteps: PersonalDataSteps = {
  collect: collectBillingData,
  async erase(tx, subject) {
    const marker = { name: ERASED_NAME, email: ERASED_EMAIL };
    const receipts = await anonymizeReceiptsOf(tx, subject, marker);
    const tokens = await deletePaymentTokensOf(tx, subject);
    const charges = await anonymizeOrderChargesOf(tx, subject, marker);
    const outboxRows = await purgeSentEventsAbout(tx, eventStore, subject);
    return {
      'receipts.anonymized': receipts,
      'payments.tokens_deleted': tokens.deleted,
      'payments.tokens_kept_unsettled': tokens.unsettledKept,
      'order_charges.anonymized': charges,
      'outbox.purged': outboxRows.purged,
      'outbox.unsent_kept': outboxRows.unsentKept,
    };
  },
};

async function collectBillingData(tx: Transaction, userId: string): Promise<Record<string, unknown>> {
  const charges = await orderChargesOfUser(tx, userId);
  const orderIds = charges.map((charge) => charge.orderId);
  const [payments, refunds, receipts] = await Promise.all([
    paymentsOfOrders(tx, orderIds),
    refundsOfOrders(tx, orderIds),
    receiptsOfOrders(tx, orderIds),
  ]);
  return {
    orders: charges.map((charge) => ({
      orderId: charge.orderId,
      eventId: charge.eventId,
      eventTitle: charge.eventTitle,
      organizationId: charge.organizationId,
      buyerName: charge.buyerName,
      buyerEmail: charge.buyerEmail,
      lines: charge.lines,
      subtotal: charge.subtotal,
      fees: charge.fees,
      taxes: charge.taxes,
      amount: charge.amount,
      currency: charge.currency,
      createdAt: iso(charge.createdAt),
    })),
    payments: payments.map((payment) => ({
      id: payment.id,
      orderId: payment.orderId,
      provider: payment.provider,
      status: payment.status,
      amount: payment.amount,
      currency: payment.currency,
      refundedAmount: payment.refundedAmount,
      card: payment.card,
      failureMessage: payment.failureMessage,
      createdAt: iso(payment.createdAt),
    })),
    refunds: refunds.map((refund) => ({
      id: refund.id,
      orderId: refund.orderId,
      amount: refund.amount,
      currency: refund.currency,
      reason: refund.reason,
      status: refund.status,
      createdAt: iso(refund.createdAt),
    })),
    receipts: receipts.map((receipt) => ({
      id: receipt.id,
      orderId: receipt.orderId,
      kind: receipt.kind,
      number: receipt.number,
      issuedAt: iso(receipt.issuedAt),
      sellerName: receipt.sellerName,
      buyerName: receipt.buyerName,
      buyerEmail: receipt.buyerEmail,
      eventTitle: receipt.eventTitle,
      lines: receipt.lines,
      currency: receipt.currency,
      subtotal: receipt.subtotal,
      fees: receipt.fees,
      taxes: receipt.taxes,
      total: receipt.total,
    })),
  };
}

const iso = (date: Date | null) => date?.toISOString() ?? null;
