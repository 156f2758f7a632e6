import {
  DomainError,
  displayText,
  emailAddress,
  mutationRule,
  requireUser,
  type Transaction,
  type UserError,
  type Viewer,
} from '@bilten/platform';
import { v7 as uuidv7 } from 'uuid';
import { z } from 'zod';
import type { Context } from '../context.ts';
import {
  changeEmailTo,
  emailVerificationsSince,
  insertEmailVerification,
  insertUser,
  lockEmailVerification,
  lockUser,
  markEmailVerificationUsed,
  markEmailVerified,
  spendEmailChanges,
  userByEmail,
  usersByIds,
} from '../db/accounts.ts';
import type { UserRow } from '../db/schema.ts';
import { emailVerificationRequested, userRegistered } from '../events.ts';
import { checkPassword } from './password-guard.ts';
import { givenPassword, newPassword } from './passwords.ts';
import { newToken, tokenHash } from './secrets.ts';
import { allow } from './throttles.ts';

const VERIFICATION_TTL_MS = 24 * 60 * 60 * 1000;
/** Verification emails per account and hour: the first one and three resends. */
const VERIFICATION_EMAILS_PER_HOUR = 4;

/** A user as a caller sees them: `email` is null where the caller may not read it. */
export type UserView = Omit<UserRow, 'email'> & { email: string | null };

/**
 * A user looked up by id (directly or as a federation reference): their email address is for
 * themself and platform administrators. Team lists and the caller's own sign-in results show it
 * through their own paths.
 */
function userSeenBy(viewer: Viewer, user: UserRow | null | undefined): UserView | null {
  if (!user) return null;
  const own = viewer.kind === 'user' && (viewer.userId === user.id || viewer.roles.includes('ADMIN'));
  return own ? user : { ...user, email: null };
}

/** `user(id:)` and the federation reference: the user as `userSeenBy` shows them, or null. */
export async function userById(ctx: Pick<Context, 'viewer' | 'loaders'>, args: { id: string }) {
  return userSeenBy(ctx.viewer, await ctx.loaders.user.load(args.id));
}

type Ctx = Pick<
  Context,
  'db' | 'outbox' | 'passwords' | 'log' | 'clientIp' | 'userAgent' | 'limits' | 'viewer'
>;
type UserPayload = { user: UserRow | null; errors: UserError[] };

/**
 * A fresh single-use token proving `email` (the account's own, or the new one of a change),
 * stored as a hash; the event carries the plain token to the mailer.
 */
async function issueVerification(
  ctx: Ctx,
  tx: Transaction,
  user: UserRow,
  event: typeof userRegistered,
  target: { email: string; purpose: 'verify' | 'change' } = { email: user.email, purpose: 'verify' },
) {
  const token = newToken();
  const expiresAt = new Date(Date.now() + VERIFICATION_TTL_MS);
  await insertEmailVerification(tx, {
    tokenHash: tokenHash(token),
    userId: user.id,
    ...target,
    expiresAt,
  });
  await ctx.outbox.publish(tx, event, user.id, {
    userId: user.id,
    email: target.email,
    displayName: user.displayName,
    verificationToken: token,
    expiresAt: expiresAt.toISOString(),
  });
}

export const register = mutationRule(
  {
    input: z.object({ email: emailAddress, password: newPassword, displayName: displayText(80) }),
    invalid: (errors) => ({ user: null, errors }),
  },
  async (ctx: Ctx, { email, password, displayName }): Promise<UserPayload> => {
    const perIp = { limit: ctx.limits.registrationsPerIpPerHour, windowMs: 60 * 60_000 };
    if (!(await allow(ctx.db, `register:ip:${ctx.clientIp}`, perIp))) {
      ctx.log.warn(
        { security: true, event: 'registration_rate_limited', ip: ctx.clientIp },
        'sign-ups limited',
      );
      throw new DomainError('RATE_LIMITED', 'too many sign-ups from this address; try again later');
    }
    const passwordHash = await ctx.passwords.hash(password);
    const user = await ctx.db.transaction(async (tx) => {
      // The unique index decides between concurrent sign-ups of one address.
      const created = await insertUser(tx, { id: uuidv7(), email, displayName, passwordHash });
      if (created) await issueVerification(ctx, tx, created, userRegistered);
      return created;
    });
    if (!user) {
      return {
        user: null,
        errors: [
          { code: 'ALREADY_EXISTS', message: 'an account with this email exists', field: ['input', 'email'] },
        ],
      };
    }
    ctx.log.info({ userId: user.id }, 'account registered');
    return { user, errors: [] };
  },
);

