import { createHash, randomUUID } from 'node:crypto';
import { createTokenVerifier, type DomainEvent } from '@bilten/platform';
import {
  emailIndexOf,
  type GqlResult,
  openedAccount,
  recordEvents,
  type SignedInUser,
  signUp,
  startTestSubgraph,
  statementsOf,
  type TestSubgraph,
  testLinkTokens,
  verificationTokenOf,
  waitFor,
} from '@bilten/testkit';
import { decodeProtectedHeader, type JSONWebKeySet } from 'jose';
import type postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  emailVerificationRequested,
  loginLocked,
  passwordResetRequested,
  userEmailChanged,
  userRegistered,
} from '../src/events.ts';
import { identitySubgraph } from '../src/server.ts';
import { claimsOf, codeOf, MANY_SIGNUPS, OWN_TOKENS } from './support.ts';

// Every test signs up from 127.0.0.1.

let subgraph: TestSubgraph;
let url: string;
let sql: postgres.Sql;
let registered: DomainEvent<{
  userId: string;
  email: string;
  sealedToken: string;
  expiresAt: string;
}>[];
let resent: typeof registered;

beforeAll(async () => {
  subgraph = await startTestSubgraph(identitySubgraph, 'in-process', { env: MANY_SIGNUPS, ...OWN_TOKENS });
  url = subgraph.service.url;
  sql = subgraph.sql;
  registered = await recordEvents(subgraph.testBus.bus, userRegistered);
  resent = await recordEvents(subgraph.testBus.bus, emailVerificationRequested);
});

afterAll(async () => {
  await subgraph?.dispose();
});

const email = () => `acct-${randomUUID().slice(0, 8)}@example.com`;

/** The link token of an event, opened as messaging opens it. */
const opened = (payload: { sealedToken: string; userId: string }) =>
  testLinkTokens.open(payload.sealedToken, payload.userId);
const PASSWORD = 'a sufficiently long passphrase';

const REGISTER = `mutation($input: RegisterInput!) { register(input: $input) { accepted errors { code message field } } }`;
const VERIFY = `mutation($input: VerifyEmailInput!) { verifyEmail(input: $input) { user { id emailVerified } errors { code message field } } }`;
const RESEND = `mutation($input: ResendVerificationInput!) { resendVerification(input: $input) { accepted errors { code } } }`;
const LOGIN = `mutation($input: LoginInput!) { login(input: $input) { accessToken refreshToken expiresIn user { id email } errors { code message field } } }`;
const REFRESH = `mutation($input: RefreshTokenInput!) { refreshToken(input: $input) { accessToken refreshToken expiresIn user { id } } }`;
const LOGOUT = `mutation($input: LogoutInput!) { logout(input: $input) { loggedOut } }`;
const SESSIONS = '{ mySessions { id ip userAgent current } }';
const ME = '{ me { id email emailVerified } }';

type AuthData = { accessToken: string; refreshToken: string; expiresIn: number; user: { id: string } };

/** The answer names no account (issue 12): the new one is read back by its address. */
async function registerUser(address = email()) {
  const result = await subgraph.gql<{ register: { accepted: boolean } }>(REGISTER, {
    input: { email: address, password: PASSWORD, displayName: 'Acct' },
  });
  expect(result.data!.register.accepted).toBe(true);
  const [user] = await sql<[{ id: string; emailVerified: boolean }]>`
    select id, email_verified_at is not null as "emailVerified" from identity.users where email_index = ${emailIndexOf(address)}`;
  return user && { ...user, email: (await openedAccount(sql, user.id))!.email };
}

const login = (address: string, password = PASSWORD) =>
  subgraph.gql<{ login: AuthData }>(LOGIN, { input: { email: address, password } });
const refresh = (refreshToken: string, headers: Record<string, string> = {}) =>
  subgraph.gql<{ refreshToken: AuthData }>(REFRESH, { input: { refreshToken } }, headers);

