import { randomBytes } from 'node:crypto';
import {
  blindIndex,
  blindIndexKeysFromEnv,
  columnAad,
  type Database,
  emailAddress,
  linkTokenSeal,
  type PersonKeys,
  personKeysFromEnv,
  personKeyTable,
} from '@bilten/platform';
import { sql as statement } from 'drizzle-orm';
import { pgSchema } from 'drizzle-orm/pg-core';
import { drizzle } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import { graphql } from './graphql.ts';

/** Opens link tokens as messaging does, with the development secret every test stack runs with. */
export const testLinkTokens = linkTokenSeal({ NODE_ENV: 'test' });

/**
 * The blind index identity stores and looks an address up by (`users.email_index`), under the
 * development key every test stack runs with: addresses themselves are sealed (issue 18).
 */
export const emailIndexOf = (email: string) =>
  blindIndex(blindIndexKeysFromEnv({ NODE_ENV: 'test' })[0]!, email, 'email');

/**
 * `use` with identity's keys as every test stack runs them (the development keys), over its
 * `person_keys`, on a connection of its own: drizzle changes the date parsing of the client it
 * wraps, which the caller's `sql` must keep.
 */
export async function withIdentityKeys<T>(
  sql: postgres.Sql,
  use: (db: Database, keys: PersonKeys) => Promise<T>,
): Promise<T> {
  const { host, port, database, user } = sql.options;
  const client = postgres({
    host: host[0],
    port: port[0],
    database,
    username: user,
    max: 1,
    onnotice: () => {},
  });
  try {
    const db = drizzle(client);
    return await use(db, personKeysFromEnv(db, personKeyTable(pgSchema('identity')), { NODE_ENV: 'test' }));
  } finally {
    await client.end();
  }
}

const userAad = (column: string, id: string) => columnAad({ schema: 'identity', table: 'users', column }, id);

export interface AccountRow {
  id: string;
  email: string;
  displayName: string;
  roles?: string[];
  passwordHash?: string | null;
  verified?: boolean;
}

/**
 * Accounts written straight into identity.users, sealed as identity seals them (db/users.ts:
 * address and name under the user's own key, the address's blind index): for tests and benches
 * that need accounts without signing up (and paying argon2id) for each.
 */
export async function insertAccounts(sql: postgres.Sql, accounts: AccountRow[]) {
  await withIdentityKeys(sql, (db, keys) =>
    db.transaction(async (tx) => {
      for (const { id, email, displayName, roles = [], passwordHash = null, verified = true } of accounts) {
        const address = emailAddress.parse(email);
        const emailSealed = await keys.vault.encryptFor(tx, id, address, userAad('email_sealed', id));
        const nameSealed = await keys.vault.encryptFor(
          tx,
          id,
          displayName,
          userAad('display_name_sealed', id),
        );
        await tx.execute(statement`
        insert into identity.users
          (id, email_sealed, email_index, display_name_sealed, password_hash, roles, email_verified_at)
        values (${id}, ${emailSealed}, ${keys.index(address, 'email')}, ${nameSealed}, ${passwordHash},
          ${`{${roles.join(',')}}`}::text[], ${verified ? new Date().toISOString() : null}::timestamptz)`);
      }
    }),
  );
}

/** The address and name of an account as identity.users holds them, opened (throws for an erased one). */
export async function openedAccount(sql: postgres.Sql, userId: string) {
  const [row] = await sql<Array<{ email_sealed: string; display_name_sealed: string }>>`
    select email_sealed, display_name_sealed from identity.users where id = ${userId}`;
  if (!row) return undefined;
  return withIdentityKeys(sql, async (db, keys) => ({
    email: await keys.vault.decryptFor(db, userId, row.email_sealed, userAad('email_sealed', userId)),
    displayName: await keys.vault.decryptFor(
      db,
      userId,
      row.display_name_sealed,
      userAad('display_name_sealed', userId),
    ),
  }));
}

/** Verified copies of the account `templateUserId` (its password hash) under new ids and addresses. */
export async function copyAccounts(
  sql: postgres.Sql,
  templateUserId: string,
  accounts: Array<{ id: string; email: string; displayName: string }>,
) {
  const [template] = await sql<Array<{ password_hash: string | null }>>`
    select password_hash from identity.users where id = ${templateUserId}`;
  await insertAccounts(
    sql,
    accounts.map((account) => ({ ...account, passwordHash: template?.password_hash ?? null })),
  );
}

