import {
  DomainError,
  emailAddress,
  mutationRule,
  reportSecurityEvent,
  requireUser,
  type UserError,
  uuidInput,
  type Viewer,
} from '@bilten/platform';
import { v7 as uuidv7 } from 'uuid';
import { z } from 'zod';
import type { Context } from '../context.ts';
import { userByEmail, usersByIds } from '../db/accounts.ts';
import { type OpenedSession, openSession } from '../db/client-data.ts';
import { membershipsOf } from '../db/organizations.ts';
import type { SessionRow, UserRow } from '../db/schema.ts';
import {
  activeSessionsOf,
  insertRefreshToken,
  insertSessionWithRefreshToken,
  liveSessionClaims,
  lockRefreshToken,
  markRefreshTokenUsed,
  revokeSessions,
  sessionOfRefreshToken,
  touchSession,
} from '../db/sessions.ts';
import { checkPassword } from './password-guard.ts';
import { givenPassword } from './passwords.ts';
import { newToken, tokenHash } from './secrets.ts';
import { ACCESS_TOKEN_TTL_SECONDS } from './signing-keys.ts';

const REFRESH_TOKEN_TTL_MS = 30 * 24 * 60 * 60 * 1000;
const REFRESH_TOKEN = /^brt_[A-Za-z0-9_-]{43}$/;

type Ctx = Pick<
  Context,
  | 'db'
  | 'outbox'
  | 'passwords'
  | 'keys'
  | 'log'
  | 'clientIp'
  | 'userAgent'
  | 'viewer'
  | 'signInProofs'
  | 'requestId'
  | 'securityEvents'
  | 'personKeys'
>;

export interface AuthResult {
  accessToken: string | null;
  refreshToken: string | null;
  expiresIn: number | null;
  user: UserRow | null;
  /** Only from `login`: this device's proof for its next sign-in (see SignInProofs). */
  deviceToken?: string;
  errors: UserError[];
}

const unauthenticated = (message: string) => new DomainError('UNAUTHENTICATED', message);

// One message for an unknown address and a wrong password: the answer must not tell which.
const WRONG_CREDENTIALS = 'the email or password is wrong';

async function accessTokenFor(ctx: Ctx, user: UserRow, sessionId: string): Promise<string> {
  return ctx.keys.sign({
    sub: user.id,
    jti: uuidv7(),
    sid: sessionId,
    roles: user.roles,
    orgs: await membershipsOf(ctx.db, user.id),
    email_verified: user.emailVerifiedAt !== null,
  });
}

/** How long a token with current claims lives: the gateway asks again long before (every second). */
export const CURRENT_CLAIMS_TTL_SECONDS = 60;

/**
 * The caller's access token re-signed with what is true now: platform roles, memberships and
 * email status, for a session that is still live. The gateway swaps every user token for this
 * one, so a role granted or taken away applies from the next request and a revoked session
 * stops at once; the claims of the token the client holds are only a hint. Null: not a live
 * session of identity's (the gateway then answers UNAUTHENTICATED).
 */
export async function currentAccessToken(
  ctx: Pick<Context, 'db' | 'keys'>,
  viewer: Viewer,
): Promise<{ accessToken: string; expiresIn: number } | null> {
  if (viewer.kind !== 'user' || !viewer.sessionId) return null;
  const claims = await liveSessionClaims(ctx.db, viewer.sessionId, viewer.userId);
  if (!claims) return null;
  const accessToken = await ctx.keys.sign(
    {
      sub: viewer.userId,
      jti: uuidv7(),
      sid: viewer.sessionId,
      roles: claims.roles,
      orgs: claims.orgs,
      email_verified: claims.emailVerified,
    },
    CURRENT_CLAIMS_TTL_SECONDS,
  );
  return { accessToken, expiresIn: CURRENT_CLAIMS_TTL_SECONDS };
}

const loginInput = z.object({
  email: emailAddress,
  password: givenPassword,
  deviceToken: z.string().max(1024).nullish(),
  proofOfWork: z.object({ challenge: z.string().max(1024), nonce: z.string().max(64) }).nullish(),
});

export const login = mutationRule(
  {
    input: loginInput,
    invalid: (errors): AuthResult => ({
      accessToken: null,
      refreshToken: null,
      expiresIn: null,
      user: null,
      errors,
    }),
  },
  async (ctx: Ctx, { email, password, deviceToken, proofOfWork }): Promise<AuthResult> => {
    const user = await userByEmail(ctx.db, ctx.personKeys, email);
    const proof = { proofs: ctx.signInProofs, deviceToken, proofOfWork };
    if (!(await checkPassword(ctx, email, user, password, proof)) || !user)
      throw unauthenticated(WRONG_CREDENTIALS);
    const refreshToken = newToken('brt_');
    const expiresAt = new Date(Date.now() + REFRESH_TOKEN_TTL_MS);
    const session = { id: uuidv7(), userId: user.id, ip: ctx.clientIp, userAgent: ctx.userAgent, expiresAt };
    await insertSessionWithRefreshToken(ctx.db, ctx.personKeys, session, tokenHash(refreshToken));
    ctx.log.info({ userId: user.id, sessionId: session.id }, 'signed in');
    return {
      accessToken: await accessTokenFor(ctx, user, session.id),
      refreshToken,
      expiresIn: ACCESS_TOKEN_TTL_SECONDS,
      user,
      deviceToken: ctx.signInProofs.deviceToken(user.id),
      errors: [],
    };
  },
);

const refreshInput = z.object({ refreshToken: z.string().max(200) });

