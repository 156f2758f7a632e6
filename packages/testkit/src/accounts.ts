import { randomBytes } from 'node:crypto';
import { emailAddress, linkTokenSeal } from '@bilten/platform';
import type postgres from 'postgres';
import { graphql } from './graphql.ts';

/** Opens link tokens as messaging does, with the development secret every test stack runs with. */
export const testLinkTokens = linkTokenSeal({ NODE_ENV: 'test' });

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
  // The answer names no account: find it by its address, as identity stores it.
  const [account] = await sql<Array<{ id: string }>>`
    select id from identity.users where email = ${emailAddress.parse(email)}`;
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
