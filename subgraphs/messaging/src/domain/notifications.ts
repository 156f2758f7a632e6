import {
  type BaseContext,
  DomainError,
  displayText,
  requireAdmin,
  requireUser,
  type UserError,
  userErrorsFrom,
  uuidInput,
  type Viewer,
} from '@bilten/platform';
import { v7 as uuidv7 } from 'uuid';
import { z } from 'zod';
import { insertNotification } from '../db/queries.ts';
import type { NotificationRow } from '../db/schema.ts';

/**
 * Notifications are private: users read their own, platform ADMINs anyone's. Others are refused
 * rather than shown an empty list, so a missing token never looks like "nothing new".
 */
export function requireNotificationReader(viewer: Viewer, recipientId: string): void {
  const user = requireUser(viewer);
  if (user.userId !== recipientId && !user.roles.includes('ADMIN')) {
    throw new DomainError('FORBIDDEN', 'notifications are visible to their recipient only');
  }
}

/** `notification` when the viewer may read it; null stays null (for signed-in callers). */
export function readableNotification(viewer: Viewer, notification: NotificationRow | null) {
  requireUser(viewer);
  if (notification) requireNotificationReader(viewer, notification.recipientId);
  return notification;
}

const sendNotificationInput = z.object({
  recipientId: uuidInput,
  subject: displayText(200),
  body: z.string().trim().min(1, 'must not be empty').max(10_000, 'must be at most 10000 characters'),
});

/** Platform ADMINs only: otherwise anyone could post into any user's inbox, under our name. */
export async function sendNotification(
  ctx: Pick<BaseContext, 'db' | 'viewer'>,
  input: unknown,
): Promise<{ notification: NotificationRow | null; errors: UserError[] }> {
  requireAdmin(ctx.viewer);
  const parsed = sendNotificationInput.safeParse(input);
  if (!parsed.success) return { notification: null, errors: userErrorsFrom(parsed.error) };
  const notification = await insertNotification(ctx.db, { id: uuidv7(), channel: 'IN_APP', ...parsed.data });
  return { notification, errors: [] };
}