export interface SignedInUser {
  userId: string;
  email: string;
  password: string;
  accessToken: string;
  refreshToken: string;
  /** `{ authorization: 'Bearer …' }`, ready for a request. */
  headers: { authorization: string };
}

const REGISTER = `mutation($input: RegisterInput!) { register(input: $input) { accepted errors { code message field } } }`;
const VERIFY = `mutation($input: VerifyEmailInput!) { verifyEmail(input: $input) { user { id } errors { message } } }`;
const LOGIN = `mutation($input: LoginInput!) { login(input: $input) { accessToken refreshToken } }`;

async function call<T>(url: string, query: string, input: unknown): Promise<T> {
  const { body } = await graphql<T, { input: unknown }>(url, query, { input });
  if (body.errors?.length || !body.data) throw new Error(`${query}: ${JSON.stringify(body)}`);
  return body.data;
}

/** The verification token identity sealed for the mailer, read from its outbox and opened. */
export async function verificationTokenOf(sql: postgres.Sql, userId: string): Promise<string> {
  const [row] = await sql<Array<{ token: string }>>`
    select payload->>'sealedToken' as token from identity.outbox
    where aggregate_type = 'user' and aggregate_id = ${userId}
      and type in ('bilten.identity.user.registered', 'bilten.identity.email_verification.requested')
    order by sequence desc limit 1`;
  if (!row) throw new Error(`no verification token for ${userId}`);
  return testLinkTokens.open(row.token, userId);
}

/**
 * A real account the real way — register, verify with the token from identity's outbox, log in —
 * for tests that need a signed-in (by default verified) user. `url` is the gateway or identity.
 * `register` does not say whether the address was free (issue 12): a taken one fails at login.
 */
export async function signUp(
  url: string,
  sql: postgres.Sql,
  options: { email?: string; displayName?: string; verified?: boolean } = {},
): Promise<SignedInUser> {
  const email = options.email ?? `user-${randomBytes(6).toString('hex')}@example.com`;
  const password = `pw-${randomBytes(9).toString('base64url')}`;
  const registered = await call<{ register: { accepted: boolean; errors: unknown[] } }>(url, REGISTER, {
    email,
    password,
    displayName: options.displayName ?? 'Test User',
  });
  if (!registered.register.accepted)
    throw new Error(`register failed: ${JSON.stringify(registered.register.errors)}`);
  // The answer names no account: find it by its address's blind index, as identity looks it up.
  const [account] = await sql<Array<{ id: string }>>`
    select id from identity.users where email_index = ${emailIndexOf(email)}`;
  if (!account) throw new Error(`no account for ${email}`);
  const userId = account.id;
  if (options.verified ?? true) {
    await call(url, VERIFY, { token: await verificationTokenOf(sql, userId) });
  }
  const { login } = await call<{ login: { accessToken: string; refreshToken: string } }>(url, LOGIN, {
    email,
    password,
  });
  return {
    userId,
    email,
    password,
    accessToken: login.accessToken,
    refreshToken: login.refreshToken,
    headers: { authorization: `Bearer ${login.accessToken}` },
  };
}

/** The invitation token identity sealed for the mailer, read from its outbox and opened. */
export async function invitationTokenOf(sql: postgres.Sql, invitationId: string): Promise<string> {
  const [row] = await sql<Array<{ token: string }>>`
    select payload->>'sealedToken' as token from identity.outbox
    where type = 'bilten.identity.invitation.created' and aggregate_id = ${invitationId}`;
  if (!row) throw new Error(`no invitation token for ${invitationId}`);
  return testLinkTokens.open(row.token, invitationId);
}

const REFRESH = `mutation($input: RefreshTokenInput!) { refreshToken(input: $input) { accessToken refreshToken } }`;

/**
 * A fresh access token for `user` (rotating its refresh token), e.g. to pick up roles changed
 * since sign-in; `user` is updated in place.
 */
export async function refreshAccess(url: string, user: SignedInUser): Promise<SignedInUser> {
  const { refreshToken } = await call<{ refreshToken: { accessToken: string; refreshToken: string } }>(
    url,
    REFRESH,
    { refreshToken: user.refreshToken },
  );
  user.accessToken = refreshToken.accessToken;
  user.refreshToken = refreshToken.refreshToken;
  user.headers.authorization = `Bearer ${refreshToken.accessToken}`;
  return user;
}
