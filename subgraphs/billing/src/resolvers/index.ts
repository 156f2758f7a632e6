import { confirmPayment, paymentsOfOrder, payOrder, visiblePayment } from '../domain/payments.ts';
import {
  paymentSettingsOf,
  removePaymentProviderAccount,
  setPaymentProviderAccount,
} from '../domain/provider-accounts.ts';
import {
  creditNoteOfRefund,
  creditNotesOfOrder,
  receiptBuyer,
  receiptOfOrder,
  receiptPayments,
  receiptRefunds,
  visibleReceipt,
} from '../domain/receipts.ts';
import { reconciliation } from '../domain/reconciliation.ts';
import {
  refundOrder,
  refundsOfVisibleOrder,
  refundsOfVisiblePayment,
  requestRefund,
} from '../domain/refunds.ts';
import type { PaymentFailureCode, Resolvers } from '../generated/graphql.ts';

const money = (amount: number, currency: string) => ({ amount, currency });

export const resolvers: Resolvers = {
  Query: {
    payment: (_, args, ctx) => visiblePayment(ctx, args),
    receipt: (_, args, ctx) => visibleReceipt(ctx, args),
    reconciliation: (_, args, ctx) => reconciliation(ctx, args),
  },
  Mutation: {
    payOrder: (_, { input }, ctx) => payOrder(ctx, input),
    confirmPayment: (_, { input }, ctx) => confirmPayment(ctx, input),
    refundOrder: (_, { input }, ctx) => refundOrder(ctx, input),
    requestRefund: (_, { input }, ctx) => requestRefund(ctx, input),
    setPaymentProviderAccount: (_, { input }, ctx) => setPaymentProviderAccount(ctx, input),
    removePaymentProviderAccount: (_, { input }, ctx) => removePaymentProviderAccount(ctx, input),
  },
  Payment: {
    __resolveReference: (reference, ctx) => visiblePayment(ctx, reference),
    order: (payment) => ({ id: payment.orderId }),
    amount: (payment) => money(payment.amount, payment.currency),
    // Stored from FAILURE_CODES only (adapters/provider.ts), which the GraphQL enum mirrors.
    failureCode: (payment) => payment.failureCode as PaymentFailureCode | null,
    refunds: (payment, _, ctx) => refundsOfVisiblePayment(ctx, payment),
  },
  Refund: {
    amount: (refund) => money(refund.amount, refund.currency),
    failureCode: (refund) => refund.failureCode as PaymentFailureCode | null,
    creditNote: (refund, _, ctx) => creditNoteOfRefund(ctx, refund),
  },
  Order: {
    payments: (order, _, ctx) => paymentsOfOrder(ctx, order),
    refunds: (order, _, ctx) => refundsOfVisibleOrder(ctx, order),
    receipt: (order, _, ctx) => receiptOfOrder(ctx, order),
    creditNotes: (order, _, ctx) => creditNotesOfOrder(ctx, order),
  },
  Organization: {
    __resolveReference: (reference) => ({ id: reference.id }),
    paymentSettings: (organization, _, ctx) => paymentSettingsOf(ctx, organization),
  },
  Receipt: {
    seller: (receipt) => ({ organizationId: receipt.organizationId, name: receipt.sellerName }),
    buyer: async (receipt, _, ctx) => {
      const buyer = await receiptBuyer(ctx, receipt);
      return { name: buyer.buyerName, email: buyer.buyerEmail };
    },
    lines: (receipt) =>
      receipt.lines.map((line) => ({
        description: line.description,
        quantity: line.quantity,
        unitPrice: money(line.unitAmount, receipt.currency),
        amount: money(line.amount, receipt.currency),
      })),
    subtotal: (receipt) => money(receipt.subtotal, receipt.currency),
    fees: (receipt) => money(receipt.fees, receipt.currency),
    taxes: (receipt) =>
      receipt.taxes > 0 || receipt.taxBasisPoints > 0
        ? [
            {
              name: 'Tax',
              rateBasisPoints: receipt.taxBasisPoints,
              amount: money(receipt.taxes, receipt.currency),
            },
          ]
        : [],
    total: (receipt) => money(receipt.total, receipt.currency),
    creditedReceipt: (receipt, _, ctx) =>
      receipt.creditedReceiptId ? visibleReceipt(ctx, { id: receipt.creditedReceiptId }) : null,
    payments: (receipt, _, ctx) => receiptPayments(ctx, receipt),
    refunds: (receipt, _, ctx) => receiptRefunds(ctx, receipt),
    pdfUrl: (receipt) => `/receipts/${receipt.id}.pdf`,
  },
};
