import { sendAnnouncement } from '../domain/announcements.ts';
import { type KindName, kindToEnum } from '../domain/delivery-rules.ts';
import { notificationStats } from '../domain/engagement.ts';
import { followingPage, followOrganization, unfollowOrganization } from '../domain/followers.ts';
import {
  archiveNotification,
  markNotificationsRead,
  markNotificationsSeen,
  notificationPage,
  readableNotification,
  sendNotification,
  unreadNotificationCount,
} from '../domain/notifications.ts';
import { myNotificationPreferences, updateNotificationPreferences } from '../domain/preferences.ts';
import { previewNotification } from '../domain/preview.ts';
import { registerPushSubscription, removePushSubscription } from '../domain/push-subscriptions.ts';
import { testMessagePage } from '../domain/test-messages.ts';
import { messagingUsageReport } from '../domain/usage.ts';
import { replayWebhookDelivery, webhookDeliveriesOf } from '../domain/webhook-deliveries.ts';
import {
  createWebhookEndpoint,
  deleteWebhookEndpoint,
  readableWebhookEndpoint,
  rotateWebhookSecret,
  updateWebhookEndpoint,
  webhookEndpointsOf,
} from '../domain/webhook-endpoints.ts';
import { webhookEventTypes } from '../domain/webhook-events.ts';
import type { Resolvers } from '../generated/graphql.ts';

export const resolvers: Resolvers = {
  Query: {
    notification: (_, args, ctx) => readableNotification(ctx, args),
    myNotificationPreferences: (_, _args, ctx) => myNotificationPreferences(ctx),
    notificationStats: (_, { filter }, ctx) => notificationStats(ctx, filter),
    previewNotification: (_, { input }, ctx) => previewNotification(ctx, input),
    webPushPublicKey: (_, _args, ctx) => ctx.webPushPublicKey,
    testMessages: (_, args, ctx) => testMessagePage(ctx, args),
    webhookEndpoints: (_, { organizationId }, ctx) => webhookEndpointsOf(ctx, organizationId),
    webhookEndpoint: (_, { id }, ctx) => readableWebhookEndpoint(ctx, id),
    webhookEventTypes: () => webhookEventTypes(),
  },
  Mutation: {
    sendNotification: (_, { input }, ctx) => sendNotification(ctx, input),
    markNotificationsRead: (_, { input }, ctx) => markNotificationsRead(ctx, input),
    markNotificationsSeen: (_, { input }, ctx) => markNotificationsSeen(ctx, input),
    archiveNotification: (_, { input }, ctx) => archiveNotification(ctx, input),
    updateNotificationPreferences: (_, { input }, ctx) => updateNotificationPreferences(ctx, input),
    registerPushSubscription: (_, { input }, ctx) => registerPushSubscription(ctx, input),
    removePushSubscription: (_, { input }, ctx) => removePushSubscription(ctx, input),
    followOrganization: (_, { input }, ctx) => followOrganization(ctx, input),
    unfollowOrganization: (_, { input }, ctx) => unfollowOrganization(ctx, input),
    sendAnnouncement: (_, { input }, ctx) => sendAnnouncement(ctx, input),
    createWebhookEndpoint: (_, { input }, ctx) => createWebhookEndpoint(ctx, input),
    updateWebhookEndpoint: (_, { input }, ctx) => updateWebhookEndpoint(ctx, input),
    deleteWebhookEndpoint: (_, { input }, ctx) => deleteWebhookEndpoint(ctx, input),
    rotateWebhookSecret: (_, { input }, ctx) => rotateWebhookSecret(ctx, input),
    replayWebhookDelivery: (_, { input }, ctx) => replayWebhookDelivery(ctx, input),
  },
  UsageReport: {
    // Checked again here: a reference never trusts the root field's check (domain/usage.ts).
    __resolveReference: (report, ctx) => messagingUsageReport(ctx, report),
  },
  Notification: {
    __resolveReference: (reference, ctx) => readableNotification(ctx, reference),
    recipient: (notification) => ({ id: notification.recipientId }),
    // Stored as the workflow's key (`eventPublished`); older and hand-sent ones may have none.
    kind: (notification) => (notification.kind ? kindToEnum(notification.kind as KindName) : null),
  },
  WebhookEndpoint: {
    deliveries: (endpoint, args, ctx) => webhookDeliveriesOf(ctx, endpoint.id, args),
  },
  User: {
    notifications: (user, args, ctx) => notificationPage(ctx, { recipientId: user.id, ...args }),
    unreadNotificationCount: (user, _args, ctx) => unreadNotificationCount(ctx, user.id),
    following: (user, args, ctx) => followingPage(ctx, { userId: user.id, ...args }),
  },
  Organization: {
    followerCount: (organization, _args, ctx) => ctx.loaders.followerCount.load(organization.id),
  },
};
