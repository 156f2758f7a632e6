import { notificationCreated, notificationsRead, personalDataAccessed } from '@bilten/contracts/messaging';
import {
  DomainError,
  decodeCursor,
  displayText,
  isUuid,
  mutationRule,
  type Outbox,
  pageSize,
  reportPersonalDataAccess,
  requireAdmin,
  requireUser,
  type Transaction,
  toConnection,
  type UserError,
  uuidInput,
  type Viewer,
} from '@bilten/platform';
import { v7 as uuidv7 } from 'uuid';
import { z } from 'zod';
import type { Context } from '../context.ts';
import { type NewNotification, openNotification, sealNotification } from '../db/notification-texts.ts';
import type { MessagingKeys } from '../db/person-keys.ts';
import {
  archiveNotificationOf,
  insertNotification,
  insertNotificationsOnce,
  type NotificationFilter,
  stampNotifications,
} from '../db/queries.ts';
import type { NotificationRow } from '../db/schema.ts';
import { KINDS } from './delivery-rules.ts';

/**
 * Stores in-app notifications and, in the same transaction, tells the gateway (which pushes them to
 * open subscriptions). With `sourceEventId` set, a recipient who has one from that event gets none
 * again; a recipient erased here gets none. Answers the ones stored.
 */
export async function storeInAppNotifications(
  tx: Transaction,
  deps: { outbox: Outbox; keys: MessagingKeys },
  rows: Array<Omit<NewNotification, 'id' | 'channel'>>,
) {
  // The batch's keys in one read; recipients with none yet get theirs as they are sealed.
  await deps.keys.users.vault.warm(
    tx,
    rows.map((row) => row.recipientId),
  );
  const sealed = await Promise.all(
    rows.map((row) => sealNotification(tx, deps.keys, { ...row, id: uuidv7(), channel: 'IN_APP' })),
  );
  const stored = await insertNotificationsOnce(
    tx,
    sealed.filter((row) => row !== null),
  );
  for (const { id, recipientId } of stored)
    await deps.outbox.publish(tx, notificationCreated, id, { notificationId: id, recipientId });
  return stored;
}

/**
 * Notifications are private: users read their own, platform ADMINs anyone's. Others are refused
 * rather than shown an empty list, so a missing token never looks like "nothing new".
 */
function requireNotificationReader(viewer: Viewer, recipientId: string): void {
  const user = requireUser(viewer);
  if (user.userId !== recipientId && !user.roles.includes('ADMIN')) {
    throw new DomainError('FORBIDDEN', 'notifications are visible to their recipient only');
  }
}

type ReadCtx = Pick<Context, 'loaders' | 'viewer' | 'db' | 'outbox' | 'requestId'>;

/** An admin reading someone's notifications is audited in identity's access log (issue 18). */
const NOTIFICATION_FIELDS = ['notification.subject', 'notification.body'];

/** `notification(id:)` and Notification references: signed-in callers only; null stays null. */
export async function readableNotification(
  ctx: ReadCtx,
  { id }: { id: string },
): Promise<NotificationRow | null> {
  requireUser(ctx.viewer);
  const notification = await ctx.loaders.notification.load(id);
  if (notification) {
    requireNotificationReader(ctx.viewer, notification.recipientId);
    await reportPersonalDataAccess(ctx, personalDataAccessed, {
      subjectUserId: notification.recipientId,
      purpose: 'admin-review',
      fields: NOTIFICATION_FIELDS,
      resource: `notification:${notification.id}`,
    });
  }
  return notification;
}

/** `User.notifications`: one page, newest first, for the recipient themself or an ADMIN. */
export async function notificationPage(
  ctx: ReadCtx,
  {
    recipientId,
    first,
    after,
    filter,
  }: {
    recipientId: string;
    first?: number | null;
    after?: string | null;
    filter?: NotificationFilter | null;
  },
) {
  requireNotificationReader(ctx.viewer, recipientId);
  const size = pageSize(first);
  const beforeId = after ? decodeCursor(after) : undefined;
  // Other subgraphs may hand us any string as a user key; only UUIDs can have notifications.
  if (!isUuid(recipientId)) return toConnection([], size);
  await reportPersonalDataAccess(ctx, personalDataAccessed, {
    subjectUserId: recipientId,
    purpose: 'admin-review',
    fields: NOTIFICATION_FIELDS,
    resource: `user:${recipientId}:notifications`,
  });
  return toConnection(
    await ctx.loaders.notificationPage.load({
      recipientId,
      limit: size + 1,
      beforeId,
      // Without a filter, the inbox; an explicit `archived: null` lists both.
      filter: filter ? { unread: filter.unread, archived: filter.archived } : { archived: false },
    }),
    size,
  );
}

