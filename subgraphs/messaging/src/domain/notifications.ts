import { type Database, displayText, type UserError, userErrorsFrom, uuidInput } from '@bilten/platform';
import { v7 as uuidv7 } from 'uuid';
import { z } from 'zod';
import { insertNotification } from '../db/queries.ts';
import type { NotificationRow } from '../db/schema.ts';

const sendNotificationInput = z.object({
  recipientId: uuidInput,
  subject: displayText(200),
  body: z.string().trim().min(1, 'must not be empty').max(10_000, 'must be at most 10000 characters'),
});

export async function sendNotification(
  db: Database,
  input: unknown,
): Promise<{ notification: NotificationRow | null; errors: UserError[] }> {
  const parsed = sendNotificationInput.safeParse(input);
  if (!parsed.success) return { notification: null, errors: userErrorsFrom(parsed.error) };
  const notification = await insertNotification(db, { id: uuidv7(), channel: 'IN_APP', ...parsed.data });
  return { notification, errors: [] };
}
