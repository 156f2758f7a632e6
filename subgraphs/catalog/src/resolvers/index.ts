import { selectsField } from '@bilten/platform';
import {
  referencedEvent,
  referencedTicketType,
  visibleEvent,
  visibleTicketType,
  visibleTicketTypes,
} from '../domain/access.ts';
import { refundPolicyOf, venueOf } from '../domain/event-columns.ts';
import { createEvent, restoreEventVersion, updateEvent } from '../domain/event-definition.ts';
import { auditLog, eventVersions } from '../domain/history.ts';
import { cancelEvent, deleteEvent, publishEvent, unpublishEvent } from '../domain/lifecycle.ts';
import { ticketsSoldOf, ticketTypeSoldOf } from '../domain/sales.ts';
import { searchEventPage } from '../domain/search.ts';
import { addOccurrences, duplicateEvent, occurrencesOf } from '../domain/series.ts';
import { addTicketType, eventOfTicketType, updateTicketType } from '../domain/ticket-types.ts';
import type { Resolvers } from '../generated/graphql.ts';

export const resolvers: Resolvers = {
  Query: {
    event: (_, { id }, context) => visibleEvent(context, id),
    ticketType: (_, { id }, context) => visibleTicketType(context, id),
    events: (_, args, context, info) =>
      searchEventPage(context, args, { withTotal: selectsField(info, 'totalCount') }),
    auditLog: (_, args, context) => auditLog(context, args),
  },
  Mutation: {
    createEvent: (_, { input }, context) => createEvent(context, input),
    updateEvent: (_, { input }, context) => updateEvent(context, input),
    addTicketType: (_, { input }, context) => addTicketType(context, input),
    updateTicketType: (_, { input }, context) => updateTicketType(context, input),
    publishEvent: (_, { input }, context) => publishEvent(context, input),
    unpublishEvent: (_, { input }, context) => unpublishEvent(context, input),
    cancelEvent: (_, { input }, context) => cancelEvent(context, input),
    deleteEvent: (_, { input }, context) => deleteEvent(context, input),
    duplicateEvent: (_, { input }, context) => duplicateEvent(context, input),
    addOccurrences: (_, { input }, context) => addOccurrences(context, input),
    restoreEventVersion: (_, { input }, context) => restoreEventVersion(context, input),
  },
  Event: {
    __resolveReference: ({ id }, context) => referencedEvent(context, id),
    status: (event) => (event.status === 'PUBLISHED' && event.endsAt <= new Date() ? 'ENDED' : event.status),
    venue: (event) => venueOf(event),
    refundPolicy: (event) => refundPolicyOf(event),
    organizer: (event) => ({ id: event.organizationId }),
    ticketTypes: (event, _, context) => visibleTicketTypes(context, event),
    occurrences: (event, args, context) => occurrencesOf(context, event, args),
    versions: (event, args, context) => eventVersions(context, event, args),
    ticketsSold: (event, _, context) => ticketsSoldOf(context, event),
  },
  TicketType: {
    __resolveReference: ({ id }, context) => referencedTicketType(context, id),
    price: (ticketType) => ({ amount: ticketType.priceAmount, currency: ticketType.priceCurrency }),
    event: (ticketType, _, context) => eventOfTicketType(context, ticketType),
    ticketsSold: (ticketType, _, context) => ticketTypeSoldOf(context, ticketType),
  },
  EventConnection: {
    totalCount: (page) => page.count(),
  },
  Organization: {
    __resolveReference: ({ id }) => ({ id }),
    events: (organization, args, context, info) =>
      searchEventPage(context, args, {
        organizationId: organization.id,
        withTotal: selectsField(info, 'totalCount'),
      }),
  },
};
