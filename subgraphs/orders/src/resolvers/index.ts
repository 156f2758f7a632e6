import { createOrder, visibleOrder } from '../domain/orders.ts';
import { releaseReservation, reserveTickets, visibleReservation } from '../domain/reservations.ts';
import type { Resolvers } from '../generated/graphql.ts';

export const resolvers: Resolvers = {
  Query: {
    order: (_, args, ctx) => visibleOrder(ctx, args),
    reservation: (_, args, ctx) => visibleReservation(ctx, args),
  },
  Mutation: {
    createOrder: (_, { input }, ctx) => createOrder(ctx, input),
    reserveTickets: (_, { input }, ctx) => reserveTickets(ctx, input),
    releaseReservation: (_, { input }, ctx) => releaseReservation(ctx, input),
  },
  Order: {
    __resolveReference: (reference, ctx) => visibleOrder(ctx, reference),
    buyer: (order) => ({ id: order.buyerId }),
    event: (order) => ({ id: order.eventId }),
    ticketType: (order) => ({ id: order.ticketTypeId }),
  },
};
