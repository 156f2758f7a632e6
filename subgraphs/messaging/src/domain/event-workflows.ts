import { eventCancelled, eventRescheduled } from '@bilten/contracts/catalog';
import { announcementPosted, eventReminderDue } from '@bilten/contracts/messaging';
import type { EventConsumer } from '@bilten/platform';
import { announcementById } from '../db/announcements.ts';
import { eventScheduleById } from '../db/event-schedules.ts';
import { organizationNameOf } from '../db/recipients.ts';
import { localTimeOf, placeOf } from './event-schedules.ts';
import { holdersOf } from './order-book.ts';
import { defineWorkflow, type WorkflowDeps, workflowConsumer } from './workflows.ts';

/**
 * The workflows that tell an event's ticket holders (order-book.ts `holdersOf`: paid and not
 * refunded, transferred tickets' new holders included) about their event: a new time or place, a
 * cancellation with their refund, the reminder a day before, and their organizer's announcements.
 */

const eventUrl = (deps: WorkflowDeps, eventId: string) =>
  `${deps.site.replace(/\/+$/, '')}/events/${encodeURIComponent(eventId)}`;

/**
 * Rescheduled → the old and new start and place, each start in the event's zone. A change holders
 * would not see (only the end moved) tells nobody.
 */
export const eventRescheduledWorkflow = defineWorkflow({
  name: 'event-rescheduled-holders',
  kind: 'eventRescheduled',
  event: eventRescheduled,
  channels: ['EMAIL', 'IN_APP', 'WEB_PUSH', 'SMS'],
  recipients: ({ payload }, tx, deps) => holdersOf(tx, deps.keys, payload.eventId),
  async data({ payload }, _tx, deps) {
    const previous = { starts: localTimeOf(payload.previous), place: placeOf(payload.previous) };
    const current = { starts: localTimeOf(payload), place: placeOf(payload) };
    const moved =
      previous.starts.at !== current.starts.at ||
      previous.starts.timezone !== current.starts.timezone ||
      previous.place !== current.place;
    if (!moved) return null;
    return {
      event: { id: payload.eventId, title: payload.title, url: eventUrl(deps, payload.eventId) },
      previous,
      current,
    };
  },
  about: ({ payload }) => ({ organizationId: payload.organizationId, eventId: payload.eventId }),
});

/**
 * Cancelled → the reason, and to each holder what they paid for the event, which orders refund in
 * full (null for free tickets: nothing to wait for).
 */
export const eventCancelledWorkflow = defineWorkflow({
  name: 'event-cancelled-holders',
  kind: 'eventCancelled',
  event: eventCancelled,
  channels: ['EMAIL', 'IN_APP', 'WEB_PUSH', 'SMS'],
  async *recipients({ payload, occurredAt }, tx, deps) {
    // Orders cancels and refunds on this same event: those releases may reach the book first.
    for await (const holders of holdersOf(tx, deps.keys, payload.eventId, new Date(occurredAt)))
      yield holders.map(({ total, ...holder }) => ({
        ...holder,
        data: { refund: total.amount > 0 ? total : null },
      }));
  },
  data: async ({ payload }) => ({
    event: { id: payload.eventId, title: payload.title },
    reason: payload.reason,
    refund: null,
  }),
  about: ({ payload }) => ({ organizationId: payload.organizationId, eventId: payload.eventId }),
});

/**
 * Reminder due (reminders.ts) → when and where, from the schedule as it is now. A reminder for a
 * start that has moved since (its new start gets its own) or of an event cancelled since tells nobody.
 */
export const eventReminderWorkflow = defineWorkflow({
  name: 'event-reminder-holders',
  kind: 'eventReminder',
  event: eventReminderDue,
  channels: ['EMAIL', 'IN_APP', 'WEB_PUSH'],
  recipients: ({ payload }, tx, deps) => holdersOf(tx, deps.keys, payload.eventId),
  async data({ payload }, tx, deps) {
    const schedule = await eventScheduleById(tx, payload.eventId);
    if (!schedule || schedule.cancelledAt || schedule.startsAt.getTime() !== Date.parse(payload.startsAt))
      return null;
    return {
      event: {
        id: schedule.eventId,
        title: schedule.title,
        url: eventUrl(deps, schedule.eventId),
        starts: localTimeOf({ startsAt: payload.startsAt, timezone: schedule.timezone }),
        place: schedule.place,
      },
    };
  },
  about: ({ payload }) => ({ organizationId: payload.organizationId, eventId: payload.eventId }),
});

/** Announcement posted (announcements.ts) → its subject and body, from the organizer by name. */
export const announcementWorkflow = defineWorkflow({
  name: 'announcement-holders',
  kind: 'announcement',
  event: announcementPosted,
  channels: ['EMAIL', 'IN_APP', 'WEB_PUSH'],
  recipients: ({ payload }, tx, deps) => holdersOf(tx, deps.keys, payload.eventId),
  async data({ payload }, tx, deps) {
    const announcement = await announcementById(tx, payload.announcementId);
    const schedule = await eventScheduleById(tx, payload.eventId);
    if (!announcement || !schedule) return null;
    const organizerName = await organizationNameOf(tx, payload.organizationId);
    return {
      event: { id: schedule.eventId, title: schedule.title, url: eventUrl(deps, schedule.eventId) },
      organizer: { name: organizerName ?? '' },
      subject: announcement.subject,
      body: announcement.body,
    };
  },
  about: ({ payload }) => ({ organizationId: payload.organizationId, eventId: payload.eventId }),
});

/** The four as consumers, for events.ts. */
export const eventWorkflowConsumers = (deps: WorkflowDeps): EventConsumer[] =>
  [
    workflowConsumer(eventRescheduledWorkflow, deps),
    workflowConsumer(eventCancelledWorkflow, deps),
    workflowConsumer(eventReminderWorkflow, deps),
    workflowConsumer(announcementWorkflow, deps),
  ] as EventConsumer[];
