import {
  DomainError,
  displayText,
  type EventConsumer,
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
  insertUserWithVerification,
  lockEmailVerification,
  lockUser,
  lockUserByEmail,
  markEmailVerificationUsed,
  markEmailVerified,
  spendEmailChanges,
  userByEmail,
  usersByIds,
} from '../db/accounts.ts';
import type { UserRow } from '../db/schema.ts';
import { openVerificationEmail } from '../db/users.ts';
import {
  addressClaimAttempted,
  emailChangeRequested,
  emailVerificationRequested,
  emailVerificationRequestedForAddress,
  registrationForTakenAddress,
  userEmailChanged,
  userRegistered,
} from '../events.ts';
import { recordAccess } from './access-log.ts';
import { checkPassword } from './password-guard.ts';
import { givenPassword, newPassword } from './passwords.ts';
import { newToken, tokenHash } from './secrets.ts';
import { allow } from './throttles.ts';

const VERIFICATION_TTL_MS = 24 * 60 * 60 * 1000;
/** Verification emails per account and hour: the first one and three resends. */
const VERIFICATION_EMAILS_PER_HOUR = 4;
/** Resend requests per client address and hour: each one writes an event, whatever the address. */
const RESENDS_PER_IP = { limit: 20, windowMs: 60 * 60_000 };
/** Mails per account and hour telling its owner that someone tried to use their address. */
const ADDRESS_CLAIM_NOTICES_PER_HOUR = { limit: 3, windowMs: 60 * 60_000 };

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
export async function userById(
  ctx: Pick<Context, 'viewer' | 'loaders' | 'db' | 'requestId'>,
  args: { id: string },
) {
  const user = userSeenBy(ctx.viewer, await ctx.loaders.user.load(args.id));
  // A platform admin reading someone's account is audited like any access (issue 18).
  if (user?.email && ctx.viewer.kind === 'user' && ctx.viewer.userId !== user.id) {
    await recordAccess(ctx, {
      subjectUserId: user.id,
      purpose: 'admin-review',
      fields: ['email', 'displayName'],
      resource: `user:${user.id}`,
    });
  }
  return user;
}

type Ctx = Pick<
  Context,
  | 'db'
  | 'outbox'
  | 'passwords'
  | 'log'
  | 'clientIp'
  | 'userAgent'
  | 'limits'
  | 'viewer'
  | 'links'
  | 'personKeys'
>;
type UserPayload = { user: UserRow | null; errors: UserError[] };
type Accepted = { accepted: boolean; errors: UserError[] };
/** What identity's consumers of its own account requests need. */
export type AccountEventCtx = Pick<Context, 'outbox' | 'log' | 'links' | 'personKeys'>;

/** Where an event about an address (not an account) is kept: never the address itself. */
export const addressAggregate = (email: string) => tokenHash(email);

/** A fresh single-use token proving an address; only its hash is stored. */
function newVerification() {
  const token = newToken();
  return { token, tokenHash: tokenHash(token), expiresAt: new Date(Date.now() + VERIFICATION_TTL_MS) };
}

/** The event that carries a verification token, sealed for `user`, to the mailer. */
async function publishVerification(
  ctx: Pick<Ctx, 'outbox' | 'links'>,
  tx: Transaction,
  user: Pick<UserRow, 'id' | 'displayName'>,
  event: typeof userRegistered,
  email: string,
  { token, expiresAt }: ReturnType<typeof newVerification>,
) {
  await ctx.outbox.publish(tx, event, user.id, {
    userId: user.id,
    email,
    displayName: user.displayName,
    sealedToken: ctx.links.seal(token, user.id),
    expiresAt: expiresAt.toISOString(),
  });
}

/** A verification of `email` (the account's own, or the new one of a change), stored and mailed. */
async function issueVerification(
  ctx: Pick<Ctx, 'outbox' | 'links' | 'personKeys'>,
  tx: Transaction,
  user: UserRow,
  event: typeof userRegistered,
  target: { email: string; purpose: 'verify' | 'change' } = { email: user.email, purpose: 'verify' },
) {
  const verification = newVerification();
  await insertEmailVerification(tx, ctx.personKeys, {
    tokenHash: verification.tokenHash,
    userId: user.id,
    ...target,
    expiresAt: verification.expiresAt,
  });
  await publishVerification(ctx, tx, user, event, target.email, verification);
}

/**
 * The same answer, in the same time, whether or not the address has an account: both hash the
 * password and send the same two statements; a taken address's owner is told by mail instead
 * (accountRequestConsumers), and nothing about the account changes.
 */
