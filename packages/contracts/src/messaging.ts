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
