import { decodeCursor, isUuid, pageSize, toConnection } from '@bilten/platform';
import {
  readableNotification,
  requireNotificationReader,
  sendNotification,
} from '../domain/notifications.ts';
import type { Resolvers } from '../generated/graphql.ts';

export const resolvers: Resolvers = {
  Query: {
    notification: async (_, { id }, { viewer, loaders }) =>
      readableNotification(viewer, await loaders.notification.load(id)),
  },
  Mutation: {
    sendNotification: (_, { input }, ctx) => sendNotification(ctx, input),
  },
  Notification: {
    __resolveReference: async ({ id }, { viewer, loaders }) =>
      readableNotification(viewer, await loaders.notification.load(id)),
    recipient: (notification) => ({ id: notification.recipientId }),
  },
  User: {
    notifications: async (user, { first, after }, { viewer, loaders }) => {
      requireNotificationReader(viewer, user.id);
      const size = pageSize(first);
      const beforeId = after ? decodeCursor(after) : undefined;
      if (!isUuid(user.id)) return toConnection([], size);
      return toConnection(
        await loaders.notificationPage.load({ recipientId: user.id, limit: size + 1, beforeId }),
        size,
      );
    },
  },
};
