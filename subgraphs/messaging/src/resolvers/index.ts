import { notificationPage, readableNotification, sendNotification } from '../domain/notifications.ts';
import type { Resolvers } from '../generated/graphql.ts';

export const resolvers: Resolvers = {
  Query: {
    notification: (_, args, ctx) => readableNotification(ctx, args),
  },
  Mutation: {
    sendNotification: (_, { input }, ctx) => sendNotification(ctx, input),
  },
  Notification: {
    __resolveReference: (reference, ctx) => readableNotification(ctx, reference),
    recipient: (notification) => ({ id: notification.recipientId }),
  },
  User: {
    notifications: (user, args, ctx) => notificationPage(ctx, { recipientId: user.id, ...args }),
  },
};
