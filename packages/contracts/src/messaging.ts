import { z } from 'zod';
import {
  defineEvent,
  personalDataAccessesPayload,
  personalDataErasedPayload,
  personalDataExportedPayload,
  securityEventsPayload,
  usageJumpedPayload,
} from './define.ts';

/**
 * An in-app notification was stored (published in the same transaction): the gateway pushes
 * `notificationReceived` and `unreadNotificationCount` to the recipient's open subscriptions.
 */
export const notificationCreated = defineEvent({
  type: 'bilten.messaging.notification.created',
  aggregateType: 'notification',
  payload: z.object({ notificationId: z.uuid(), recipientId: z.uuid() }),
});

/**
 * `count` of the recipient's notifications became read (markNotificationsRead, archiveNotification;
 * published in the same transaction, never for a no-op): the gateway pushes the recipient's
 * `unreadNotificationCount` again, read fresh when pushed: the recipient is its key.
 */
export const notificationsRead = defineEvent({
  type: 'bilten.messaging.notifications.read',
  aggregateType: 'notification_inbox',
  payload: z.object({ recipientId: z.uuid(), count: z.number().int().positive() }),
});

/**
 * An event's start is less than a day away (messaging's reminder sweep, once per event and start
 * time): messaging's own reminder workflow tells the event's ticket holders. Keyed by the start, so
 * a rescheduled event is reminded again for its new time.
 */
export const eventReminderDue = defineEvent({
  type: 'bilten.messaging.event_reminder.due',
  aggregateType: 'event',
  payload: z.object({ eventId: z.uuid(), organizationId: z.uuid(), startsAt: z.iso.datetime() }),
});

/**
 * An organizer's ADMIN posted an announcement to an event's ticket holders (`sendAnnouncement`):
 * messaging's announcement workflow delivers it on each holder's channels.
 */
export const announcementPosted = defineEvent({
  type: 'bilten.messaging.announcement.posted',
  aggregateType: 'announcement',
  payload: z.object({
    announcementId: z.uuid(),
    eventId: z.uuid(),
    organizationId: z.uuid(),
    postedBy: z.uuid(),
  }),
});

/**
 * Someone read another person's personal data that messaging serves (issue 18): identity appends it to
 * the tamper-evident access log. Published in a transaction of its own (a read has none).
 */
export const personalDataAccessed = defineEvent({
  type: 'bilten.messaging.personal_data.accessed',
  aggregateType: 'user',
  payload: personalDataAccessesPayload,
});

/** Security events this service saw (issue 18): identity's monitoring records them and runs its detection rules. */
export const securityEventsRecorded = defineEvent({
  type: 'bilten.messaging.security_event.recorded',
  aggregateType: 'security_event',
  payload: securityEventsPayload,
});

/** This service's part of a user's data export (issue 18), answering identity's `dataExportRequested`. */
export const personalDataExported = defineEvent({
  type: 'bilten.messaging.personal_data.exported',
  aggregateType: 'privacy_request',
  payload: personalDataExportedPayload,
});

/** This service erased or anonymized what it held about a user (issue 18), answering `accountErasureRequested`. */
export const personalDataErased = defineEvent({
  type: 'bilten.messaging.personal_data.erased',
  aggregateType: 'privacy_request',
  payload: personalDataErasedPayload,
});

/** An organization's usage of a metric messaging meters jumped in one hour (issue 19): messaging tells the platform admins. */
export const usageJumped = defineEvent({
  type: 'bilten.messaging.usage.jumped',
  aggregateType: 'organization',
  payload: usageJumpedPayload,
});
