import { columnAad, type Database, ERASED_NAME, type Transaction } from '@bilten/platform';
import { type MessagingKeys, openFor, sealFor } from './person-keys.ts';
import {
  NOTIFICATION_COLUMNS,
  type NotificationRow,
  type notifications,
  type SealedNotificationRow,
} from './schema.ts';

/**
 * In-app notifications' texts (issue 18): rendered, they can name people (a transfer's sender, a
 * buyer), so subject and body are sealed under the recipient's key (in-app notifications only go
 * to accounts), each bound to its column and the notification's id.
 */
export type NewNotification = Omit<typeof notifications.$inferInsert, 'subjectSealed' | 'bodySealed'> & {
  subject: string;
  body: string;
};

const aadOf = (column: keyof typeof NOTIFICATION_COLUMNS, id: string) =>
  columnAad(NOTIFICATION_COLUMNS[column], id);

/** The row to insert, texts sealed; null when the recipient was erased here (store nothing). */
export async function sealNotification(
  tx: Transaction,
  keys: MessagingKeys,
  { subject, body, ...row }: NewNotification,
): Promise<typeof notifications.$inferInsert | null> {
  const person = { userId: row.recipientId };
  const subjectSealed = await sealFor(tx, keys, person, subject, aadOf('subject', row.id));
  if (subjectSealed === null) return null;
  const bodySealed = await sealFor(tx, keys, person, body, aadOf('body', row.id));
  return bodySealed === null ? null : { ...row, subjectSealed, bodySealed };
}

/** The notification as shown; texts under a destroyed key read as the erased marker, never an error. */
export async function openNotification(
  db: Database | Transaction,
  keys: MessagingKeys,
  { subjectSealed, bodySealed, ...row }: SealedNotificationRow,
): Promise<NotificationRow> {
  const person = { userId: row.recipientId };
  const [subject, body] = await Promise.all([
    openFor(db, keys, person, subjectSealed, aadOf('subject', row.id)),
    openFor(db, keys, person, bodySealed, aadOf('body', row.id)),
  ]);
  return { ...row, subject: subject ?? ERASED_NAME, body: body ?? ERASED_NAME };
}

/** A page of notifications opened together, their recipients' keys read in one statement. */
export async function openNotifications(
  db: Database | Transaction,
  keys: MessagingKeys,
  rows: SealedNotificationRow[],
): Promise<NotificationRow[]> {
  await keys.users.vault.warm(
    db,
    rows.map((row) => row.recipientId),
  );
  return Promise.all(rows.map((row) => openNotification(db, keys, row)));
}
