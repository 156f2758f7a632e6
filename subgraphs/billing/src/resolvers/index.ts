import { confirmPayment, paymentsOfOrder, payOrder, visiblePayment } from '../domain/payments.ts';
import {
  refundOrder,
  refundsOfVisibleOrder,
  refundsOfVisiblePayment,
  requestRefund,
} from '../domain/refunds.ts';
import type { PaymentFailureCode, Resolvers } from '../generated/graphql.ts';

export const resolvers: Resolvers = {
  Query: {
    payment: (_, args, ctx) => visiblePayment(ctx, args),
  },
  Mutation: {
    payOrder: (_, { input }, ctx) => payOrder(ctx, input),
    confirmPayment: (_, { input }, ctx) => confirmPayment(ctx, input),
    refundOrder: (_, { input }, ctx) => refundOrder(ctx, input),
    requestRefund: (_, { input }, ctx) => requestRefund(ctx, input),
  },
  Payment: {
    __resolveReference: (reference, ctx) => visiblePayment(ctx, reference),
    order: (payment) => ({ id: payment.orderId }),
    amount: (payment) => ({ amount: payment.amount, currency: payment.currency }),
    // Stored from FAILURE_CODES only (adapters/provider.ts), which the GraphQL enum mirrors.
    failureCode: (payment) => payment.failureCode as PaymentFailureCode | null,
    refunds: (payment, _, ctx) => refundsOfVisiblePayment(ctx, payment),
  },
  Order: {
    payments: (order, _, ctx) => paymentsOfOrder(ctx, order),
    refunds: (order, _, ctx) => refundsOfVisibleOrder(ctx, order),
  },
};
