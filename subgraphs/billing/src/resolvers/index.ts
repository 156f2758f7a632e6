import { recordPayment } from '../domain/payments.ts';
import type { Resolvers } from '../generated/graphql.ts';

export const resolvers: Resolvers = {
  Query: {
    payment: (_, { id }, { loaders }) => loaders.payment.load(id),
  },
  Mutation: {
    recordPayment: (_, { input }, { db }) => recordPayment(db, input),
  },
  Payment: {
    __resolveReference: ({ id }, { loaders }) => loaders.payment.load(id),
    order: (payment) => ({ id: payment.orderId }),
    amount: (payment) => ({ amount: payment.amount, currency: payment.currency }),
  },
  Order: {
    payments: (order, _, { loaders }) => loaders.paymentsOfOrder.load(order.id),
  },
};