export const register = mutationRule(
  {
    input: z.object({ email: emailAddress, password: newPassword, displayName: displayText(80) }),
    invalid: (errors) => ({ accepted: false, errors }),
  },
  async (ctx: Ctx, { email, password, displayName }): Promise<Accepted> => {
    const perIp = { limit: ctx.limits.registrationsPerIpPerHour, windowMs: 60 * 60_000 };
    if (!(await allow(ctx.db, `register:ip:${ctx.clientIp}`, perIp))) {
      ctx.log.warn(
        { security: true, event: 'registration_rate_limited', ip: ctx.clientIp },
        'sign-ups limited',
      );
      throw new DomainError('RATE_LIMITED', 'too many sign-ups from this address; try again later');
    }
    const passwordHash = await ctx.passwords.hash(password);
    const user = { id: uuidv7(), email, displayName };
    const verification = newVerification();
    const created = await ctx.db.transaction(async (tx) => {
      // The unique index decides between concurrent sign-ups of one address.
      const inserted = await insertUserWithVerification(
        tx,
        ctx.personKeys,
        { ...user, passwordHash },
        verification,
      );
      if (inserted) await publishVerification(ctx, tx, user, userRegistered, email, verification);
      else await ctx.outbox.publish(tx, registrationForTakenAddress, addressAggregate(email), { email });
      return inserted;
    });
    if (created) ctx.log.info({ userId: user.id }, 'account registered');
    return { accepted: true, errors: [] };
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
        const owner = await lockUser(tx, ctx.personKeys, verification.userId);
        if (!owner) return 'invalid' as const;
        await markEmailVerificationUsed(tx, hash);
        const proven = await openVerificationEmail(tx, ctx.personKeys, verification);
        if (verification.purpose === 'change') {
          // The new address is proven: only now does the account move to it.
          await spendEmailChanges(tx, owner.id);
          const moved = await changeEmailTo(tx, ctx.personKeys, owner.id, proven);
          await ctx.outbox.publish(tx, userEmailChanged, owner.id, { userId: owner.id, email: moved.email });
          return moved;
        }
        // A token for an address the account no longer has proves nothing.
        if (owner.email !== proven) return 'invalid' as const;
        return markEmailVerified(tx, ctx.personKeys, owner.id);
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

/**
 * The same answer, in the same time, whether the address has an account, a verified one or none:
 * the request writes one event either way, and accountRequestConsumers looks the address up.
 */
export const resendVerification = mutationRule(
  { input: z.object({ email: emailAddress }), invalid: (errors) => ({ accepted: false, errors }) },
  async (ctx: Ctx, { email }): Promise<Accepted> => {
    if (await allow(ctx.db, `resend:ip:${ctx.clientIp}`, RESENDS_PER_IP)) {
      await ctx.db.transaction((tx) =>
        ctx.outbox.publish(tx, emailVerificationRequestedForAddress, addressAggregate(email), { email }),
      );
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
 * The answer is the same when another account has that address (its owner is told instead), so
 * the request writes one event and accountRequestConsumers decides.
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
    const [user] = await usersByIds(ctx.db, ctx.personKeys, [viewer.userId]);
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
    if (!(await allow(ctx.db, `change-email:user:${user.id}`, EMAIL_CHANGES_PER_HOUR))) {
      throw new DomainError('RATE_LIMITED', 'too many address changes; try again later');
    }
    await ctx.db.transaction((tx) =>
      ctx.outbox.publish(tx, emailChangeRequested, user.id, { userId: user.id, newEmail }),
    );
    ctx.log.info({ userId: user.id }, 'email change requested');
    return { user, pendingEmail: newEmail, errors: [] };
  },
);

/** Tells `owner` that someone tried to use their address, a few times an hour at most. */
async function noticeToOwner(
  ctx: AccountEventCtx,
  tx: Transaction,
  owner: UserRow,
  attempt: 'sign_up' | 'email_change',
) {
  if (!(await allow(tx, `address-claim:user:${owner.id}`, ADDRESS_CLAIM_NOTICES_PER_HOUR))) {
    ctx.log.info({ userId: owner.id, attempt }, 'address claim notice limit reached');
    return;
  }
  await ctx.outbox.publish(tx, addressClaimAttempted, owner.id, {
    userId: owner.id,
    email: owner.email,
    displayName: owner.displayName,
    attempt,
  });
}

/**
 * Identity's own consumers of the requests above: the lookups, per-account limits and mails that
 * would otherwise have shown in the answers or their time.
 */
export function accountRequestConsumers(ctx: AccountEventCtx): EventConsumer[] {
  const resend: EventConsumer<typeof emailVerificationRequestedForAddress.payload> = {
    name: 'verification-resend',
    event: emailVerificationRequestedForAddress,
    async handle({ payload: { email } }, tx) {
      // The row lock makes the count and the insert one step across replicas.
      const user = await lockUserByEmail(tx, ctx.personKeys, email);
      if (!user || user.emailVerifiedAt) return;
      const recent = await emailVerificationsSince(tx, user.id, new Date(Date.now() - 60 * 60_000));
      if (recent >= VERIFICATION_EMAILS_PER_HOUR) {
        ctx.log.info({ userId: user.id }, 'verification email limit reached');
        return;
      }
      await issueVerification(ctx, tx, user, emailVerificationRequested);
    },
  };
  const takenAddress: EventConsumer<typeof registrationForTakenAddress.payload> = {
    name: 'registration-address-taken',
    event: registrationForTakenAddress,
    async handle({ payload: { email } }, tx) {
      const owner = await userByEmail(tx, ctx.personKeys, email);
      if (owner) await noticeToOwner(ctx, tx, owner, 'sign_up');
    },
  };
  const emailChange: EventConsumer<typeof emailChangeRequested.payload> = {
    name: 'email-change',
    event: emailChangeRequested,
    async handle({ payload: { userId, newEmail } }, tx) {
      const [user] = await usersByIds(tx, ctx.personKeys, [userId]);
      if (!user) return;
      const owner = await userByEmail(tx, ctx.personKeys, newEmail);
      if (!owner) {
        await issueVerification(ctx, tx, user, emailVerificationRequested, {
          email: newEmail,
          purpose: 'change',
        });
      } else if (owner.id !== user.id) {
        await noticeToOwner(ctx, tx, owner, 'email_change');
      }
    },
  };
  return [resend, takenAddress, emailChange] as EventConsumer[];
}