describe('email verification', () => {
  it('publishes user.registered with a token whose hash alone is stored, and verifies once', async () => {
    const user = await registerUser();
    expect(user.emailVerified).toBe(false);
    const event = await waitFor(async () => registered.find((e) => e.payload.userId === user.id));
    expect(event).toMatchObject({
      type: 'bilten.identity.user.registered',
      version: 2,
      aggregateType: 'user',
    });
    expect(event.payload).toEqual({
      userId: user.id,
      email: user.email,
      displayName: 'Acct',
      sealedToken: expect.any(String),
      expiresAt: expect.any(String),
    });
    const token = opened(event.payload);
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    // The outbox (and so the stream and every backup) holds no usable token.
    const rows =
      await sql`select payload::text as payload from identity.outbox where aggregate_id = ${user.id}`;
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows) expect(row.payload).not.toContain(token);
    // Bound to its account: the sealed token of one user does not open as another's.
    expect(() => testLinkTokens.open(event.payload.sealedToken, randomUUID())).toThrow();
    const hoursValid = (Date.parse(event.payload.expiresAt) - Date.now()) / 3_600_000;
    expect(hoursValid).toBeGreaterThan(23.9);
    expect(hoursValid).toBeLessThanOrEqual(24);
    const stored = await sql`select token_hash from identity.email_verifications where user_id = ${user.id}`;
    expect(stored).toHaveLength(1);
    expect(stored[0]!.token_hash).not.toBe(token);
    expect(stored[0]!.token_hash).toMatch(/^[0-9a-f]{64}$/);

    const [first, second] = await Promise.all([
      subgraph.gql<{ verifyEmail: { user: { emailVerified: boolean } | null; errors: unknown[] } }>(VERIFY, {
        input: { token },
      }),
      subgraph.gql<{ verifyEmail: { user: { emailVerified: boolean } | null; errors: unknown[] } }>(VERIFY, {
        input: { token },
      }),
    ]);
    const outcomes = [first, second].map((r) => r.data!.verifyEmail);
    expect(outcomes.filter((o) => o.user?.emailVerified)).toHaveLength(1);
    expect(outcomes.filter((o) => !o.user)[0]!.errors).toEqual([
      {
        code: 'INVALID_INPUT',
        message: expect.stringContaining('not valid or was used'),
        field: ['input', 'token'],
      },
    ]);
  });

  it('refuses an expired token with a clear message', async () => {
    const user = await registerUser();
    const token = await verificationTokenOf(sql, user.id);
    await sql`update identity.email_verifications set expires_at = now() - interval '1 second' where user_id = ${user.id}`;
    const { data } = await subgraph.gql<{ verifyEmail: { user: null; errors: Array<{ message: string }> } }>(
      VERIFY,
      {
        input: { token },
      },
    );
    expect(data!.verifyEmail.user).toBeNull();
    expect(data!.verifyEmail.errors[0]!.message).toContain('expired');
    const [row] = await sql`select email_verified_at from identity.users where id = ${user.id}`;
    expect(row!.email_verified_at).toBeNull();
  });

  it('resends a fresh token a few times per hour, and answers the same for unknown and verified addresses', async () => {
    const user = await registerUser();
    const answers = [];
    for (let i = 0; i < 5; i++)
      answers.push((await subgraph.gql(RESEND, { input: { email: user.email.toUpperCase() } })).data);
    answers.push((await subgraph.gql(RESEND, { input: { email: email() } })).data);
    const verified = await signUp(url, sql);
    answers.push((await subgraph.gql(RESEND, { input: { email: verified.email } })).data);
    for (const answer of answers)
      expect(answer).toEqual({ resendVerification: { accepted: true, errors: [] } });

    // The registration email and three resends: the limit lives in the database. Identity applies
    // it after the answers (issue 12), so give the last requests a moment.
    await waitFor(async () => resent.filter((e) => e.payload.userId === user.id).length === 3);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const [{ n }] = await sql<[{ n: number }]>`
      select count(*)::int as n from identity.email_verifications where user_id = ${user.id}`;
    expect(n).toBe(4);
    expect(resent.some((e) => e.payload.userId === verified.userId)).toBe(false);
    const latest = resent.filter((e) => e.payload.userId === user.id).at(-1)!;
    expect(latest.type).toBe('bilten.identity.email_verification.requested');
    const verifiedNow = await subgraph.gql<{ verifyEmail: { user: { emailVerified: boolean } } }>(VERIFY, {
      input: { token: opened(latest.payload) },
    });
    expect(verifiedNow.data!.verifyEmail.user.emailVerified).toBe(true);
  });
});

describe('login', () => {
  let user: SignedInUser;
  beforeAll(async () => {
    user = await signUp(url, sql);
  });

  it('issues an EdDSA access token with kid, 15 minutes, sub, roles, orgs, jti and email_verified', async () => {
    const { data } = await login(user.email.toUpperCase(), user.password);
    const auth = data!.login;
    expect(auth.expiresIn).toBe(900);
    expect(auth.refreshToken).toMatch(/^brt_[A-Za-z0-9_-]{43}$/);
    expect(auth.user.id).toBe(user.userId);
    const header = decodeProtectedHeader(auth.accessToken);
    expect(header).toMatchObject({ alg: 'EdDSA', kid: expect.any(String) });
    const claims = claimsOf(auth.accessToken);
    expect(claims).toMatchObject({
      sub: user.userId,
      roles: [],
      orgs: {},
      email_verified: true,
      iss: 'bilten-identity',
      aud: 'bilten',
      jti: expect.any(String),
    });
    expect(claims.exp - claims.iat).toBe(900);

    // Any service verifies it with the JWKS identity serves.
    const jwks = (await (
      await fetch(url.replace('/graphql', '/.well-known/jwks.json'))
    ).json()) as JSONWebKeySet;
    expect(jwks.keys.map((k) => k.kid)).toContain(header.kid);
    expect(JSON.stringify(jwks)).not.toMatch(/"d"/);
    const verify = createTokenVerifier({ issuer: 'bilten-identity', audience: 'bilten', jwks });
    expect(await verify(`Bearer ${auth.accessToken}`)).toMatchObject({
      userId: user.userId,
      emailVerified: true,
    });
    expect((await subgraph.gql(ME, {}, { authorization: `Bearer ${auth.accessToken}` })).data).toEqual({
      me: { id: user.userId, email: user.email, emailVerified: true },
    });
  });

  it('gives the same UNAUTHENTICATED answer for an unknown email and a wrong password', async () => {
    const unknown = await login(email());
    const wrong = await login(user.email, 'not the password at all');
    expect(codeOf(unknown)).toBe('UNAUTHENTICATED');
    expect(unknown.errors).toEqual(wrong.errors);
    expect(unknown.data).toEqual(wrong.data);
  });

  it('takes about as long for an unknown email as for a wrong password (dummy argon2 verification)', async () => {
    const median = (values: number[]) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
    const time = async (address: string) => {
      const started = performance.now();
      await login(address, 'not the password at all');
      return performance.now() - started;
    };
    // Two accounts, four tries each: under the five-failure lock.
    const accounts = [user.email, (await signUp(url, sql)).email];
    const unknown: number[] = [];
    const wrong: number[] = [];
    for (let i = 0; i < 8; i++) {
      unknown.push(await time(email()));
      wrong.push(await time(accounts[i % 2]!));
    }
    // Without the dummy verification an unknown address answers some 20× faster (no argon2); the
    // bounds leave room for a machine busy with the rest of the suite (2.2 was seen there).
    const ratio = median(unknown) / median(wrong);
    expect(ratio).toBeGreaterThan(1 / 3);
    expect(ratio).toBeLessThan(3);
  });

  it('rejects malformed input with field errors and never reaches the hasher with 10 KB', async () => {
    const { data } = await subgraph.gql<{ login: { accessToken: null; errors: Array<{ field: string[] }> } }>(
      LOGIN,
      {
        input: { email: 'not-an-email', password: 'x'.repeat(10_240) },
      },
    );
    expect(data!.login.accessToken).toBeNull();
    expect(data!.login.errors.map((e) => e.field.join('.'))).toEqual(['input.email', 'input.password']);
  });

  it('signs in with six SQL statements: account, client guard, account guard, settle, session, memberships', async () => {
    const fresh = await signUp(url, sql);
    const statements = await statementsOf(url, async () => {
      expect(codeOf(await login(fresh.email, fresh.password))).toBeUndefined();
    });
    expect(statements).toBe(6);
  });

  it('lets an unverified user sign in, with email_verified false', async () => {
    const unverified = await signUp(url, sql, { verified: false });
    expect(claimsOf(unverified.accessToken).email_verified).toBe(false);
  });
});

