import type { Database, Transaction } from '@bilten/platform';
import { eq, inArray } from 'drizzle-orm';
import { notificationPreferences, type PreferencesRow } from './schema.ts';

export async function preferencesOf(
  db: Database | Transaction,
  userId: string,
): Promise<PreferencesRow | null> {
  const [row] = await db
    .select()
    .from(notificationPreferences)
    .where(eq(notificationPreferences.userId, userId));
  return row ?? null;
}

/** The row of `userId`, created with the defaults if missing, locked until the commit. */
export async function lockPreferences(tx: Transaction, userId: string): Promise<PreferencesRow> {
  await tx.insert(notificationPreferences).values({ userId }).onConflictDoNothing();
  const [row] = await tx
    .select()
    .from(notificationPreferences)
    .where(eq(notificationPreferences.userId, userId))
    .for('update');
  return row!;
}

export async function savePreferences(
  tx: Transaction,
  { userId, ...row }: Omit<PreferencesRow, 'updatedAt'>,
): Promise<PreferencesRow> {
  const [saved] = await tx
    .update(notificationPreferences)
    .set({ ...row, updatedAt: new Date() })
    .where(eq(notificationPreferences.userId, userId))
    .returning();
  return saved!;
}

/** The stored preferences of these users (users without a row have the defaults). */
export const preferencesOfUsers = (db: Database | Transaction, userIds: string[]) =>
  userIds.length
    ? db.select().from(notificationPreferences).where(inArray(notificationPreferences.userId, userIds))
    : Promise.resolve([]);
