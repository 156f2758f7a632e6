import { decodeCursor, pageSize, toConnection } from '@bilten/platform';
import { newestEvents } from '../db/queries.ts';
import { addTicketType, createEvent } from '../domain/events.ts';
import type { Resolvers } from '../generated/graphql.ts';

export const resolvers: Resolvers = {
  Query: {
    event: (_, { id }, { loaders }) => loaders.event.load(id),
    ticketType: (_, { id }, { loaders }) => loaders.ticketType.load(id),
    events: async (_, { first, after }, { db }) => {
      const size = pageSize(first);
      return toConnection(await newestEvents(db, size + 1, after ? decodeCursor(after) : undefined), size);
    },
  },
  Mutation: {
    createEvent: (_, { input }, { db }) => createEvent(db, input),
    addTicketType: (_, { input }, { db }) => addTicketType(db, input),
  },
  Event: {
    __resolveReference: ({ id }, { loaders }) => loaders.event.load(id),
    organizer: (event) => ({ id: event.organizationId }),
    ticketTypes: (event, _, { loaders }) => loaders.ticketTypesOfEvent.load(event.id),
  },
  TicketType: {
    __resolveReference: ({ id }, { loaders }) => loaders.ticketType.load(id),
    price: (ticketType) => ({ amount: ticketType.priceAmount, currency: ticketType.priceCurrency }),
    event: async (ticketType, _, { loaders }) => (await loaders.event.load(ticketType.eventId))!,
  },
};