export const verifyEmail = mutationRule(
  { input: z.object({ token: z.string().min(1).max(200) }), invalid: (errors) => ({ user: null, errors }) },
  async (ctx: Ctx, { token }): Promise<UserPayload> => {
    const hash = tokenHash(token);
    const result = await ctx.db
      .transaction(async (tx) => {
        const verification = await lockEmailVerification(tx, hash);
        if (!verification || verification.usedAt) return 'invalid' as const;
        if (verification.expiresAt.getTime() <= Date.now()) return 'expired' as const;
        const owner = await lockUser(tx, verification.userId);
        if (!owner) return 'invalid' as const;
        await markEmailVerificationUsed(tx, hash);
        if (verification.purpose === 'change') {
          // The new address is proven: only now does the account move to it.
          await spendEmailChanges(tx, owner.id);
          return changeEmailTo(tx, owner.id, verification.email);
        }
        // A token for an address the account no longer has proves nothing.
        if (owner.email !== verification.email) return 'invalid' as const;
        return markEmailVerified(tx, owner.id);
      })
      .catch((err) => {
        if (isUniqueViolation(err)) return 'taken' as const;
        throw err;
      });
    if (result === 'taken') {
      return {
        user: null,
        errors: [
          {
            code: 'ALREADY_EXISTS',
            message: 'another account uses this address now',
            field: ['input', 'token'],
          },
        ],
      };
    }
    if (result === 'invalid' || result === 'expired') {
      const message =
        result === 'expired'
          ? 'this verification link has expired; ask for a new one'
          : 'this verification link is not valid or was used already';
      return { user: null, errors: [{ code: 'INVALID_INPUT', message, field: ['input', 'token'] }] };
    }
    return { user: result, errors: [] };
  },
);

/** Same answer whether or not the address has an account, or is verified already. */
export const resendVerification = mutationRule(
  { input: z.object({ email: emailAddress }), invalid: (errors) => ({ accepted: false, errors }) },
  async (ctx: Ctx, { email }): Promise<{ accepted: boolean; errors: UserError[] }> => {
    const user = await userByEmail(ctx.db, email);
    if (user && !user.emailVerifiedAt) {
      await ctx.db.transaction(async (tx) => {
        // The row lock makes the count and the insert one step across replicas.
        const locked = await lockUser(tx, user.id);
        if (!locked || locked.emailVerifiedAt) return;
        const recent = await emailVerificationsSince(tx, user.id, new Date(Date.now() - 60 * 60 * 1000));
        if (recent >= VERIFICATION_EMAILS_PER_HOUR) {
          ctx.log.info({ userId: user.id }, 'verification email limit reached');
          return;
        }
        await issueVerification(ctx, tx, locked, emailVerificationRequested);
      });
    }
    return { accepted: true, errors: [] };
  },
);

const isUniqueViolation = (err: unknown) =>
  (err as { code?: string }).code === '23505' ||
  (err as { cause?: { code?: string } }).cause?.code === '23505';

const EMAIL_CHANGES_PER_HOUR = { limit: 3, windowMs: 60 * 60_000 };

/**
 * Needs the current password. The account keeps its address until the new one is proven: a
 * verification email goes to the new address, and `verifyEmail` with its token makes the move.
 */
export const changeEmail = mutationRule(
  {
    input: z.object({ newEmail: emailAddress, currentPassword: givenPassword }),
    caller: requireUser,
    invalid: (errors) => ({ user: null, pendingEmail: null, errors }),
  },
  async (
    ctx: Ctx,
    { newEmail, currentPassword },
    viewer,
  ): Promise<{ user: UserRow | null; pendingEmail: string | null; errors: UserError[] }> => {
    const [user] = await usersByIds(ctx.db, [viewer.userId]);
    const fail = (code: UserError['code'], message: string, field: string) => ({
      user: null,
      pendingEmail: null,
      errors: [{ code, message, field: ['input', field] }],
    });
    // Under the sign-in guard: a stolen access token must not become a password-guessing oracle.
    if (!user || !(await checkPassword(ctx, user.email, user, currentPassword))) {
      return fail('INVALID_INPUT', 'the current password is wrong', 'currentPassword');
    }
    if (newEmail === user.email) return fail('INVALID_INPUT', 'this is already your address', 'newEmail');
    if (await userByEmail(ctx.db, newEmail))
      return fail('ALREADY_EXISTS', 'an account with this email exists', 'newEmail');
    if (!(await allow(ctx.db, `change-email:user:${user.id}`, EMAIL_CHANGES_PER_HOUR))) {
      throw new DomainError('RATE_LIMITED', 'too many address changes; try again later');
    }
    await ctx.db.transaction(async (tx) => {
      await issueVerification(ctx, tx, user, emailVerificationRequested, {
        email: newEmail,
        purpose: 'change',
      });
    });
    ctx.log.info({ userId: user.id }, 'email change requested');
    return { user, pendingEmail: newEmail, errors: [] };
  },
);
