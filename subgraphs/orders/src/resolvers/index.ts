import { createOrder, visibleOrder } from '../domain/orders.ts';
import type { Resolvers } from '../generated/graphql.ts';

export const resolvers: Resolvers = {
  Query: {
    order: (_, args, ctx) => visibleOrder(ctx, args),
  },
  Mutation: {
    createOrder: (_, { input }, ctx) => createOrder(ctx, input),
  },
  Order: {
    __resolveReference: (reference, ctx) => visibleOrder(ctx, reference),
    buyer: (order) => ({ id: order.buyerId }),
    event: (order) => ({ id: order.eventId }),
    ticketType: (order) => ({ id: order.ticketTypeId }),
  },
};
