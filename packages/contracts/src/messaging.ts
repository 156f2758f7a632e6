import { z } from 'zod';
import { defineEvent } from './define.ts';

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
