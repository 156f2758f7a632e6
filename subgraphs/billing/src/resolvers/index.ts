import { paymentsOfOrder, recordPayment, visiblePayment } from '../domain/payments.ts';
import type { Resolvers } from '../generated/graphql.ts';

export const resolvers: Resolvers = {
  Query: {
    payment: (_, args, ctx) => visiblePayment(ctx, args),
  },
  Mutation: {
    recordPayment: (_, { input }, ctx) => recordPayment(ctx, input),
  },
  Payment: {
    __resolveReference: (reference, ctx) => visiblePayment(ctx, reference),
    order: (payment) => ({ id: payment.orderId }),
    amount: (payment) => ({ amount: payment.amount, currency: payment.currency }),
  },
  Order: {
    payments: (order, _, ctx) => paymentsOfOrder(ctx, order),
  },
};
