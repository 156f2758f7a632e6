import type { People } from '@bilten/platform';
import { type PersonalDataSteps, purgeSentEventsAbout, type Transaction } from '@bilten/platform';
import { openBuyer } from '../db/buyers.ts';
import {
  anonymizeOrderChargesOf,
  anonymizeReceiptsOf,
  deletePaymentTokensOf,
  orderChargesOf,
  paymentsOfOrders,
  receiptsOfOrders,
  refundsOfOrders,
  type Subject,
} from '../db/personal-data.ts';
import { eventStore } from '../db/schema.ts';

/**
 * Billing's step of a user's privacy requests (issue 18, GDPR articles 15 and 17).
 *
 * Export: the account's orders as billing charged them (buyer name and address, what was bought),
 * their payments (provider, status, amounts, the card's brand, last four digits and expiry, never
 * the payment-method token), refunds, and receipts and credit notes as issued, buyer fields
 * decrypted; with a verified address, its guest orders too (found by the address's blind index).
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
 * identity they name no one. The buyer fields were sealed per person: the user's key and the key of
 * the address's guest orders are destroyed too, in the same transaction, so every other copy
 * (backups, replicas) of those fields becomes unreadable (crypto-shredding).
 */
export const billingPersonalDataSteps = (keys: People): PersonalDataSteps => ({
  collect: (tx, userId, { verifiedEmail }) =>
    collectBillingData(tx, keys, {
      userId,
      emailIndexes: verifiedEmail ? keys.users.indexes(verifiedEmail, 'email') : [],
    }),
  async erase(tx, { userId, email }) {
    const subject = { userId, emailIndexes: keys.users.indexes(email, 'email') };
    const receipts = await anonymizeReceiptsOf(tx, subject);
    const tokens = await deletePaymentTokensOf(tx, subject);
    const charges = await anonymizeOrderChargesOf(tx, subject);
    const outboxRows = await purgeSentEventsAbout(tx, eventStore, { userId, email });
    const userKey = await keys.users.vault.shred(tx, userId);
    let guestKeys = 0;
    for (const index of subject.emailIndexes) guestKeys += Number(await keys.guests.shred(tx, index));
    return {
      'receipts.anonymized': receipts,
      'payments.tokens_deleted': tokens.deleted,
      'payments.tokens_kept_unsettled': tokens.unsettledKept,
      'order_charges.anonymized': charges,
      'outbox.purged': outboxRows.purged,
      'outbox.unsent_kept': outboxRows.unsentKept,
      'person_keys.destroyed': Number(userKey) + guestKeys,
    };
  },
});

async function collectBillingData(
  tx: Transaction,
  keys: People,
  subject: Subject,
): Promise<Record<string, unknown>> {
  const charges = await orderChargesOf(tx, subject);
  const orderIds = charges.map((charge) => charge.orderId);
  const [payments, refunds, receipts] = await Promise.all([
    paymentsOfOrders(tx, orderIds),
    refundsOfOrders(tx, orderIds),
    receiptsOfOrders(tx, orderIds),
  ]);
  const chargeBuyers = await Promise.all(
    charges.map((charge) => openBuyer(tx, keys, 'order_charges', charge.orderId, charge)),
  );
  const receiptBuyers = await Promise.all(
    receipts.map((receipt) => openBuyer(tx, keys, 'receipts', receipt.id, receipt)),
  );
  return {
    orders: charges.map((charge, i) => ({
      orderId: charge.orderId,
      eventId: charge.eventId,
      eventTitle: charge.eventTitle,
      organizationId: charge.organizationId,
      ...chargeBuyers[i],
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
    receipts: receipts.map((receipt, i) => ({
      id: receipt.id,
      orderId: receipt.orderId,
      kind: receipt.kind,
      number: receipt.number,
      issuedAt: iso(receipt.issuedAt),
      sellerName: receipt.sellerName,
      ...receiptBuyers[i],
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
