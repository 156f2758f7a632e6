import { createOrder } from '../domain/orders.ts';
import type { Resolvers } from '../generated/graphql.ts';

export const resolvers: Resolvers = {
  Query: {
    order: (_, { id }, { loaders }) => loaders.order.load(id),
  },
  Mutation: {
    createOrder: (_, { input }, { viewer, db }) => createOrder(viewer, db, input),
  },
  Order: {
    __resolveReference: ({ id }, { loaders }) => loaders.order.load(id),
    buyer: (order) => ({ id: order.buyerId }),
    event: (order) => ({ id: order.eventId }),
    ticketType: (order) => ({ id: order.ticketTypeId }),
  },
};
