import { createOrder, orderSeenBy } from '../domain/orders.ts';
import type { Resolvers } from '../generated/graphql.ts';

export const resolvers: Resolvers = {
  Query: {
    order: async (_, { id }, { loaders, viewer }) => orderSeenBy(viewer, await loaders.order.load(id)),
  },
  Mutation: {
    createOrder: (_, { input }, { viewer, db }) => createOrder(viewer, db, input),
  },
  Order: {
    __resolveReference: async ({ id }, { loaders, viewer }) =>
      orderSeenBy(viewer, await loaders.order.load(id)),
    buyer: (order) => ({ id: order.buyerId }),
    event: (order) => ({ id: order.eventId }),
    ticketType: (order) => ({ id: order.ticketTypeId }),
  },
};
