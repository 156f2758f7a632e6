import type { Database, Transaction } from '@bilten/platform';
import { and, count, eq, gt, inArray, isNull, sql } from 'drizzle-orm';
import { emailVerifications, passwordResets, type UserRow, users } from './schema.ts';

type Db = Database | Transaction;

/** Inserts unless the email is taken; `undefined` means it was. */
export async function insertUser(db: Db, row: typeof users.$inferInsert): Promise<UserRow | undefined> {
  const [user] = await db.insert(users).values(row).onConflictDoNothing({ target: users.email }).returning();
  return user;
}

/**
 * A new account and its first verification token in one statement; for a taken email neither is
 * inserted (`false`). So a sign-up sends the same statements whether or not the address is taken.
 */
export async function insertUserWithVerification(
  tx: Transaction,
  user: { id: string; email: string; displayName: string; passwordHash: string },
  verification: { tokenHash: string; expiresAt: Date },
): Promise<boolean> {
  const inserted = (await tx.execute(sql`
    with created as (
      insert into ${users} (id, email, display_name, password_hash)
      values (${user.id}, ${user.email}, ${user.displayName}, ${user.passwordHash})
      on conflict (email) do nothing
      returning id, email
    )
    insert into ${emailVerifications} (token_hash, user_id, email, purpose, expires_at)
    select ${verification.tokenHash}, id, email, 'verify', ${verification.expiresAt.toISOString()}::timestamptz
    from created
    returning user_id`)) as unknown as unknown[];
  return inserted.length > 0;
}

export async function userByEmail(db: Db, email: string): Promise<UserRow | undefined> {
  const [user] = await db.select().from(users).where(eq(users.email, email));
  return user;
}

/** The user's row, locked until the transaction ends. */
export async function lockUser(tx: Transaction, id: string): Promise<UserRow | undefined> {
  const [user] = await tx.select().from(users).where(eq(users.id, id)).for('update');
  return user;
}

/** The row of the account at `email`, locked until the transaction ends. */
export async function lockUserByEmail(tx: Transaction, email: string): Promise<UserRow | undefined> {
  const [user] = await tx.select().from(users).where(eq(users.email, email)).for('update');
  return user;
}

export const usersByIds = (db: Db, ids: string[]) => db.select().from(users).where(inArray(users.id, ids));

/** Adds the platform ADMIN role (once) and counts the address as verified. */
export async function makePlatformAdmin(tx: Transaction, userId: string) {
  await tx
    .update(users)
    .set({
      roles: sql`array_append(array_remove(${users.roles}, 'ADMIN'), 'ADMIN')`,
      emailVerifiedAt: sql`coalesce(${users.emailVerifiedAt}, now())`,
    })
    .where(eq(users.id, userId));
}

// ---------------------------------------------------------------- email verification

export async function insertEmailVerification(db: Db, row: typeof emailVerifications.$inferInsert) {
  await db.insert(emailVerifications).values(row);
}

export async function lockEmailVerification(tx: Transaction, hash: string) {
  const [row] = await tx
    .select()
    .from(emailVerifications)
    .where(eq(emailVerifications.tokenHash, hash))
    .for('update');
  return row;
}

export async function markEmailVerificationUsed(tx: Transaction, hash: string) {
  await tx
    .update(emailVerifications)
    .set({ usedAt: new Date() })
    .where(eq(emailVerifications.tokenHash, hash));
}

export async function markEmailVerified(tx: Transaction, userId: string): Promise<UserRow> {
  const [user] = await tx
    .update(users)
    .set({ emailVerifiedAt: sql`coalesce(${users.emailVerifiedAt}, now())` })
    .where(eq(users.id, userId))
    .returning();
  return user!;
}

/** Moves the account to a proven new address (the unique index still has the last word). */
export async function changeEmailTo(tx: Transaction, userId: string, email: string): Promise<UserRow> {
  const [user] = await tx
    .update(users)
    .set({ email, emailVerifiedAt: new Date() })
    .where(eq(users.id, userId))
    .returning();
  return user!;
}

export async function spendEmailChanges(tx: Transaction, userId: string) {
  await tx
    .update(emailVerifications)
    .set({ usedAt: new Date() })
    .where(
      and(
        eq(emailVerifications.userId, userId),
        eq(emailVerifications.purpose, 'change'),
        isNull(emailVerifications.usedAt),
      ),
    );
}

export async function emailVerificationsSince(tx: Transaction, userId: string, since: Date): Promise<number> {
  const [row] = await tx
    .select({ n: count() })
    .from(emailVerifications)
    .where(and(eq(emailVerifications.userId, userId), gt(emailVerifications.createdAt, since)));
  return row!.n;
}

// ---------------------------------------------------------------- passwords

export async function insertPasswordReset(db: Db, row: typeof passwordResets.$inferInsert) {
  await db.insert(passwordResets).values(row);
}

export async function passwordResetByHash(db: Database, hash: string) {
  const [row] = await db.select().from(passwordResets).where(eq(passwordResets.tokenHash, hash));
  return row;
}

export async function lockPasswordReset(tx: Transaction, hash: string) {
  const [row] = await tx
    .select()
    .from(passwordResets)
    .where(eq(passwordResets.tokenHash, hash))
    .for('update');
  return row;
}

/** Spends every open reset token of the user: one reset ends them all. */
export async function spendPasswordResets(tx: Transaction, userId: string) {
  await tx
    .update(passwordResets)
    .set({ usedAt: new Date() })
    .where(and(eq(passwordResets.userId, userId), isNull(passwordResets.usedAt)));
}

export async function setPassword(
  db: Db,
  userId: string,
  passwordHash: string | null,
  options: { verifyEmail?: boolean } = {},
): Promise<UserRow> {
  const [user] = await db
    .update(users)
    .set({
      passwordHash,
      ...(options.verifyEmail ? { emailVerifiedAt: sql`coalesce(${users.emailVerifiedAt}, now())` } : {}),
    })
    .where(eq(users.id, userId))
    .returning();
  return user!;
}