/** `User.unreadNotificationCount`: unread and not archived; the recipient themself or an ADMIN. */
export async function unreadNotificationCount(ctx: Pick<Context, 'loaders' | 'viewer'>, recipientId: string) {
  requireNotificationReader(ctx.viewer, recipientId);
  return isUuid(recipientId) ? ctx.loaders.unreadCount.load(recipientId) : 0;
}

const notificationIdsInput = z
  .object({
    ids: z.array(uuidInput).max(500, 'at most 500 ids at once').nullish(),
    all: z.boolean().nullish(),
  })
  .refine((input) => (input.ids != null) !== (input.all === true), {
    message: 'give either ids or all: true',
    path: ['ids'],
  });

interface MarkNotificationsResult {
  count: number;
  unreadCount: number;
  errors: UserError[];
}

/**
 * Read or seen: only the caller's own change, so another user's ids match nothing and say nothing.
 * Reading tells the gateway (the unread count moved), in the same transaction, and only if any
 * changed; seen does not move the count.
 */
const markNotifications = (column: 'readAt' | 'seenAt') =>
  mutationRule(
    {
      input: notificationIdsInput,
      caller: requireUser,
      invalid: (errors): MarkNotificationsResult => ({ count: 0, unreadCount: 0, errors }),
    },
    async (
      ctx: Pick<Context, 'db' | 'viewer' | 'loaders' | 'outbox'>,
      input,
      user,
    ): Promise<MarkNotificationsResult> => {
      const count = await ctx.db.transaction(async (tx) => {
        const changed = await stampNotifications(tx, column, user.userId, input.all ? 'all' : input.ids!);
        if (changed && column === 'readAt') await publishRead(tx, ctx.outbox, user.userId, changed);
        return changed;
      });
      return { count, unreadCount: await ctx.loaders.unreadCount.load(user.userId), errors: [] };
    },
  );

const publishRead = (tx: Transaction, outbox: Outbox, recipientId: string, count: number) =>
  outbox.publish(tx, notificationsRead, recipientId, { recipientId, count });

export const markNotificationsRead = markNotifications('readAt');
export const markNotificationsSeen = markNotifications('seenAt');

interface ArchiveNotificationResult {
  notification: NotificationRow | null;
  errors: UserError[];
}

/** The caller's own only: another user's id is NOT_FOUND, as if it did not exist. Archiving reads. */
export const archiveNotification = mutationRule(
  {
    input: z.object({ id: uuidInput }),
    caller: requireUser,
    invalid: (errors): ArchiveNotificationResult => ({ notification: null, errors }),
  },
  async (
    ctx: Pick<Context, 'db' | 'viewer' | 'outbox' | 'keys'>,
    { id },
    user,
  ): Promise<ArchiveNotificationResult> => {
    const archived = await ctx.db.transaction(async (tx) => {
      const result = await archiveNotificationOf(tx, user.userId, id);
      if (result?.read) await publishRead(tx, ctx.outbox, user.userId, 1);
      return result;
    });
    if (!archived) throw new DomainError('NOT_FOUND', 'you have no notification with this id');
    return { notification: await openNotification(ctx.db, ctx.keys, archived.notification), errors: [] };
  },
);

const sendNotificationInput = z.object({
  recipientId: uuidInput,
  subject: displayText(200),
  body: z.string().trim().min(1, 'must not be empty').max(10_000, 'must be at most 10000 characters'),
});

interface SendNotificationResult {
  notification: NotificationRow | null;
  errors: UserError[];
}

const ERASED_RECIPIENT: UserError = {
  code: 'NOT_FOUND',
  message: "this person's data was erased: nothing is stored for them",
  field: ['input', 'recipientId'],
};

/**
 * Platform ADMINs only: otherwise anyone could post into any user's inbox, under our name. A
 * recipient erased here gets nothing (their key is destroyed).
 */
export const sendNotification = mutationRule(
  {
    input: sendNotificationInput,
    caller: requireAdmin,
    invalid: (errors): SendNotificationResult => ({ notification: null, errors }),
  },
  async (ctx: Pick<Context, 'db' | 'viewer' | 'outbox' | 'keys'>, input): Promise<SendNotificationResult> => {
    const notification = await ctx.db.transaction(async (tx) => {
      const sealed = await sealNotification(tx, ctx.keys, {
        id: uuidv7(),
        channel: 'IN_APP',
        category: KINDS.adminNotice.category,
        kind: 'adminNotice',
        ...input,
      });
      if (!sealed) return null;
      const row = await insertNotification(tx, sealed);
      await ctx.outbox.publish(tx, notificationCreated, row.id, {
        notificationId: row.id,
        recipientId: row.recipientId,
      });
      return { ...row, subject: input.subject, body: input.body };
    });
    return notification ? { notification, errors: [] } : { notification: null, errors: [ERASED_RECIPIENT] };
  },
);