describe('brute-force protection', () => {
  const attempt = (address: string, ip: string, password = 'wrong password, again') =>
    subgraph.gql<{ login: AuthData }>(
      LOGIN,
      { input: { email: address, password } },
      { 'x-forwarded-for': ip, 'user-agent': 'guesser/0.1' },
    );

  it('locks an address for the client that failed 5 times, the same way for known and unknown ones, and releases it after', async () => {
    const known = await signUp(url, sql);
    const unknown = email();
    const locks = await recordEvents(subgraph.testBus.bus, loginLocked);
    for (const address of [known.email, unknown]) {
      for (let i = 0; i < 5; i++)
        expect(codeOf(await attempt(address, '192.0.2.10'))).toBe('UNAUTHENTICATED');
      // Locked for this client: even the right password is refused, before any hashing.
      const locked = await attempt(address, '192.0.2.10', known.password);
      expect(codeOf(locked)).toBe('RATE_LIMITED');
      expect(locked.errors?.[0]?.extensions?.retryAfterSeconds).toBeGreaterThan(14 * 60);
    }
    const lockedAnswers = await Promise.all([known.email, unknown].map((a) => attempt(a, '192.0.2.10')));
    expect(lockedAnswers[0]!.errors).toEqual(lockedAnswers[1]!.errors);

    const event = await waitFor(async () => locks.find((e) => e.payload.userId === known.userId));
    expect(event).toMatchObject({
      type: 'bilten.identity.security.login_locked',
      aggregateType: 'login_throttle',
    });
    expect(event.payload).toMatchObject({
      scope: 'email',
      ip: '192.0.2.10',
      userAgent: 'guesser/0.1',
      lockouts: 1,
    });
    await waitFor(async () => locks.some((e) => e.payload.scope === 'email' && e.payload.userId === null));
    expect(subgraph.logs.find((l) => l.event === 'login_locked' && l.userId === known.userId)).toMatchObject({
      level: 40,
      security: true,
      ip: '192.0.2.10',
      userAgent: 'guesser/0.1',
    });

    // The window passes: the right password works from that client again and clears its count.
    await sql`update identity.throttles set locked_until = now() - interval '1 second' where key like 'login:client:%'`;
    expect((await attempt(known.email, '192.0.2.10', known.password)).data?.login.user.id).toBe(known.userId);

    // The next lockout of the unknown address from that client lasts twice as long.
    for (let i = 0; i < 5; i++) await attempt(unknown, '192.0.2.10');
    const second = await attempt(unknown, '192.0.2.10');
    expect(second.errors?.[0]?.extensions?.retryAfterSeconds).toBeGreaterThan(29 * 60);
  });

  it('lets an attacker failing many times from one address lock only that address out: the owner signs in from another', async () => {
    const victim = await signUp(url, sql);
    const codes = [];
    for (let i = 0; i < 20; i++) codes.push(codeOf(await attempt(victim.email, '203.0.113.66')));
    expect(codes).toEqual([...Array(5).fill('UNAUTHENTICATED'), ...Array(15).fill('RATE_LIMITED')]);
    // The attacker's address stays locked, even with the right password.
    expect(codeOf(await attempt(victim.email, '203.0.113.66', victim.password))).toBe('RATE_LIMITED');
    // The owner, elsewhere, needs nothing but the password.
    const owner = await attempt(victim.email, '198.51.100.7', victim.password);
    expect(owner.errors).toBeUndefined();
    expect(owner.data?.login.user.id).toBe(victim.userId);
  });

  it('guards the current password of changePassword and changeEmail like sign-in, per session', async () => {
    const CHANGE_PASSWORD = `mutation($input: ChangePasswordInput!) { changePassword(input: $input) { user { id } errors { code field } } }`;
    const CHANGE_EMAIL = `mutation($input: ChangeEmailInput!) { changeEmail(input: $input) { pendingEmail errors { code field } } }`;
    const user = await signUp(url, sql);
    const locks = await recordEvents(subgraph.testBus.bus, loginLocked);
    const changePassword = (currentPassword: string) =>
      subgraph.gql<{ changePassword: { user: { id: string } | null; errors: Array<{ field: string[] }> } }>(
        CHANGE_PASSWORD,
        { input: { currentPassword, newPassword: 'a brand new passphrase' } },
        { ...user.headers, 'x-forwarded-for': '192.0.2.150' },
      );
    const changeEmail = (currentPassword: string) =>
      subgraph.gql<{ changeEmail: { pendingEmail: string | null; errors: Array<{ field: string[] }> } }>(
        CHANGE_EMAIL,
        { input: { newEmail: email(), currentPassword } },
        { ...user.headers, 'x-forwarded-for': '192.0.2.151' },
      );
    // A stolen access token: five guesses, mixed between the two mutations and two addresses.
    for (let i = 0; i < 5; i++) {
      const guess = `guess number ${i} here`;
      const result = i % 2 ? await changeEmail(guess) : await changePassword(guess);
      expect(JSON.stringify(result.data)).toContain('currentPassword');
    }
    // Locked now for that session, for both, even with the right password.
    expect(codeOf(await changePassword(user.password))).toBe('RATE_LIMITED');
    expect(codeOf(await changeEmail(user.password))).toBe('RATE_LIMITED');
    const event = await waitFor(async () => locks.find((e) => e.payload.userId === user.userId));
    expect(event.payload).toMatchObject({ scope: 'email', lockouts: 1 });
    // The owner still signs in, from anywhere.
    expect((await attempt(user.email, '192.0.2.152', user.password)).data?.login.user.id).toBe(user.userId);
  });

  describe('past 10 password checks of one account from anywhere', () => {
    const SIGN_IN = `mutation($input: LoginInput!) { login(input: $input) { user { id } deviceToken } }`;
    type ProofOfWork = { challenge: string; nonce: string };
    const signIn = (
      address: string,
      ip: string,
      password: string,
      proof: { deviceToken?: string; proofOfWork?: ProofOfWork } = {},
    ) =>
      subgraph.gql<{ login: { user: { id: string }; deviceToken: string } }>(
        SIGN_IN,
        { input: { email: address, password, ...proof } },
        { 'x-forwarded-for': ip },
      );
    const challengeOf = (result: Pick<GqlResult<unknown>, 'errors'>) =>
      result.errors?.[0]?.extensions?.proofOfWork as { challenge: string; difficulty: number };
    /** What a client does with a challenge: search for a nonce whose hash starts with `difficulty` zero bits. */
    function solve({ challenge, difficulty }: { challenge: string; difficulty: number }): ProofOfWork {
      const zeroBits = (digest: Buffer) => {
        let bits = 0;
        for (const byte of digest) {
          if (byte) return bits + Math.clz32(byte) - 24;
          bits += 8;
        }
        return bits;
      };
      for (let n = 0; ; n++) {
        if (zeroBits(createHash('sha256').update(`${challenge}:${n}`).digest()) >= difficulty)
          return { challenge, nonce: String(n) };
      }
    }
    /** Ten guesses from ten addresses, in parallel: the account's free checks. */
    const rotatingGuesses = (address: string, count: number, from: number) =>
      Promise.all(Array.from({ length: count }, (_, i) => attempt(address, `198.18.${from}.${i}`)));

    it('lets 10 of 20 parallel guesses from 20 addresses reach the password check; the rest get a challenge', async () => {
      const victim = await signUp(url, sql);
      const unknown = email();
      for (const address of [victim.email, unknown]) {
        const codes = (await rotatingGuesses(address, 20, 1)).map(codeOf);
        // Each UNAUTHENTICATED is one argon2 verification of a guess; the rest never got that far.
        expect(codes.filter((code) => code === 'UNAUTHENTICATED')).toHaveLength(10);
        expect(codes.filter((code) => code === 'RATE_LIMITED')).toHaveLength(10);
      }
      // No address was locked, and none is now: the account is not locked either, it asks for more.
      const refused = await signIn(victim.email, '198.18.2.1', victim.password);
      expect(codeOf(refused)).toBe('RATE_LIMITED');
      expect(refused.errors?.[0]?.extensions?.retryAfterSeconds).toBeUndefined();
      expect(challengeOf(refused)).toEqual({ challenge: expect.any(String), difficulty: 16 });
      // Known and unknown addresses answer alike.
      const stranger = await signIn(unknown, '198.18.2.1', victim.password);
      expect(stranger.errors?.[0]?.message).toBe(refused.errors?.[0]?.message);
      expect(challengeOf(stranger).difficulty).toBe(16);
    });

    it('lets the owner in on a device that signed in before, or with a solved challenge', async () => {
      const victim = await signUp(url, sql);
      const { deviceToken } = (await signIn(victim.email, '198.51.100.30', victim.password)).data!.login;
      expect(deviceToken).toEqual(expect.any(String));
      await rotatingGuesses(victim.email, 12, 3);

      // Known device, from an address never seen: the password is enough.
      const known = await signIn(victim.email, '198.51.100.31', victim.password, { deviceToken });
      expect(known.data?.login.user.id).toBe(victim.userId);
      // Another account's device token proves nothing here.
      const other = await signUp(url, sql);
      const othersDevice = (await signIn(other.email, '198.51.100.32', other.password)).data!.login
        .deviceToken;
      const foreign = await signIn(victim.email, '198.51.100.33', victim.password, {
        deviceToken: othersDevice,
      });
      expect(codeOf(foreign)).toBe('RATE_LIMITED');
      // A new device pays the challenge once.
      const paid = await signIn(victim.email, '198.51.100.33', victim.password, {
        proofOfWork: solve(challengeOf(foreign)),
      });
      expect(paid.data?.login.user.id).toBe(victim.userId);
    });

    it('forgets the guesses once the owner resets the password by mail', async () => {
      const resets = await recordEvents(subgraph.testBus.bus, passwordResetRequested);
      const victim = await signUp(url, sql);
      await rotatingGuesses(victim.email, 10, 8);
      expect(codeOf(await signIn(victim.email, '198.18.9.1', victim.password))).toBe('RATE_LIMITED');
      await subgraph.gql(
        'mutation($input: RequestPasswordResetInput!) { requestPasswordReset(input: $input) { accepted } }',
        { input: { email: victim.email } },
      );
      const event = await waitFor(async () => resets.find((e) => e.payload.userId === victim.userId));
      const reset = await subgraph.gql<{ resetPassword: { errors: unknown[] } }>(
        'mutation($input: ResetPasswordInput!) { resetPassword(input: $input) { errors { code } } }',
        { input: { token: opened(event.payload), newPassword: 'the passphrase after the attack' } },
      );
      expect(reset.data?.resetPassword.errors).toEqual([]);
      const signedIn = await signIn(victim.email, '198.18.9.1', 'the passphrase after the attack');
      expect(signedIn.data?.login.user.id).toBe(victim.userId);
    });

    it('makes an attacker rotating addresses pay for every further guess, more the more they guess', async () => {
      const victim = await signUp(url, sql);
      await rotatingGuesses(victim.email, 10, 4);
      const challenge = challengeOf(await attempt(victim.email, '198.18.5.1'));
      expect(challenge.difficulty).toBe(16);
      // Unsolved, forged or another account's: refused before any password check.
      const unsolved = { challenge: challenge.challenge, nonce: 'no-work-done' };
      const [header] = challenge.challenge.split('.');
      const forged = { challenge: `${header}.${'A'.repeat(43)}`, nonce: '1' };
      const elsewhere = email();
      await rotatingGuesses(elsewhere, 10, 7);
      const foreign = solve(challengeOf(await attempt(elsewhere, '198.18.5.2')));
      for (const proofOfWork of [unsolved, forged, foreign])
        expect(codeOf(await signIn(victim.email, '198.18.5.3', 'a guess', { proofOfWork }))).toBe(
          'RATE_LIMITED',
        );

      // Paid: the guess is checked (and wrong). The same solution does not buy a second guess,
      // neither after nor alongside it.
      const proofOfWork = solve(challenge);
      const guesses = await Promise.all(
        ['198.18.5.4', '198.18.5.5', '198.18.5.6'].map((ip) =>
          signIn(victim.email, ip, 'a guess', { proofOfWork }),
        ),
      );
      expect(guesses.map(codeOf).sort()).toEqual(['RATE_LIMITED', 'RATE_LIMITED', 'UNAUTHENTICATED']);
      expect(codeOf(await signIn(victim.email, '198.18.5.7', 'a guess', { proofOfWork }))).toBe(
        'RATE_LIMITED',
      );

      // Ten checks past the limit, each paid: the challenge doubles its work.
      for (let i = 0; i < 9; i++) {
        const next = challengeOf(await attempt(victim.email, `198.18.6.${i}`));
        expect(next.difficulty).toBe(16);
        await signIn(victim.email, `198.18.6.${i}`, 'a guess', { proofOfWork: solve(next) });
      }
      expect(challengeOf(await attempt(victim.email, '198.18.6.100')).difficulty).toBe(17);
    });
  });

  it('refuses a junk reset token before hashing the new password', async () => {
    const RESET = `mutation($input: ResetPasswordInput!) { resetPassword(input: $input) { user { id } errors { code message } } }`;
    const median = (values: number[]) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
    const time = async (run: () => Promise<unknown>) => {
      const started = performance.now();
      await run();
      return performance.now() - started;
    };
    const junk: number[] = [];
    const hashing: number[] = [];
    const stranger = await signUp(url, sql);
    const CHANGE = `mutation($input: ChangePasswordInput!) { changePassword(input: $input) { errors { code } } }`;
    for (let i = 0; i < 4; i++) {
      junk.push(
        await time(async () => {
          const { data } = await subgraph.gql<{ resetPassword: { errors: Array<{ message: string }> } }>(
            RESET,
            {
              input: { token: `junk-${i}-${randomUUID()}`, newPassword: 'a brand new passphrase' },
            },
          );
          expect(data!.resetPassword.errors[0]!.message).toContain('not valid');
        }),
      );
      // The same request shape that does hash: a change of password (verify + hash).
      const next = `passphrase number ${i + 1}`;
      const current = i === 0 ? stranger.password : `passphrase number ${i}`;
      hashing.push(
        await time(() =>
          subgraph.gql(CHANGE, { input: { currentPassword: current, newPassword: next } }, stranger.headers),
        ),
      );
    }
    expect(median(junk)).toBeLessThan(median(hashing) / 3);
  });

  it('locks a client address after 50 failures across many accounts', async () => {
    const ip = '198.51.100.200';
    for (let i = 0; i < 50; i++) expect(codeOf(await attempt(email(), ip))).toBe('UNAUTHENTICATED');
    expect(codeOf(await attempt(email(), ip))).toBe('RATE_LIMITED');
    // Other clients are not affected.
    expect(codeOf(await attempt(email(), '198.51.100.201'))).toBe('UNAUTHENTICATED');
  });

  it('limits sign-ups per client address (20 an hour by default)', async () => {
    // The sign-up count in the database, without the field limit (RATE_LIMIT_SIGN_UP) that comes first.
    const strict = await startTestSubgraph(identitySubgraph, 'in-process', {
      env: { RATE_LIMIT_SIGN_UP: 'off' },
      ...OWN_TOKENS,
    });
    try {
      const signUpFrom = (ip: string) =>
        strict.gql<{ register: { accepted: boolean } }>(
          REGISTER,
          { input: { email: email(), password: PASSWORD, displayName: 'Bulk' } },
          { 'x-forwarded-for': ip },
        );
      for (let i = 0; i < 20; i++)
        expect((await signUpFrom('203.0.113.50')).data?.register.accepted).toBe(true);
      const refused = await signUpFrom('203.0.113.50');
      expect(refused.errors?.[0]?.extensions?.code).toBe('RATE_LIMITED');
      expect((await signUpFrom('203.0.113.51')).data?.register.accepted).toBe(true);
      const [{ n }] = await strict.sql<[{ n: number }]>`select count(*)::int as n from identity.users`;
      expect(n).toBe(21);
    } finally {
      await strict.dispose();
    }
  });
});

