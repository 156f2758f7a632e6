import {
  decodeCursor,
  isUuid,
  pageSize,
  requireOrgAccess,
  requireOrgRole,
  selectsField,
  toConnection,
} from '@bilten/platform';
import { z } from 'zod';
import type { Context } from '../context.ts';
import { auditEntries, versionsOf } from '../db/queries.ts';
import type { EventRow, TicketTypeRow } from '../db/schema.ts';
import {
  addOccurrences,
  addTicketType,
  cancelEvent,
  canSeeEvent,
  createEvent,
  deleteEvent,
  duplicateEvent,
  publishEvent,
  READ_EVENTS,
  restoreEventVersion,
  seesAllEventsOf,
  unpublishEvent,
  updateEvent,
  updateTicketType,
} from '../domain/events.ts';
import { MAX_INT, searchEventPage } from '../domain/search.ts';
import type { Resolvers } from '../generated/graphql.ts';

/** A well-formed id no organization has: what a malformed organization key matches. */
const NO_ORGANIZATION = '00000000-0000-0000-0000-000000000000';

/** An event the caller may see, or null: drafts exist only for their organization's members. */
async function visibleEvent(id: string, { loaders, viewer }: Context): Promise<EventRow | null> {
  const event = await loaders.event.load(id);
  return event && canSeeEvent(viewer, event) ? event : null;
}

/** A ticket type the caller may see, or null: of an event they see, and hidden ones only for insiders. */
async function visibleTicketType(id: string, context: Context): Promise<TicketTypeRow | null> {
  const ticketType = await context.loaders.ticketType.load(id);
  if (!ticketType) return null;
  const event = await visibleEvent(ticketType.eventId, context);
  return event && (!ticketType.hidden || seesAllEventsOf(context.viewer, event.organizationId))
    ? ticketType
    : null;
}

export const resolvers: Resolvers = {
  Query: {
    event: (_, { id }, context) => visibleEvent(id, context),
    ticketType: (_, { id }, context) => visibleTicketType(id, context),
    events: (_, args, { db, viewer }, info) =>
      searchEventPage(db, viewer, args, { withTotal: selectsField(info, 'totalCount') }),
    auditLog: async (_, { organizationId, first, after }, { db, viewer }) => {
      // People only: entries carry staff members' IP addresses and user agents.
      requireOrgRole(viewer, organizationId, 'ADMIN');
      const size = pageSize(first);
      const rows = await auditEntries(db, organizationId, size + 1, after ? decodeCursor(after) : undefined);
      return toConnection(rows, size);
    },
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
    __resolveReference: ({ id }, context) => visibleEvent(id, context),
    status: (event) => (event.status === 'PUBLISHED' && event.endsAt <= new Date() ? 'ENDED' : event.status),
    venue: (event) =>
      event.venueName
        ? {
            name: event.venueName,
            address: event.venueAddress ?? '',
            city: event.venueCity ?? '',
            country: event.venueCountry ?? '',
            latitude: event.venueLatitude,
            longitude: event.venueLongitude,
          }
        : null,
    refundPolicy: (event) => ({
      kind: event.refundPolicy,
      daysBeforeStart: event.refundDaysBeforeStart,
      percent: event.refundPercent,
    }),
    organizer: (event) => ({ id: event.organizationId }),
    ticketTypes: async (event, _, { loaders, viewer }) => {
      const types = await loaders.ticketTypesOfEvent.load(event.id);
      return seesAllEventsOf(viewer, event.organizationId) ? types : types.filter((type) => !type.hidden);
    },
    occurrences: async (event, _, { loaders, viewer }) =>
      event.seriesId
        ? (await loaders.occurrencesOfSeries.load(event.seriesId)).filter((occurrence) =>
            canSeeEvent(viewer, occurrence),
          )
        : [event],
    versions: async (event, { first, after }, { db, viewer }) => {
      requireOrgAccess(viewer, event.organizationId, READ_EVENTS);
      const size = pageSize(first);
      const before = after ? decodeCursor(after, z.number().int().min(1).max(MAX_INT)) : undefined;
      return toConnection(await versionsOf(db, event.id, size + 1, before), size, (row) => row.version);
    },
  },
  TicketType: {
    __resolveReference: ({ id }, context) => visibleTicketType(id, context),
    price: (ticketType) => ({ amount: ticketType.priceAmount, currency: ticketType.priceCurrency }),
    event: async (ticketType, _, { loaders }) => (await loaders.event.load(ticketType.eventId))!,
  },
  EventConnection: {
    totalCount: (page) => page.count(),
  },
  Organization: {
    __resolveReference: ({ id }) => ({ id }),
    // Other subgraphs may hand us any string as an organization key; only UUIDs can match.
    events: (organization, args, { db, viewer }, info) =>
      searchEventPage(db, viewer, args, {
        organizationId: isUuid(organization.id) ? organization.id.toLowerCase() : NO_ORGANIZATION,
        withTotal: selectsField(info, 'totalCount'),
      }),
  },
};
