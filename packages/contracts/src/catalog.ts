import { z } from 'zod';
import { defineEvent } from './define.ts';

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
