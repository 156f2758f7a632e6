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
