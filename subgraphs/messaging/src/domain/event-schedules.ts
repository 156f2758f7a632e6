import { eventCancelled, eventPublished, eventRescheduled } from '@bilten/contracts/catalog';
import type { EventConsumer, Transaction } from '@bilten/platform';
import { markEventCancelled, upsertEventSchedule } from '../db/event-schedules.ts';

/**
 * Messaging's copy of each published event's schedule (db/schema.ts `event_schedules`), fed by
 * catalog's events: what reminders and announcements need without asking catalog. Every row counts
 * as of the event's occurredAt, so redelivered or late older events never undo newer ones.
 */

/** Catalog's `schedule` as its events carry it. */
interface Schedule {
  startsAt: string;
  timezone: string;
  venue: { name: string; city: string } | null;
  onlineUrl: string | null;
}

/** One line for people: the venue's name and city, or "online" for an event without a venue. */
export const placeOf = (schedule: Pick<Schedule, 'venue'>) =>
  schedule.venue ? `${schedule.venue.name}, ${schedule.venue.city}` : 'online';

export const localTimeOf = (schedule: Pick<Schedule, 'startsAt' | 'timezone'>) => ({
  at: new Date(schedule.startsAt).toISOString(),
  timezone: schedule.timezone,
});

export function eventScheduleConsumers(): EventConsumer[] {
  const upsert = async (
    {
      payload,
      occurredAt,
    }: { payload: Schedule & { eventId: string; organizationId: string; title: string }; occurredAt: string },
    tx: Transaction,
  ) =>
    upsertEventSchedule(tx, {
      eventId: payload.eventId,
      organizationId: payload.organizationId,
      title: payload.title,
      startsAt: new Date(payload.startsAt),
      timezone: payload.timezone,
      place: placeOf(payload),
      updatedAt: new Date(occurredAt),
    });
  const published: EventConsumer<typeof eventPublished.payload> = {
    name: 'event-schedules-published',
    event: eventPublished,
    groupCommit: true,
    handle: upsert,
  };
  // Carries the whole new schedule, so it also stands in for a publication not seen yet.
  const rescheduled: EventConsumer<typeof eventRescheduled.payload> = {
    name: 'event-schedules-rescheduled',
    event: eventRescheduled,
    groupCommit: true,
    handle: upsert,
  };
  const cancelled: EventConsumer<typeof eventCancelled.payload> = {
    name: 'event-schedules-cancelled',
    event: eventCancelled,
    groupCommit: true,
    async handle({ payload, occurredAt }, tx) {
      await markEventCancelled(tx, payload, new Date(occurredAt));
    },
  };
  return [published, rescheduled, cancelled] as EventConsumer[];
}
