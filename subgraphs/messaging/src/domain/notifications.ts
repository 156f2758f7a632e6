import {
  DomainError,
  decodeCursor,
  displayText,
  isUuid,
  mutationRule,
  pageSize,
  requireAdmin,
  requireUser,
  toConnection,
  type UserError,
  uuidInput,
  type Viewer,
} from '@bilten/platform';
import { v7 as uuidv7 } from 'uuid';
import { z } from 'zod';
import type { Context } from '../context.ts';
import { insertNotification } from '../db/queries.ts';
import type { NotificationRow } from '../db/schema.ts';

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

/** `notification(id:)` and Notification references: signed-in callers only; null stays null. */
export async function readableNotification(
  ctx: Pick<Context, 'loaders' | 'viewer'>,
  { id }: { id: string },
): Promise<NotificationRow | null> {
  requireUser(ctx.viewer);
  const notification = await ctx.loaders.notification.load(id);
  if (notification) requireNotificationReader(ctx.viewer, notification.recipientId);
  return notification;
}

/** `User.notifications`: one page, newest first, for the recipient themself or an ADMIN. */
export async function notificationPage(
  ctx: Pick<Context, 'loaders' | 'viewer'>,
  { recipientId, first, after }: { recipientId: string; first?: number | null; after?: string | null },
) {
  requireNotificationReader(ctx.viewer, recipientId);
  const size = pageSize(first);
  const beforeId = after ? decodeCursor(after) : undefined;
  // Other subgraphs may hand us any string as a user key; only UUIDs can have notifications.
  if (!isUuid(recipientId)) return toConnection([], size);
  return toConnection(
    await ctx.loaders.notificationPage.load({ recipientId, limit: size + 1, beforeId }),
    size,
  );
}

const sendNotificationInput = z.object({
  recipientId: uuidInput,
  subject: displayText(200),
  body: z.string().trim().min(1, 'must not be empty').max(10_000, 'must be at most 10000 characters'),
});

interface SendNotificationResult {
  notification: NotificationRow | null;
  errors: UserError[];
}

/** Platform ADMINs only: otherwise anyone could post into any user's inbox, under our name. */
export const sendNotification = mutationRule(
  {
    input: sendNotificationInput,
    caller: requireAdmin,
    invalid: (errors): SendNotificationResult => ({ notification: null, errors }),
  },
  async (ctx: Pick<Context, 'db' | 'viewer'>, input): Promise<SendNotificationResult> => {
    const notification = await insertNotification(ctx.db, { id: uuidv7(), channel: 'IN_APP', ...input });
    return { notification, errors: [] };
  },
);