describe('password reset and change', () => {
  const REQUEST = `mutation($input: RequestPasswordResetInput!) { requestPasswordReset(input: $input) { accepted errors { code } } }`;
  const RESET = `mutation($input: ResetPasswordInput!) { resetPassword(input: $input) { user { id emailVerified } errors { code message field } } }`;
  const CHANGE = `mutation($input: ChangePasswordInput!) { changePassword(input: $input) { user { id } errors { code message field } } }`;
  type ResetResult = {
    resetPassword: {
      user: { id: string; emailVerified: boolean } | null;
      errors: Array<{ message: string; field: string[] }>;
    };
  };

  const requestReset = async (address: string, ip = '192.0.2.80') =>
    (
      await subgraph.gql<{ requestPasswordReset: unknown }>(
        REQUEST,
        { input: { email: address } },
        { 'x-forwarded-for': ip },
      )
    ).data;

  it('sends a single-use reset token, answers the same for unknown addresses, and signs out every session', async () => {
    const resets = await recordEvents(subgraph.testBus.bus, passwordResetRequested);
    const user = await signUp(url, sql, { verified: false });
    const second = (await login(user.email, user.password)).data!.login;
    expect(await requestReset(user.email.toUpperCase())).toEqual(await requestReset(email()));
    const event = await waitFor(async () => resets.find((e) => e.payload.userId === user.userId));
    expect(event).toMatchObject({
      type: 'bilten.identity.password_reset.requested',
      version: 2,
      aggregateType: 'user',
    });
    expect(event.payload).toEqual({
      userId: user.userId,
      email: user.email,
      displayName: 'Test User',
      sealedToken: expect.any(String),
      expiresAt: expect.any(String),
    });
    expect((Date.parse(event.payload.expiresAt) - Date.now()) / 60_000).toBeGreaterThan(59);
    const stored = await sql`select token_hash from identity.password_resets where user_id = ${user.userId}`;
    expect(opened(event.payload)).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(stored.map((r) => r.token_hash)).not.toContain(opened(event.payload));

    const token = opened(event.payload);
    const weak = await subgraph.gql<ResetResult>(RESET, { input: { token, newPassword: 'password1' } });
    expect(weak.data!.resetPassword.errors[0]!.field).toEqual(['input', 'newPassword']);
    const done = await subgraph.gql<ResetResult>(RESET, {
      input: { token, newPassword: 'a brand new passphrase' },
    });
    expect(done.data!.resetPassword).toEqual({ user: { id: user.userId, emailVerified: true }, errors: [] });
    const again = await subgraph.gql<ResetResult>(RESET, {
      input: { token, newPassword: 'yet another passphrase' },
    });
    expect(again.data!.resetPassword.errors[0]!.message).toContain('used already');

    // Every session is gone; the old password no longer works, the new one does.
    expect(codeOf(await refresh(user.refreshToken))).toBe('UNAUTHENTICATED');
    expect(codeOf(await refresh(second.refreshToken))).toBe('UNAUTHENTICATED');
    expect(codeOf(await login(user.email, user.password))).toBe('UNAUTHENTICATED');
    expect((await login(user.email, 'a brand new passphrase')).data!.login.user.id).toBe(user.userId);
  });

  it('refuses an expired reset token and limits reset emails to three an hour per account', async () => {
    const resets = await recordEvents(subgraph.testBus.bus, passwordResetRequested);
    const user = await signUp(url, sql);
    for (let i = 0; i < 5; i++) await requestReset(user.email, `192.0.2.9${i}`);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const mine = await waitFor(async () => {
      const found = resets.filter((e) => e.payload.userId === user.userId);
      return found.length >= 3 && found;
    });
    expect(mine).toHaveLength(3);
    await sql`update identity.password_resets set expires_at = now() - interval '1 second' where user_id = ${user.userId}`;
    const expired = await subgraph.gql<ResetResult>(RESET, {
      input: { token: opened(mine[0]!.payload), newPassword: 'a brand new passphrase' },
    });
    expect(expired.data!.resetPassword.errors[0]!.message).toContain('expired');
    expect(codeOf(await refresh(user.refreshToken))).toBeUndefined();
  });

  it('changes the password given the current one, keeping this session and ending the others', async () => {
    const user = await signUp(url, sql);
    const other = (await login(user.email, user.password)).data!.login;
    const wrong = await subgraph.gql<{ changePassword: { errors: Array<{ field: string[] }> } }>(
      CHANGE,
      { input: { currentPassword: 'not it at all', newPassword: 'a brand new passphrase' } },
      user.headers,
    );
    expect(wrong.data!.changePassword.errors[0]!.field).toEqual(['input', 'currentPassword']);
    const weak = await subgraph.gql<{ changePassword: { errors: Array<{ field: string[] }> } }>(
      CHANGE,
      { input: { currentPassword: user.password, newPassword: 'short' } },
      user.headers,
    );
    expect(weak.data!.changePassword.errors[0]!.field).toEqual(['input', 'newPassword']);
    const changed = await subgraph.gql<{ changePassword: { user: { id: string } } }>(
      CHANGE,
      { input: { currentPassword: user.password, newPassword: 'a brand new passphrase' } },
      user.headers,
    );
    expect(changed.data!.changePassword.user.id).toBe(user.userId);
    expect(codeOf(await refresh(other.refreshToken))).toBe('UNAUTHENTICATED');
    expect(codeOf(await refresh(user.refreshToken))).toBeUndefined();
    expect(codeOf(await subgraph.gql(CHANGE, { input: { currentPassword: 'x', newPassword: 'y' } }))).toBe(
      'UNAUTHENTICATED',
    );
  });
});

