import { paymentSeenBy, recordPayment } from '../domain/payments.ts';
import type { Resolvers } from '../generated/graphql.ts';

export const resolvers: Resolvers = {
  Query: {
    payment: async (_, { id }, { loaders, viewer }) => paymentSeenBy(viewer, await loaders.payment.load(id)),
  },
  Mutation: {
    recordPayment: (_, { input }, ctx) => recordPayment(ctx, input),
  },
  Payment: {
    __resolveReference: async ({ id }, { loaders, viewer }) =>
      paymentSeenBy(viewer, await loaders.payment.load(id)),
    order: (payment) => ({ id: payment.orderId }),
    amount: (payment) => ({ amount: payment.amount, currency: payment.currency }),
  },
  Order: {
    payments: (order, _, { loaders }) => loaders.paymentsOfOrder.load(order.id),
  },
};
