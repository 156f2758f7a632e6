import { randomBytes } from 'node:crypto';
import type postgres from 'postgres';
import { graphql } from './graphql.ts';

export interface SignedInUser {
  userId: string;
  email: string;
  password: string;
  accessToken: string;
  refreshToken: string;
  /** `{ authorization: 'Bearer …' }`, ready for a request. */
  headers: { authorization: string };
}

const REGISTER = `mutation($input: RegisterInput!) { register(input: $input) { user { id } errors { code message field } } }`;
const VERIFY = `mutation($input: VerifyEmailInput!) { verifyEmail(input: $input) { user { id } errors { message } } }`;
const LOGIN = `mutation($input: LoginInput!) { login(input: $input) { accessToken refreshToken } }`;

async function call<T>(url: string, query: string, input: unknown): Promise<T> {
  const { body } = await graphql<T, { input: unknown }>(url, query, { input });
  if (body.errors?.length || !body.data) throw new Error(`${query}: ${JSON.stringify(body)}`);
  return body.data;
}

/** The plain verification token identity handed to the mailer, read from its outbox. */
export async function verificationTokenOf(sql: postgres.Sql, userId: string): Promise<string> {
  const [row] = await sql<Array<{ token: string }>>`
    select payload->>'verificationToken' as token from identity.outbox
    where aggregate_type = 'user' and aggregate_id = ${userId}
      and type in ('bilten.identity.user.registered', 'bilten.identity.email_verification.requested')
    order by sequence desc limit 1`;
  if (!row) throw new Error(`no verification token for ${userId}`);
  return row.token;
}

/**
 * A real account the real way — register, verify with the token from identity's outbox, log in —
 * for tests that need a signed-in (by default verified) user. `url` is the gateway or identity.
 */
export async function signUp(
  url: string,
  sql: postgres.Sql,
  options: { email?: string; displayName?: string; verified?: boolean } = {},
): Promise<SignedInUser> {
  const email = options.email ?? `user-${randomBytes(6).toString('hex')}@example.com`;
  const password = `pw-${randomBytes(9).toString('base64url')}`;
  const registered = await call<{ register: { user: { id: string } | null; errors: unknown[] } }>(
    url,
    REGISTER,
    {
      email,
      password,
      displayName: options.displayName ?? 'Test User',
    },
  );
  const userId = registered.register.user?.id;
  if (!userId) throw new Error(`register failed: ${JSON.stringify(registered.register.errors)}`);
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

/** The plain invitation token identity handed to the mailer, read from its outbox. */
export async function invitationTokenOf(sql: postgres.Sql, invitationId: string): Promise<string> {
  const [row] = await sql<Array<{ token: string }>>`
    select payload->>'token' as token from identity.outbox
    where type = 'bilten.identity.invitation.created' and aggregate_id = ${invitationId}`;
  if (!row) throw new Error(`no invitation token for ${invitationId}`);
  return row.token;
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