describe('changeEmail', () => {
  const CHANGE_EMAIL = `mutation($input: ChangeEmailInput!) {
    changeEmail(input: $input) { user { email } pendingEmail errors { code field } } }`;
  type ChangeResult = {
    changeEmail: {
      user: { email: string } | null;
      pendingEmail: string | null;
      errors: Array<{ code: string; field: string[] }>;
    };
  };
  let changes: DomainEvent<{ userId: string; email: string }>[];
  beforeAll(async () => {
    changes = await recordEvents(subgraph.testBus.bus, userEmailChanged);
  });
  const change = (user: SignedInUser, newEmail: string, currentPassword = user.password) =>
    subgraph.gql<ChangeResult>(CHANGE_EMAIL, { input: { newEmail, currentPassword } }, user.headers);

  it('moves the account only once the new address is verified', async () => {
    const user = await signUp(url, sql);
    const target = email();
    expect((await change(user, target, 'not my password')).data!.changeEmail.errors).toEqual([
      { code: 'INVALID_INPUT', field: ['input', 'currentPassword'] },
    ]);
    // A taken address gets the answer a free one gets (issue 12; see enumeration.test.ts).
    const taken = await signUp(url, sql);
    expect((await change(user, taken.email)).data!.changeEmail).toEqual({
      user: { email: user.email },
      pendingEmail: taken.email,
      errors: [],
    });
    const asked = await change(user, `  ${target.toUpperCase()} `);
    expect(asked.data!.changeEmail).toEqual({
      user: { email: user.email },
      pendingEmail: target,
      errors: [],
    });
    const event = await waitFor(async () =>
      resent.find((e) => e.payload.userId === user.userId && e.payload.email === target),
    );
    expect(event.type).toBe('bilten.identity.email_verification.requested');

    // Until then the old address signs in, the new one does not.
    expect((await login(user.email, user.password)).data!.login.user.id).toBe(user.userId);
    expect(codeOf(await login(target, user.password))).toBe('UNAUTHENTICATED');
    const verified = await subgraph.gql<{ verifyEmail: { user: { id: string; emailVerified: boolean } } }>(
      VERIFY,
      {
        input: { token: opened(event.payload) },
      },
    );
    expect(verified.data!.verifyEmail.user).toEqual({ id: user.userId, emailVerified: true });
    // Published with the move (messaging's recipient book follows it), once, not at the request.
    const moved = await waitFor(async () => changes.find((e) => e.payload.userId === user.userId));
    expect(moved.payload).toEqual({ userId: user.userId, email: target });
    expect(moved.occurredAt > event.occurredAt).toBe(true);
    expect((await login(target, user.password)).data!.login.user.id).toBe(user.userId);
    expect(codeOf(await login(user.email, user.password))).toBe('UNAUTHENTICATED');
    expect(
      codeOf(await subgraph.gql(CHANGE_EMAIL, { input: { newEmail: email(), currentPassword: 'x' } })),
    ).toBe('UNAUTHENTICATED');
  });

  it('refuses the change when someone took the new address meanwhile', async () => {
    const user = await signUp(url, sql);
    const target = email();
    await change(user, target);
    const event = await waitFor(async () =>
      resent.find((e) => e.payload.userId === user.userId && e.payload.email === target),
    );
    await signUp(url, sql, { email: target });
    const late = await subgraph.gql<{ verifyEmail: { user: null; errors: Array<{ code: string }> } }>(
      VERIFY,
      {
        input: { token: opened(event.payload) },
      },
    );
    expect(late.data!.verifyEmail.errors[0]!.code).toBe('ALREADY_EXISTS');
    expect((await openedAccount(sql, user.userId))!.email).toBe(user.email);
  });
});

