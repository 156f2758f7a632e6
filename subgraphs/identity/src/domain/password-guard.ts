import { type Database, DomainError } from '@bilten/platform';
import type { Context } from '../context.ts';
import type { UserRow } from '../db/schema.ts';
import { deleteThrottle, hitThrottles, lockThrottle, settleThrottles } from '../db/throttles.ts';
import { loginLocked } from '../events.ts';
import { tokenHash } from './secrets.ts';
import type { ThrottleRule } from './throttles.ts';

/** A rate limit whose key, once spent, is locked this long, doubling with each lockout up to a cap. */
interface LockingRule extends ThrottleRule {
  lockMs: number;
  maxLockMs: number;
}

/** The window both sign-in rules count in, so one statement can count both. */
const LOGIN_WINDOW_MS = 15 * 60_000;

/** Sign-in failures per address (known or not, so a lock tells nothing about accounts). */
const LOGIN_PER_EMAIL: LockingRule = {
  limit: 5,
  windowMs: LOGIN_WINDOW_MS,
  lockMs: 15 * 60_000,
  maxLockMs: 24 * 60 * 60_000,
};
/** Sign-in failures per client address: many accounts tried from one place. */
const LOGIN_PER_IP: LockingRule = {
  limit: 50,
  windowMs: LOGIN_WINDOW_MS,
  lockMs: 15 * 60_000,
  maxLockMs: 24 * 60 * 60_000,
};

const loginEmailKey = (email: string) => `login:email:${tokenHash(email)}`;
const loginIpKey = (ip: string) => `login:ip:${ip}`;

const passwordGuards = (email: string, ip: string) =>
  [
    { scope: 'email', key: loginEmailKey(email), rule: LOGIN_PER_EMAIL },
    { scope: 'ip', key: loginIpKey(ip), rule: LOGIN_PER_IP },
  ] as const;

function rateLimited(until: Date): DomainError {
  const seconds = Math.max(1, Math.ceil((until.getTime() - Date.now()) / 1000));
  return new DomainError('RATE_LIMITED', `too many attempts; try again in ${Math.ceil(seconds / 60)} min`, {
    retryAfterSeconds: seconds,
  });
}

/**
 * One password check under the brute-force guard, for sign-in and for anything that asks for the
 * current password. Each attempt takes one of the address's and the client's allowed failures
 * before argon2 runs, so parallel guesses cannot all slip in ahead of the failure that locks;
 * a right password gives its attempt back. A locked address answers the same, known or not.
 */
export async function checkPassword(
  ctx: Pick<Context, 'db' | 'outbox' | 'passwords' | 'log' | 'clientIp' | 'userAgent'>,
  email: string,
  user: UserRow | undefined,
  password: string,
): Promise<boolean> {
  const guards = passwordGuards(email, ctx.clientIp);
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
  // An unknown account still costs one argon2 verification, so timing does not tell it apart.
  const valid = user?.passwordHash
    ? await ctx.passwords.verify(user.passwordHash, password)
    : await ctx.passwords.verifyNobody(password);
  if (valid && user) {
    // The address starts afresh (its lockout history too); the client gets back the attempt it was charged.
    await settleThrottles(ctx.db, { forget: guards[0].key, release: guards[1].key });
    return true;
  }
  ctx.log.info({ userId: user?.id ?? null, ip: ctx.clientIp }, 'password check failed');
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
  }
  return false;
}

/** After a password reset: the address's failed sign-ins and lockouts are forgotten. */
export async function forgetFailedSignIns(db: Database, email: string) {
  await deleteThrottle(db, loginEmailKey(email));
}
