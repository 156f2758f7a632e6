import type { Database, PersonKeys, Transaction } from '@bilten/platform';
import { and, count, eq, gt, inArray, isNull, sql } from 'drizzle-orm';
import { emailVerifications, passwordResets, type UserRow, users } from './schema.ts';
import { emailIs, openUser, openUsers, sealEmail, sealUser, sealVerificationEmail } from './users.ts';

type Db = Database | Transaction;

type NewUser = Omit<typeof users.$inferInsert, 'emailSealed' | 'emailIndex' | 'displayNameSealed'> & {
  email: string;
  displayName: string;
};

/** Inserts unless the email is taken; `undefined` means it was. */
export async function insertUser(
  tx: Transaction,
  keys: PersonKeys,
  user: NewUser,
): Promise<UserRow | undefined> {
  const { email, displayName, ...row } = user;
  const sealed = await sealUser(tx, keys, user);
  const [inserted] = await tx
    .insert(users)
    .values({ ...row, ...sealed })
    .onConflictDoNothing({ target: users.emailIndex })
    .returning();
  return inserted && openUser(tx, keys, inserted);
}

/**
 * A new account and its first verification token in one statement; for a taken email neither is
 * inserted (`false`). So a sign-up sends the same statements whether or not the address is taken
 * (sealing runs before it either way).
 */
export async function insertUserWithVerification(
  tx: Transaction,
  keys: PersonKeys,
  user: { id: string; email: string; displayName: string; passwordHash: string },
  verification: { tokenHash: string; expiresAt: Date },
): Promise<boolean> {
  const sealed = await sealUser(tx, keys, user);
  const verificationEmail = await sealVerificationEmail(
    tx,
    keys,
    { userId: user.id, tokenHash: verification.tokenHash },
    user.email,
  );
  const inserted = (await tx.execute(sql`
    with created as (
      insert into ${users} (id, email_sealed, email_index, display_name_sealed, password_hash)
      values (${user.id}, ${sealed.emailSealed}, ${sealed.emailIndex}, ${sealed.displayNameSealed}, ${user.passwordHash})
      on conflict (email_index) do nothing
      returning id
    )
    insert into ${emailVerifications} (token_hash, user_id, email_sealed, purpose, expires_at)
    select ${verification.tokenHash}, id, ${verificationEmail}, 'verify', ${verification.expiresAt.toISOString()}::timestamptz
    from created
    returning user_id`)) as unknown as unknown[];
  return inserted.length > 0;
}

export async function userByEmail(db: Db, keys: PersonKeys, email: string): Promise<UserRow | undefined> {
  const [user] = await db.select().from(users).where(emailIs(keys, email));
  return user && openUser(db, keys, user);
}

/** The user's row, locked until the transaction ends. */
export async function lockUser(tx: Transaction, keys: PersonKeys, id: string): Promise<UserRow | undefined> {
  const [user] = await tx.select().from(users).where(eq(users.id, id)).for('update');
  return user && openUser(tx, keys, user);
}

/** The row of the account at `email`, locked until the transaction ends. */
export async function lockUserByEmail(
  tx: Transaction,
  keys: PersonKeys,
  email: string,
): Promise<UserRow | undefined> {
  const [user] = await tx.select().from(users).where(emailIs(keys, email)).for('update');
  return user && openUser(tx, keys, user);
}

export const usersByIds = async (db: Db, keys: PersonKeys, ids: string[]) =>
  openUsers(db, keys, await db.select().from(users).where(inArray(users.id, ids)));

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

export async function insertEmailVerification(
  tx: Transaction,
  keys: PersonKeys,
  verification: Omit<typeof emailVerifications.$inferInsert, 'emailSealed'> & { email: string },
) {
  const { email, ...row } = verification;
  await tx
    .insert(emailVerifications)
    .values({ ...row, emailSealed: await sealVerificationEmail(tx, keys, row, email) });
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

export async function markEmailVerified(tx: Transaction, keys: PersonKeys, userId: string): Promise<UserRow> {
  const [user] = await tx
    .update(users)
    .set({ emailVerifiedAt: sql`coalesce(${users.emailVerifiedAt}, now())` })
    .where(eq(users.id, userId))
    .returning();
  return openUser(tx, keys, user!);
}

/** Moves the account to a proven new address, sealed and indexed anew (the unique index still has the last word). */
export async function changeEmailTo(
  tx: Transaction,
  keys: PersonKeys,
  userId: string,
  email: string,
): Promise<UserRow> {
  const [user] = await tx
    .update(users)
    .set({ ...(await sealEmail(tx, keys, userId, email)), emailVerifiedAt: new Date() })
    .where(eq(users.id, userId))
    .returning();
  return openUser(tx, keys, user!);
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
  keys: PersonKeys,
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
  return openUser(db, keys, user!);
}
