import {
  columnAad,
  type Database,
  type EncryptedColumn,
  ERASED_EMAIL,
  ERASED_NAME,
  erasedAsNull,
  type PersonKeys,
  sealPlaintextRows,
  type Transaction,
} from '@bilten/platform';
import { eq, inArray, notLike, or, type SQL } from 'drizzle-orm';
import { emailVerifications, type SealedUserRow, type UserRow, users } from './schema.ts';

// A user's email and name, and the addresses their verification tokens prove, are sealed under
// the user's own data key (person id = user id, issue 18): destroying that key at erasure makes
// every copy unreadable. Lookups by address go through the blind index `users.email_index`.

type Db = Database | Transaction;

export const USER_EMAIL_COLUMN: EncryptedColumn = {
  schema: 'identity',
  table: 'users',
  column: 'email_sealed',
};
export const USER_NAME_COLUMN: EncryptedColumn = {
  schema: 'identity',
  table: 'users',
  column: 'display_name_sealed',
};
export const VERIFICATION_EMAIL_COLUMN: EncryptedColumn = {
  schema: 'identity',
  table: 'email_verifications',
  column: 'email_sealed',
  key: 'token_hash',
};

/** The condition "the account's address is `email`", under every blind-index key (rotation). */
export const emailIs = (keys: PersonKeys, email: string): SQL =>
  inArray(users.emailIndex, keys.indexes(email, 'email'));

/** The plaintext of a value sealed for `personId`, or `erased` once their key is destroyed: never a failure. */
export async function openOrErased(
  db: Db,
  keys: PersonKeys,
  personId: string,
  value: string,
  aad: string,
  erased: string,
): Promise<string> {
  return (await erasedAsNull(() => keys.vault.decryptFor(db, personId, value, aad))) ?? erased;
}

/** The user as the domain sees them: address and name opened, the sealed columns left out. */
export async function openUser(db: Db, keys: PersonKeys, row: SealedUserRow): Promise<UserRow> {
  const { emailSealed, emailIndex: _index, displayNameSealed, ...rest } = row;
  const [email, displayName] = await Promise.all([
    openOrErased(db, keys, row.id, emailSealed, columnAad(USER_EMAIL_COLUMN, row.id), ERASED_EMAIL),
    openOrErased(db, keys, row.id, displayNameSealed, columnAad(USER_NAME_COLUMN, row.id), ERASED_NAME),
  ]);
  return { ...rest, email, displayName };
}

/** A page of users opened in parallel (each person's key is unwrapped once, then cached). */
export const openUsers = (db: Db, keys: PersonKeys, rows: SealedUserRow[]) =>
  Promise.all(rows.map((row) => openUser(db, keys, row)));

/** The stored columns of a user's address: sealed under their key, and its blind index. */
export async function sealEmail(tx: Transaction, keys: PersonKeys, userId: string, email: string) {
  return {
    emailSealed: await keys.vault.encryptFor(tx, userId, email, columnAad(USER_EMAIL_COLUMN, userId)),
    emailIndex: keys.index(email, 'email'),
  };
}

export const sealName = (tx: Transaction, keys: PersonKeys, userId: string, displayName: string) =>
  keys.vault.encryptFor(tx, userId, displayName, columnAad(USER_NAME_COLUMN, userId));

/** The stored columns of a new user's address and name. */
export async function sealUser(
  tx: Transaction,
  keys: PersonKeys,
  user: { id: string; email: string; displayName: string },
) {
  return {
    ...(await sealEmail(tx, keys, user.id, user.email)),
    displayNameSealed: await sealName(tx, keys, user.id, user.displayName),
  };
}

/** The address a verification token proves, sealed for its user and bound to the token's row. */
export const sealVerificationEmail = (
  tx: Transaction,
  keys: PersonKeys,
  verification: { userId: string; tokenHash: string },
  email: string,
) =>
  keys.vault.encryptFor(
    tx,
    verification.userId,
    email,
    columnAad(VERIFICATION_EMAIL_COLUMN, verification.tokenHash),
  );

export const openVerificationEmail = (
  db: Db,
  keys: PersonKeys,
  verification: { userId: string; tokenHash: string; emailSealed: string },
) =>
  openOrErased(
    db,
    keys,
    verification.userId,
    verification.emailSealed,
    columnAad(VERIFICATION_EMAIL_COLUMN, verification.tokenHash),
    ERASED_EMAIL,
  );

/**
 * The data migration of rows written before per-person keys (migration 0012 renamed the plaintext
 * columns to `*_sealed`): seals them and fills `email_index`. Run in setup, before serving.
 */
export async function sealPlaintextUsers(db: Database, keys: PersonKeys, batchSize = 500) {
  const sealedUsers = await sealPlaintextRows(db, (tx, limit) => sealUserBatch(tx, keys, limit), batchSize);
  const sealedVerifications = await sealPlaintextRows(
    db,
    (tx, limit) => sealVerificationBatch(tx, keys, limit),
    batchSize,
  );
  return { users: sealedUsers, verifications: sealedVerifications };
}

const PLAINTEXT = 'p1.%';

async function sealUserBatch(tx: Transaction, keys: PersonKeys, limit: number) {
  const rows = await tx
    .select()
    .from(users)
    .where(or(notLike(users.emailSealed, PLAINTEXT), notLike(users.displayNameSealed, PLAINTEXT)))
    .limit(limit)
    .for('update', { skipLocked: true });
  for (const row of rows) {
    const { isEncrypted } = keys.vault;
    const email = isEncrypted(row.emailSealed) ? {} : await sealEmail(tx, keys, row.id, row.emailSealed);
    const name = isEncrypted(row.displayNameSealed)
      ? {}
      : { displayNameSealed: await sealName(tx, keys, row.id, row.displayNameSealed) };
    await tx
      .update(users)
      .set({ ...email, ...name })
      .where(eq(users.id, row.id));
  }
  return rows.length;
}

async function sealVerificationBatch(tx: Transaction, keys: PersonKeys, limit: number) {
  const rows = await tx
    .select()
    .from(emailVerifications)
    .where(notLike(emailVerifications.emailSealed, PLAINTEXT))
    .limit(limit)
    .for('update', { skipLocked: true });
  for (const row of rows) {
    await tx
      .update(emailVerifications)
      .set({ emailSealed: await sealVerificationEmail(tx, keys, row, row.emailSealed) })
      .where(eq(emailVerifications.tokenHash, row.tokenHash));
  }
  return rows.length;
}
