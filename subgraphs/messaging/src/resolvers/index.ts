import { decodeCursor, isUuid, pageSize, toConnection } from '@bilten/platform';
import { sendNotification } from '../domain/notifications.ts';
import type { Resolvers } from '../generated/graphql.ts';

export const resolvers: Resolvers = {
  Query: {
    notification: (_, { id }, { loaders }) => loaders.notification.load(id),
  },
  Mutation: {
    sendNotification: (_, { input }, { db }) => sendNotification(db, input),
  },
  Notification: {
    __resolveReference: ({ id }, { loaders }) => loaders.notification.load(id),
    recipient: (notification) => ({ id: notification.recipientId }),
  },
  User: {
    notifications: async (user, { first, after }, { loaders }) => {
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
