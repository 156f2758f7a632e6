import { z } from 'zod';
import {
  defineEvent,
  personalDataErasedPayload,
  personalDataExportedPayload,
  securityEventsPayload,
} from './define.ts';

const venue = z
  .object({
    name: z.string(),
    address: z.string(),
    city: z.string(),
    country: z.string(),
    latitude: z.number().nullable(),
    longitude: z.number().nullable(),
  })
  .nullable();

/** When and where: what `rescheduled` reports before and after. */
const schedule = z.object({
  startsAt: z.iso.datetime(),
  endsAt: z.iso.datetime(),
  timezone: z.string(),
  venue,
  onlineUrl: z.string().nullable(),
});

/** An event went on sale; messaging tells the organizer's followers. */
export const eventPublished = defineEvent({
  type: 'bilten.catalog.event.published',
  aggregateType: 'event',
  payload: schedule.extend({
    eventId: z.uuid(),
    organizationId: z.uuid(),
    title: z.string(),
    visibility: z.enum(['PUBLIC', 'UNLISTED']),
  }),
});

/** A published event moved in time or place; ticket holders are told. */
export const eventRescheduled = defineEvent({
  type: 'bilten.catalog.event.rescheduled',
  aggregateType: 'event',
  payload: schedule.extend({
    eventId: z.uuid(),
    organizationId: z.uuid(),
    title: z.string(),
    previous: schedule,
  }),
});

/** An event will not take place (cancelled, or deleted with sales): orders cancel and refund. */
export const eventCancelled = defineEvent({
  type: 'bilten.catalog.event.cancelled',
  aggregateType: 'event',
  payload: z.object({
    eventId: z.uuid(),
    organizationId: z.uuid(),
    title: z.string(),
    reason: z.string().nullable(),
    ticketsSold: z.number().int().nonnegative(),
  }),
});

/** A closure request catalog refused: upcoming events have sold tickets. */
export const organizationClosureRefused = defineEvent({
  type: 'bilten.catalog.organization.closure_refused',
  aggregateType: 'organization',
  payload: z.object({
    organizationId: z.uuid(),
    closureId: z.uuid(),
    /** For people: which events stand in the way and what to do. */
    reason: z.string(),
    events: z.array(
      z.object({
        eventId: z.uuid(),
        title: z.string(),
        startsAt: z.iso.datetime(),
        ticketsSold: z.number().int().positive(),
      }),
    ),
  }),
});

/** Catalog cancelled every upcoming event of a closing organization (each with its own `cancelled`). */
export const organizationEventsClosed = defineEvent({
  type: 'bilten.catalog.organization.events_closed',
  aggregateType: 'organization',
  payload: z.object({
    organizationId: z.uuid(),
    closureId: z.uuid(),
    cancelledEventIds: z.array(z.uuid()),
  }),
});

/**
 * Everything selling needs of one event, whole, after every change to an event that is or was on
 * sale (publish, edits, ticket types, unpublish, cancel): orders keeps its own copy from these and
 * never asks catalog during a sale. Its own aggregate type, so its sequence numbers have no gaps
 * for an ordered consumer (the event's other events count theirs apart).
 */
export const eventOfferChanged = defineEvent({
  type: 'bilten.catalog.event.offer_changed',
  aggregateType: 'event_offer',
  payload: z.object({
    eventId: z.uuid(),
    organizationId: z.uuid(),
    title: z.string(),
    status: z.enum(['DRAFT', 'PUBLISHED', 'CANCELLED', 'ENDED']),
    startsAt: z.iso.datetime(),
    endsAt: z.iso.datetime(),
    timezone: z.string(),
    currency: z.string().length(3),
    /** Seats shared by all ticket types. */
    capacity: z.number().int().positive(),
    refundPolicy: z.object({
      kind: z.enum(['FULL_UNTIL', 'PARTIAL', 'NONE']),
      daysBeforeStart: z.number().int().nullable(),
      percent: z.number().int().nullable(),
    }),
    ticketTypes: z.array(
      z.object({
        ticketTypeId: z.uuid(),
        name: z.string(),
        /** In the event's currency, minor units. */
        priceAmount: z.number().int().nonnegative(),
        capacity: z.number().int().positive(),
        salesStartAt: z.iso.datetime().nullable(),
        salesEndAt: z.iso.datetime().nullable(),
        minPerOrder: z.number().int().positive(),
        maxPerOrder: z.number().int().positive(),
        /** Most tickets of this type one buyer may hold or buy for the event; null: no limit. */
        maxPerBuyer: z.number().int().positive().nullable(),
        /** Whether its tickets may be transferred to someone else. */
        transferable: z.boolean(),
        hidden: z.boolean(),
      }),
    ),
  }),
});

/** Security events this service saw (issue 18): identity's monitoring records them and runs its detection rules. */
export const securityEventsRecorded = defineEvent({
  type: 'bilten.catalog.security_event.recorded',
  aggregateType: 'security_event',
  payload: securityEventsPayload,
});

/** This service's part of a user's data export (issue 18), answering identity's `dataExportRequested`. */
export const personalDataExported = defineEvent({
  type: 'bilten.catalog.personal_data.exported',
  aggregateType: 'privacy_request',
  payload: personalDataExportedPayload,
});

/** This service erased or anonymized what it held about a user (issue 18), answering `accountErasureRequested`. */
export const personalDataErased = defineEvent({
  type: 'bilten.catalog.personal_data.erased',
  aggregateType: 'privacy_request',
  payload: personalDataErasedPayload,
});