describe('refresh tokens and sessions', () => {
  it('rotates on every use: the new pair works, the old refresh token is spent', async () => {
    const user = await signUp(url, sql);
    const first = await refresh(user.refreshToken);
    const next = first.data!.refreshToken;
    expect(next.refreshToken).not.toBe(user.refreshToken);
    expect(claimsOf(next.accessToken).sub).toBe(user.userId);
    const hashes = await sql`select token_hash from identity.refresh_tokens`;
    expect(hashes.some((row) => row.token_hash === next.refreshToken)).toBe(false);
    const second = await refresh(next.refreshToken);
    expect(second.data!.refreshToken.user.id).toBe(user.userId);
  });

  it('revokes the whole family when a spent token comes back, and logs a security event', async () => {
    const user = await signUp(url, sql);
    const rotated = (await refresh(user.refreshToken)).data!.refreshToken;
    const reuse = await refresh(user.refreshToken, {
      'user-agent': 'attacker/1.0',
      'x-forwarded-for': '203.0.113.9',
    });
    expect(codeOf(reuse)).toBe('UNAUTHENTICATED');
    // The legitimate holder's newer token dies with the family.
    expect(codeOf(await refresh(rotated.refreshToken))).toBe('UNAUTHENTICATED');
    const line = subgraph.logs.find((l) => l.security === true && l.userId === user.userId);
    expect(line).toMatchObject({
      level: 40,
      ip: '203.0.113.9',
      userAgent: 'attacker/1.0',
      event: 'refresh_token_reuse',
    });
    const [session] = await sql`select revoked_reason from identity.sessions where user_id = ${user.userId}`;
    expect(session!.revoked_reason).toBe('refresh token reused');
  });

  it('lets at most one of two concurrent uses of one refresh token succeed', async () => {
    for (let round = 0; round < 3; round++) {
      const user = await signUp(url, sql);
      const results = await Promise.all([refresh(user.refreshToken), refresh(user.refreshToken)]);
      expect(results.filter((r) => r.data?.refreshToken).length).toBeLessThanOrEqual(1);
      expect(results.filter((r) => codeOf(r) === 'UNAUTHENTICATED').length).toBeGreaterThanOrEqual(1);
    }
  });

  it('refuses unknown, malformed and expired refresh tokens', async () => {
    expect(codeOf(await refresh(`brt_${'A'.repeat(43)}`))).toBe('UNAUTHENTICATED');
    expect(codeOf(await refresh('garbage'))).toBe('UNAUTHENTICATED');
    const user = await signUp(url, sql);
    await sql`update identity.refresh_tokens set expires_at = now() - interval '1 second'
      where session_id in (select id from identity.sessions where user_id = ${user.userId})`;
    expect(codeOf(await refresh(user.refreshToken))).toBe('UNAUTHENTICATED');
  });

  it('logs out one session; logoutEverywhere ends the rest', async () => {
    const user = await signUp(url, sql);
    const other = (await login(user.email, user.password)).data!.login;
    expect((await subgraph.gql(LOGOUT, { input: { refreshToken: user.refreshToken } })).data).toEqual({
      logout: { loggedOut: true },
    });
    expect(codeOf(await refresh(user.refreshToken))).toBe('UNAUTHENTICATED');
    // Unknown tokens get the same answer.
    expect((await subgraph.gql(LOGOUT, { input: { refreshToken: 'nope' } })).data).toEqual({
      logout: { loggedOut: true },
    });

    const third = (await login(user.email, user.password)).data!.login;
    const everywhere = await subgraph.gql<{ logoutEverywhere: { revokedSessions: number } }>(
      'mutation { logoutEverywhere { revokedSessions errors { code } } }',
      {},
      { authorization: `Bearer ${third.accessToken}` },
    );
    expect(everywhere.data!.logoutEverywhere.revokedSessions).toBe(2);
    expect(codeOf(await refresh(other.refreshToken))).toBe('UNAUTHENTICATED');
    expect(codeOf(await refresh(third.refreshToken))).toBe('UNAUTHENTICATED');
    expect(codeOf(await subgraph.gql('mutation { logoutEverywhere { revokedSessions } }'))).toBe(
      'UNAUTHENTICATED',
    );
  });

  it('lists my active sessions with ip, user agent and the current one, and revokes only my own', async () => {
    const user = await signUp(url, sql);
    const phone = (
      await subgraph.gql<{ login: AuthData }>(
        LOGIN,
        { input: { email: user.email, password: user.password } },
        { 'user-agent': 'BiltenPhone/2.0', 'x-forwarded-for': '198.51.100.7' },
      )
    ).data!.login;
    const { data } = await subgraph.gql<{
      mySessions: Array<{ id: string; ip: string; userAgent: string; current: boolean }>;
    }>(SESSIONS, {}, { authorization: `Bearer ${phone.accessToken}` });
    expect(data!.mySessions).toHaveLength(2);
    const current = data!.mySessions.find((s) => s.current)!;
    expect(current).toMatchObject({ ip: '198.51.100.7', userAgent: 'BiltenPhone/2.0' });
    const laptop = data!.mySessions.find((s) => !s.current)!;

    const stranger = await signUp(url, sql);
    const REVOKE = `mutation($input: RevokeSessionInput!) { revokeSession(input: $input) { session { id } errors { code field } } }`;
    const foreign = await subgraph.gql<{ revokeSession: unknown }>(
      REVOKE,
      { input: { id: laptop.id } },
      stranger.headers,
    );
    expect(foreign.data!.revokeSession).toEqual({
      session: null,
      errors: [{ code: 'NOT_FOUND', field: ['input', 'id'] }],
    });
    const missing = await subgraph.gql<{ revokeSession: unknown }>(
      REVOKE,
      { input: { id: randomUUID() } },
      stranger.headers,
    );
    expect(missing.data).toEqual(foreign.data);
    expect(codeOf(await refresh(user.refreshToken))).toBeUndefined();

    const own = await subgraph.gql<{ revokeSession: { session: { id: string } } }>(
      REVOKE,
      { input: { id: laptop.id } },
      { authorization: `Bearer ${phone.accessToken}` },
    );
    expect(own.data!.revokeSession.session.id).toBe(laptop.id);
    const after = await subgraph.gql<{ mySessions: unknown[] }>(
      SESSIONS,
      {},
      { authorization: `Bearer ${phone.accessToken}` },
    );
    expect(after.data!.mySessions).toHaveLength(1);
    expect(codeOf(await subgraph.gql(SESSIONS))).toBe('UNAUTHENTICATED');
  });
});

