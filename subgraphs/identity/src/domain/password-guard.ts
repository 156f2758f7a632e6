import {
  type Database,
  DomainError,
  reportSecurityEvent,
  type SecurityEventReport,
  type Transaction,
} from '@bilten/platform';
import type { Context } from '../context.ts';
import type { UserRow } from '../db/schema.ts';
import {
  claimThrottle,
  deleteThrottles,
  hitThrottles,
  lockThrottle,
  settleThrottles,
} from '../db/throttles.ts';
import { loginLocked } from '../events.ts';
import { tokenHash } from './secrets.ts';
import type { ProofOfWork, SignInProofs } from './sign-in-proofs.ts';
import type { ThrottleRule } from './throttles.ts';

/** A rate limit whose key, once spent, is locked this long, doubling with each lockout up to a cap. */
interface LockingRule extends ThrottleRule {
  lockMs: number;
  maxLockMs: number;
}

/** The window both locking rules count in, so one statement can count both. */
const LOGIN_WINDOW_MS = 15 * 60_000;

/**
 * Failures for one address (known or not, so a lock tells nothing about accounts) from one client:
 * its session when signed in (changePassword, changeEmail), else its IP address. Locking the pair,
 * not the address, leaves the owner elsewhere free to sign in.
 */
const LOGIN_PER_CLIENT: LockingRule = {
  limit: 5,
  windowMs: LOGIN_WINDOW_MS,
  lockMs: 15 * 60_000,
  maxLockMs: 24 * 60 * 60_000,
};
/** Failures per client address: many accounts tried from one place. */
const LOGIN_PER_IP: LockingRule = {
  limit: 50,
  windowMs: LOGIN_WINDOW_MS,
  lockMs: 15 * 60_000,
  maxLockMs: 24 * 60 * 60_000,
};
/**
 * Password checks per address from anywhere, failed or under way. Past the limit the address is
 * never locked, but each further check needs a device that signed in to the account before, or a
 * solved challenge: an attacker rotating addresses pays for every guess.
 */
const LOGIN_PER_ACCOUNT: ThrottleRule = { limit: 10, windowMs: 24 * 60 * 60_000 };
/**
 * Leading zero bits of the challenge: 2^16 SHA-256 on average (well under a second on a phone),
 * one more for each doubling of the checks past the limit, up to 2^22 (seconds).
 */
const BASE_DIFFICULTY = 16;
const MAX_DIFFICULTY = 22;

const accountKey = (email: string) => `login:account:${tokenHash(email)}`;
const clientKeyPrefix = (email: string) => `login:client:${tokenHash(email)}:`;
// Half a hash for the client keeps the key within an event's 128-character aggregate id.
const clientKey = (email: string, client: string) =>
  `${clientKeyPrefix(email)}${tokenHash(client).slice(0, 32)}`;
const ipKey = (ip: string) => `login:ip:${ip}`;

const difficultyAfter = (attempts: number) =>
  Math.min(MAX_DIFFICULTY, BASE_DIFFICULTY + Math.floor(Math.log2(attempts / LOGIN_PER_ACCOUNT.limit)));

function rateLimited(until: Date): DomainError {
  const seconds = Math.max(1, Math.ceil((until.getTime() - Date.now()) / 1000));
  return new DomainError('RATE_LIMITED', `too many attempts; try again in ${Math.ceil(seconds / 60)} min`, {
    retryAfterSeconds: seconds,
  });
}

/** What a sign-in may show besides the password, and the proofs service that checks it. */
export interface SignInProof {
  proofs: SignInProofs;
  deviceToken?: string | null;
  proofOfWork?: ProofOfWork | null;
}

type GuardCtx = Pick<Context, 'db' | 'outbox' | 'passwords' | 'log' | 'clientIp' | 'userAgent' | 'viewer'> &
  // Every request context has them; security events are reported where they are given.
  Partial<Pick<Context, 'requestId' | 'securityEvents'>>;

/**
 * One password check under the brute-force guard, for sign-in and for anything that asks for the
 * current password. Each attempt takes one of its client's and its IP's allowed failures before
 * argon2 runs, so parallel guesses cannot all slip in ahead of the failure that locks; a right
 * password gives its attempt back. Then it takes one of the account's checks, which past their
 * limit need `proof` (a signed-in session of the account counts as its device). A locked or
 * guarded address answers the same, known or not.
 */