/**
 * Rotation: the presented token is spent and a new one issued, in one transaction holding the
 * token's row lock, so two uses of one token cannot both succeed. A spent token presented
 * again means it was copied: the whole session (family) is revoked.
 */
export async function refresh(ctx: Ctx, input: unknown): Promise<AuthResult> {
  const parsed = refreshInput.safeParse(input);
  if (!parsed.success || !REFRESH_TOKEN.test(parsed.data.refreshToken))
    throw unauthenticated('refresh token is invalid or expired');
  const hash = tokenHash(parsed.data.refreshToken);
  const next = newToken('brt_');
  const expiresAt = new Date(Date.now() + REFRESH_TOKEN_TTL_MS);
  const outcome = await ctx.db.transaction(async (tx) => {
    const found = await lockRefreshToken(tx, hash);
    if (!found) return { kind: 'invalid' as const };
    const { token, session } = found;
    if (token.usedAt) {
      const revoked = await revokeSessions(
        tx,
        { userId: session.userId, id: session.id },
        'refresh token reused',
      );
      return { kind: 'reused' as const, session, revoked: revoked.length > 0 };
    }
    if (session.revokedAt || token.expiresAt.getTime() <= Date.now()) return { kind: 'invalid' as const };
    await markRefreshTokenUsed(tx, hash);
    await insertRefreshToken(tx, { tokenHash: tokenHash(next), sessionId: session.id, expiresAt });
    await touchSession(tx, ctx.personKeys, session, {
      ip: ctx.clientIp,
      userAgent: ctx.userAgent,
      expiresAt,
    });
    return { kind: 'rotated' as const, session };
  });
  if (outcome.kind === 'reused') {
    ctx.log.warn(
      {
        security: true,
        event: 'refresh_token_reuse',
        userId: outcome.session.userId,
        sessionId: outcome.session.id,
        ip: ctx.clientIp,
        userAgent: ctx.userAgent,
        familyRevoked: outcome.revoked,
      },
      'spent refresh token presented again: session revoked',
    );
    // The victim is the session's user: the alert and its incident are about them.
    await reportSecurityEvent(ctx, ctx.securityEvents, {
      type: 'refresh_token_reused',
      target: 'refresh',
      actor: { actorId: outcome.session.userId, actorKind: 'user' },
      details: { sessionId: outcome.session.id, familyRevoked: outcome.revoked },
    });
  }
  if (outcome.kind !== 'rotated') throw unauthenticated('refresh token is invalid or expired');
  const [user] = await usersByIds(ctx.db, ctx.personKeys, [outcome.session.userId]);
  if (!user) throw unauthenticated('refresh token is invalid or expired');
  return {
    accessToken: await accessTokenFor(ctx, user, outcome.session.id),
    refreshToken: next,
    expiresIn: ACCESS_TOKEN_TTL_SECONDS,
    user,
    errors: [],
  };
}

/** Ends the session of a refresh token; the same answer for any token, known or not. */
export async function logout(ctx: Ctx, input: unknown): Promise<{ loggedOut: boolean; errors: UserError[] }> {
  const parsed = refreshInput.safeParse(input);
  if (parsed.success && REFRESH_TOKEN.test(parsed.data.refreshToken)) {
    const session = await sessionOfRefreshToken(ctx.db, tokenHash(parsed.data.refreshToken));
    if (session) await revokeSessions(ctx.db, { userId: session.userId, id: session.id }, 'logout');
  }
  return { loggedOut: true, errors: [] };
}

export async function logoutEverywhere(ctx: Ctx): Promise<{ revokedSessions: number; errors: UserError[] }> {
  const user = requireUser(ctx.viewer);
  const revoked = await revokeSessions(ctx.db, { userId: user.userId }, 'logout everywhere');
  ctx.log.info({ userId: user.userId, sessions: revoked.length }, 'signed out everywhere');
  return { revokedSessions: revoked.length, errors: [] };
}

export type SessionView = OpenedSession & { current: boolean };

/** The session as its user sees it: client data opened (null once their key is destroyed). */
const view = async (
  ctx: Pick<Ctx, 'db' | 'personKeys' | 'viewer'>,
  session: SessionRow,
): Promise<SessionView> => ({
  ...(await openSession(ctx.db, ctx.personKeys, session)),
  current: ctx.viewer.kind === 'user' && ctx.viewer.sessionId === session.id,
});

export async function mySessions(ctx: Ctx): Promise<SessionView[]> {
  const user = requireUser(ctx.viewer);
  return Promise.all((await activeSessionsOf(ctx.db, user.userId)).map((session) => view(ctx, session)));
}

/** Only the caller's own sessions: any other id is NOT_FOUND, whether or not it exists. */
export const revokeSession = mutationRule(
  {
    input: z.object({ id: uuidInput }),
    caller: requireUser,
    invalid: (errors) => ({ session: null, errors }),
  },
  async (ctx: Ctx, { id }, user): Promise<{ session: SessionView | null; errors: UserError[] }> => {
    const [revoked] = await revokeSessions(ctx.db, { userId: user.userId, id }, 'revoked by user');
    if (!revoked)
      return {
        session: null,
        errors: [{ code: 'NOT_FOUND', message: 'no such session', field: ['input', 'id'] }],
      };
    return { session: await view(ctx, revoked), errors: [] };
  },
);

export function me(ctx: Pick<Context, 'viewer' | 'loaders'>) {
  return ctx.viewer.kind === 'user' ? ctx.loaders.user.load(ctx.viewer.userId) : null;
}
