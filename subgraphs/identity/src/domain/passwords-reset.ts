import {
  type EventConsumer,
  emailAddress,
  mutationRule,
  requireUser,
  type UserError,
} from '@bilten/platform';
import { z } from 'zod';
import type { Context } from '../context.ts';
import {
  insertPasswordReset,
  lockPasswordReset,
  passwordResetByHash,
  setPassword,
  spendPasswordResets,
  userByEmail,
  usersByIds,
} from '../db/accounts.ts';
import type { PasswordResetRow, UserRow } from '../db/schema.ts';
import { revokeSessions } from '../db/sessions.ts';
import { passwordResetRequested, passwordResetRequestedForAddress } from '../events.ts';
import { type AccountEventCtx, addressAggregate } from './accounts.ts';
import { checkPassword, forgetFailedSignIns } from './password-guard.ts';
import { givenPassword, newPassword } from './passwords.ts';
import { newToken, tokenHash } from './secrets.ts';
import { allow } from './throttles.ts';

const RESET_TTL_MS = 60 * 60_000;
const RESETS_PER_ACCOUNT = { limit: 3, windowMs: 60 * 60_000 };
const RESETS_PER_IP = { limit: 20, windowMs: 60 * 60_000 };

type Ctx = Pick<
  Context,
  'db' | 'outbox' | 'passwords' | 'log' | 'clientIp' | 'userAgent' | 'viewer' | 'personKeys'
>;
type UserPayload = { user: UserRow | null; errors: UserError[] };

/**
 * The same answer, in the same time, for every address: the request writes one event either way,
 * and passwordResetConsumer looks the address up.
 */
export const requestPasswordReset = mutationRule(
  { input: z.object({ email: emailAddress }), invalid: (errors) => ({ accepted: false, errors }) },
  async (ctx: Ctx, { email }): Promise<{ accepted: boolean; errors: UserError[] }> => {
    if (await allow(ctx.db, `reset:ip:${ctx.clientIp}`, RESETS_PER_IP)) {
      await ctx.db.transaction((tx) =>
        ctx.outbox.publish(tx, passwordResetRequestedForAddress, addressAggregate(email), { email }),
      );
    }
    return { accepted: true, errors: [] };
  },
);

/** Identity's own consumer of those requests: a reset link for an account, three an hour at most. */
export function passwordResetConsumer(
  ctx: AccountEventCtx,
): EventConsumer<typeof passwordResetRequestedForAddress.payload> {
  return {
    name: 'password-reset-request',
    event: passwordResetRequestedForAddress,
    async handle({ payload: { email } }, tx) {
      const user = await userByEmail(tx, ctx.personKeys, email);
      if (!user || !(await allow(tx, `reset:user:${user.id}`, RESETS_PER_ACCOUNT))) return;
      const token = newToken();
      const expiresAt = new Date(Date.now() + RESET_TTL_MS);
      await insertPasswordReset(tx, { tokenHash: tokenHash(token), userId: user.id, expiresAt });
      await ctx.outbox.publish(tx, passwordResetRequested, user.id, {
        userId: user.id,
        email: user.email,
        displayName: user.displayName,
        sealedToken: ctx.links.seal(token, user.id),
        expiresAt: expiresAt.toISOString(),
      });
      ctx.log.info({ userId: user.id }, 'password reset requested');
    },
  };
}

/** Why a reset token cannot be used, as the mutation's answer; undefined when it can. */
function refusalOf(reset: PasswordResetRow | undefined) {
  const expired = reset && !reset.usedAt && reset.expiresAt.getTime() <= Date.now();
  if (reset && !reset.usedAt && !expired) return undefined;
  const message = expired
    ? 'this reset link has expired; ask for a new one'
    : 'this reset link is not valid or was used already';
  return { user: null, errors: [{ code: 'INVALID_INPUT' as const, message, field: ['input', 'token'] }] };
}

/** Single use, one hour; the new password signs out every session (a thief's too). */
export const resetPassword = mutationRule(
  {
    input: z.object({ token: z.string().min(1).max(200), newPassword }),
    invalid: (errors) => ({ user: null, errors }),
  },
  async (ctx: Ctx, input): Promise<UserPayload> => {
    const hash = tokenHash(input.token);
    // A junk or spent token is refused before argon2 runs: anyone may call this, and hashing first
    // would let them burn our CPU for free. The transaction checks again under the row lock.
    const unusable = refusalOf(await passwordResetByHash(ctx.db, hash));
    if (unusable) return unusable;
    const passwordHash = await ctx.passwords.hash(input.newPassword);
    const result = await ctx.db.transaction(async (tx) => {
      const reset = await lockPasswordReset(tx, hash);
      const refusal = refusalOf(reset);
      if (refusal) return refusal;
      const { userId } = reset!;
      await spendPasswordResets(tx, userId);
      // The link came by email, so it proves the address as well.
      const user = await setPassword(tx, ctx.personKeys, userId, passwordHash, { verifyEmail: true });
      const revoked = await revokeSessions(tx, { userId: user.id }, 'password reset');
      return { user, revoked: revoked.length };
    });
    if ('errors' in result) return result;
    await forgetFailedSignIns(ctx.db, result.user.email);
    ctx.log.warn(
      {
        security: true,
        event: 'password_reset',
        userId: result.user.id,
        ip: ctx.clientIp,
        sessions: result.revoked,
      },
      'password reset: every session signed out',
    );
    return { user: result.user, errors: [] };
  },
);

export const changePassword = mutationRule(
  {
    input: z.object({ currentPassword: givenPassword, newPassword }),
    caller: requireUser,
    invalid: (errors) => ({ user: null, errors }),
  },
  async (ctx: Ctx, input, viewer): Promise<UserPayload> => {
    const [user] = await usersByIds(ctx.db, ctx.personKeys, [viewer.userId]);
    // Under the sign-in guard: a stolen access token must not become a password-guessing oracle.
    if (!user || !(await checkPassword(ctx, user.email, user, input.currentPassword))) {
      return {
        user: null,
        errors: [
          {
            code: 'INVALID_INPUT',
            message: 'the current password is wrong',
            field: ['input', 'currentPassword'],
          },
        ],
      };
    }
    const passwordHash = await ctx.passwords.hash(input.newPassword);
    const updated = await ctx.db.transaction(async (tx) => {
      const changed = await setPassword(tx, ctx.personKeys, user.id, passwordHash);
      await revokeSessions(tx, { userId: user.id, keep: viewer.sessionId }, 'password changed');
      return changed;
    });
    ctx.log.info({ userId: user.id }, 'password changed; other sessions signed out');
    return { user: updated, errors: [] };
  },
);