export async function checkPassword(
  ctx: GuardCtx,
  email: string,
  user: UserRow | undefined,
  password: string,
  proof?: SignInProof,
): Promise<boolean> {
  const session = ctx.viewer.kind === 'user' && ctx.viewer.userId === user?.id ? ctx.viewer : undefined;
  const client = session?.sessionId ? `session:${session.sessionId}` : `ip:${ctx.clientIp}`;
  const guards = [
    { scope: 'email', key: clientKey(email, client), rule: LOGIN_PER_CLIENT },
    { scope: 'ip', key: ipKey(ctx.clientIp), rule: LOGIN_PER_IP },
  ] as const;
  const attempts = await hitThrottles(
    ctx.db,
    guards.map((guard) => guard.key),
    LOGIN_WINDOW_MS,
  );
  const locked = attempts
    .map((attempt) => attempt.lockedUntil)
    .filter((until) => until !== null)
    .sort((a, b) => b.getTime() - a.getTime())[0];
  if (locked) throw rateLimited(locked);
  const spent = guards.findIndex((guard, i) => attempts[i]!.hits > guard.rule.limit);
  if (spent >= 0) throw rateLimited(new Date(Date.now() + guards[spent]!.rule.lockMs));
  await claimAccountCheck(ctx, email, {
    knownDevice: Boolean(session) || Boolean(proof?.proofs.isDeviceOf(proof.deviceToken, user?.id)),
    proof,
  });

  // An unknown account still costs one argon2 verification, so timing does not tell it apart.
  const valid = user?.passwordHash
    ? await ctx.passwords.verify(user.passwordHash, password)
    : await ctx.passwords.verifyNobody(password);
  if (valid && user) {
    // This client starts afresh (its lockout history too); the IP and the account get back the check they were charged.
    await settleThrottles(ctx.db, { forget: guards[0].key, release: [guards[1].key, accountKey(email)] });
    return true;
  }
  ctx.log.info({ userId: user?.id ?? null, ip: ctx.clientIp }, 'password check failed');
  // For security monitoring: anonymous whoever tries, the address hashed (rules count distinct
  // accounts), the account's id only when it exists (an incident's affected users).
  await reportGuardEvents(ctx, {
    type: 'login_failed',
    target: 'login',
    actor: { actorId: null, actorKind: 'anonymous' },
    details: { account: tokenHash(email), userId: user?.id ?? null },
  });
  const reachedLimit = guards.filter((guard, i) => attempts[i]!.hits >= guard.rule.limit);
  if (reachedLimit.length > 0) {
    await ctx.db.transaction(async (tx) => {
      for (const { scope, key, rule } of reachedLimit) {
        const locked = await lockThrottle(tx, key, rule);
        const payload = {
          scope,
          userId: scope === 'email' ? (user?.id ?? null) : null,
          ip: ctx.clientIp,
          userAgent: ctx.userAgent,
          lockedUntil: locked.until.toISOString(),
          lockouts: locked.lockouts,
        };
        await ctx.outbox.publish(tx, loginLocked, key, payload);
        ctx.log.warn(
          { security: true, event: 'login_locked', ...payload },
          'sign-in locked after repeated failures',
        );
      }
    });
    await reportGuardEvents(
      ctx,
      ...reachedLimit.map(({ scope }) => ({
        type: 'login_locked' as const,
        target: 'login',
        actor: { actorId: null, actorKind: 'anonymous' as const },
        details: { scope, account: tokenHash(email) },
      })),
    );
  }
  return false;
}

function reportGuardEvents(ctx: GuardCtx, ...reports: SecurityEventReport[]) {
  if (!ctx.securityEvents) return Promise.resolve();
  return reportSecurityEvent({ ...ctx, requestId: ctx.requestId ?? '' }, ctx.securityEvents, ...reports);
}

/**
 * Takes one of the account's password checks, or refuses with RATE_LIMITED and a challenge in
 * `extensions.proofOfWork` (`{ challenge, difficulty }`) once they are used up and this attempt
 * shows neither a known device nor the solution of a challenge issued for the count as it is now.
 */
async function claimAccountCheck(
  ctx: GuardCtx,
  email: string,
  { knownDevice, proof }: { knownDevice: boolean; proof: SignInProof | undefined },
) {
  const account = accountKey(email);
  const claim = await claimThrottle(ctx.db, account, LOGIN_PER_ACCOUNT, {
    proven: knownDevice,
    expected: proof?.proofs.solved(proof.proofOfWork, account) ?? null,
  });
  if (claim.claimed) return;
  const difficulty = difficultyAfter(claim.hits);
  ctx.log.info({ ip: ctx.clientIp, difficulty }, 'sign-in asked for a proof of work');
  throw new DomainError(
    'RATE_LIMITED',
    'too many failed sign-ins to this account: sign in on a device that signed in before, or solve the proof of work',
    proof
      ? { proofOfWork: { challenge: proof.proofs.challenge(account, claim.hits, difficulty), difficulty } }
      : {},
  );
}

/** After a password reset: the address's failed sign-ins and lockouts are forgotten, from every client. */
export async function forgetFailedSignIns(db: Database | Transaction, email: string) {
  await deleteThrottles(db, { key: accountKey(email), prefix: clientKeyPrefix(email) });
}