describe('signing keys', () => {
  const jwksUrl = () => url.replace('/graphql', '/.well-known/jwks.json');

  it('keeps the private key encrypted at rest', async () => {
    const rows = await sql`select kid, public_jwk, private_jwk_encrypted from identity.signing_keys`;
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows) {
      expect(row.private_jwk_encrypted).toMatch(/^[A-Za-z0-9_-]+$/);
      expect(Buffer.from(row.private_jwk_encrypted, 'base64url').toString('latin1')).not.toContain('"d"');
      expect(row.public_jwk).not.toHaveProperty('d');
    }
  });

  const kidsOf = async () =>
    ((await (await fetch(jwksUrl())).json()) as JSONWebKeySet).keys.map((key) => key.kid);

  it('rotates without logging anybody out: the new key is published first, old tokens stay valid', async () => {
    const user = await signUp(url, sql);
    const oldKid = decodeProtectedHeader(user.accessToken).kid!;
    const service = createTokenVerifier({
      issuer: 'bilten-identity',
      audience: 'bilten',
      jwksUrl: jwksUrl(),
    });
    expect(await service(user.headers.authorization)).toMatchObject({ userId: user.userId });

    // Platform admins only.
    const ROTATE = `mutation($input: RotateSigningKeyInput) {
      rotateSigningKey(input: $input) { kid activatesAt errors { code } } }`;
    expect(codeOf(await subgraph.gql(ROTATE, {}, user.headers))).toBe('FORBIDDEN');
    await sql`update identity.users set roles = '{ADMIN}' where id = ${user.userId}`;
    const admin = {
      authorization: `Bearer ${(await refresh(user.refreshToken)).data!.refreshToken.accessToken}`,
    };
    const rotated = await subgraph.gql<{ rotateSigningKey: { kid: string; activatesAt: string } }>(
      ROTATE,
      { input: { activateInSeconds: 2 } },
      admin,
    );
    const newKid = rotated.data!.rotateSigningKey.kid;
    expect(newKid).not.toBe(oldKid);

    // Published at once, signing only from activatesAt: services learn the key before any token.
    expect(await kidsOf()).toEqual(expect.arrayContaining([oldKid, newKid]));
    const before = (await login(user.email, user.password)).data!.login;
    expect(decodeProtectedHeader(before.accessToken).kid).toBe(oldKid);
    const lateService = createTokenVerifier({
      issuer: 'bilten-identity',
      audience: 'bilten',
      jwksUrl: jwksUrl(),
    });
    await lateService(user.headers.authorization); // caches a key set with both keys
    await new Promise((resolve) => setTimeout(resolve, 2_100));
    const after = (await login(user.email, user.password)).data!.login;
    expect(decodeProtectedHeader(after.accessToken).kid).toBe(newKid);
    expect(await lateService(`Bearer ${after.accessToken}`)).toMatchObject({ userId: user.userId });
    expect((await subgraph.gql(ME, {}, { authorization: `Bearer ${after.accessToken}` })).data).toMatchObject(
      {
        me: { id: user.userId },
      },
    );

    // Tokens signed with the old key keep working, at identity and at any service.
    expect((await subgraph.gql(ME, {}, user.headers)).data).toMatchObject({ me: { id: user.userId } });
    expect(await service(user.headers.authorization)).toMatchObject({ userId: user.userId });

    // Once every token of the old key has expired, it leaves the JWKS.
    await sql`update identity.signing_keys set retired_at = now() - interval '21 minutes' where kid = ${oldKid}`;
    expect(await kidsOf()).toEqual([newKid]);
  });
});
