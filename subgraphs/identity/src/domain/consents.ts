import {
  decodeCursor,
  mutationRule,
  pageSize,
  requireUser,
  type Transaction,
  toConnection,
  type UserError,
  uuidInput,
} from '@bilten/platform';
import { v7 as uuidv7 } from 'uuid';
import { z } from 'zod';
import type { Context } from '../context.ts';
import {
  type ConsentPurpose,
  consentHistoryPage,
  consentOf,
  consentsOf,
  lockConsentsOf,
  organizationExists,
  saveConsent,
} from '../db/consents.ts';
import { CONSENT_PURPOSES, type ConsentRow } from '../db/schema.ts';
import { consentChanged } from '../events.ts';

// Consent per purpose (issue 18, GDPR art. 7): identity holds the record and its history; every
// change is published (consentChanged) so messaging and orders check their copies before each use.

type Ctx = Pick<Context, 'db' | 'outbox' | 'viewer' | 'clientIp' | 'log' | 'personKeys'>;

/** The one purpose given per organization: sharing the buyer's contact details with its organizer. */
const SCOPED_PURPOSE: ConsentPurpose = 'ORGANIZER_SHARING';

/** The text the user was shown, as `<text>/<YYYY-MM>`, e.g. `marketing-email/2026-11`. */
const textVersion = z
  .string()
  .regex(
    /^[a-z][a-z0-9-]{0,40}\/[0-9]{4}-(0[1-9]|1[0-2])$/,
    'must name the consent text and its month, e.g. marketing-email/2026-11',
  );

/** Where the answer was given, e.g. `account-settings`, `checkout`, `mobile-app`. */
const source = z
  .string()
  .regex(
    /^[a-z][a-z0-9-]{0,31}$/,
    'must be 1–32 lower-case letters, digits or dashes, e.g. account-settings',
  );

const consentKey = {
  purpose: z.enum(CONSENT_PURPOSES),
  organizationId: uuidInput.nullish(),
  source,
};

type ConsentAnswer = { consent: ConsentRow | null; errors: UserError[] };
const invalid = (errors: UserError[]): ConsentAnswer => ({ consent: null, errors });
const refused = (field: string, message: string, code: UserError['code'] = 'INVALID_INPUT'): ConsentAnswer =>
  invalid([{ code, message, field: ['input', field] }]);

/**
 * The stored key of a purpose: ORGANIZER_SHARING needs an organization that exists (its id is the
 * scope); every other purpose is for Bilten itself and takes none.
 */
async function scopeOf(
  ctx: Pick<Context, 'db'>,
  purpose: ConsentPurpose,
  organizationId: string | null | undefined,
): Promise<{ scope: string } | ConsentAnswer> {
  if (purpose !== SCOPED_PURPOSE) {
    return organizationId
      ? refused('organizationId', `${purpose} is not given per organization: leave organizationId out`)
      : { scope: '' };
  }
  if (!organizationId) return refused('organizationId', `${SCOPED_PURPOSE} is given per organization`);
  if (!(await organizationExists(ctx.db, organizationId)))
    return refused('organizationId', 'no such organization', 'NOT_FOUND');
  return { scope: organizationId };
}

/**
 * Records the answer under the user's lock, appends it to the history and publishes it, all in one
 * transaction. An answer that changes nothing (granting again under the same text, withdrawing
 * what is not granted) records nothing and publishes nothing: the history holds changes only.
 */
async function change(
  ctx: Ctx,
  tx: Transaction,
  next: Omit<ConsentRow, 'changedAt' | 'ipAddress' | 'textVersion'> & { textVersion: string | null },
): Promise<ConsentRow | null> {
  await lockConsentsOf(tx, next.userId);
  const current = await consentOf(tx, ctx.personKeys, next);
  if (!current && !next.granted) return null;
  // A withdrawal is recorded under the text of the consent it withdraws.
  const text = next.textVersion ?? current!.textVersion;
  if (current && current.granted === next.granted && (!next.granted || current.textVersion === text))
    return current;
  const row: ConsentRow = {
    ...next,
    textVersion: text,
    ipAddress: ctx.clientIp || null,
    changedAt: new Date(),
  };
  await saveConsent(tx, ctx.personKeys, row, uuidv7());
  await ctx.outbox.publish(tx, consentChanged, row.userId, {
    userId: row.userId,
    purpose: row.purpose,
    organizationId: row.scope || null,
    granted: row.granted,
    textVersion: row.textVersion,
    changedAt: row.changedAt.toISOString(),
  });
  ctx.log.info(
    { userId: row.userId, purpose: row.purpose, scope: row.scope, granted: row.granted },
    'consent changed',
  );
  return row;
}

/** The signed-in user agrees to `purpose` under the text version they were shown. */
export const grantConsent = mutationRule(
  {
    input: z.object({ ...consentKey, textVersion }),
    caller: requireUser,
    invalid,
  },
  async (ctx: Ctx, input, user): Promise<ConsentAnswer> => {
    const scoped = await scopeOf(ctx, input.purpose, input.organizationId);
    if (!('scope' in scoped)) return scoped;
    const consent = await ctx.db.transaction((tx) =>
      change(ctx, tx, {
        userId: user.userId,
        purpose: input.purpose,
        scope: scoped.scope,
        granted: true,
        textVersion: input.textVersion,
        source: input.source,
      }),
    );
    return { consent, errors: [] };
  },
);

/**
 * Withdrawing takes no more than granting did. The record keeps the text version of the consent
 * withdrawn; withdrawing what was never granted answers null and records nothing.
 */
export const withdrawConsent = mutationRule(
  { input: z.object(consentKey), caller: requireUser, invalid },
  async (ctx: Ctx, input, user): Promise<ConsentAnswer> => {
    const scoped = await scopeOf(ctx, input.purpose, input.organizationId);
    if (!('scope' in scoped)) return scoped;
    const consent = await ctx.db.transaction((tx) =>
      change(ctx, tx, {
        userId: user.userId,
        purpose: input.purpose,
        scope: scoped.scope,
        granted: false,
        textVersion: null,
        source: input.source,
      }),
    );
    return { consent, errors: [] };
  },
);

/** `myConsents`: the signed-in user's current answer for every purpose they answered. */
export function myConsents(ctx: Pick<Context, 'db' | 'viewer' | 'personKeys'>): Promise<ConsentRow[]> {
  const user = requireUser(ctx.viewer);
  return consentsOf(ctx.db, ctx.personKeys, user.userId);
}

/** `myConsentHistory`: every change of the signed-in user's consents, newest first. */
export async function myConsentHistory(
  ctx: Pick<Context, 'db' | 'viewer' | 'personKeys'>,
  args: { first?: number | null; after?: string | null },
) {
  const user = requireUser(ctx.viewer);
  const size = pageSize(args.first);
  const before = args.after ? decodeCursor(args.after) : undefined;
  return toConnection(await consentHistoryPage(ctx.db, ctx.personKeys, user.userId, before, size + 1), size);
}

/** A stored scope as the API shows it: the organization's id, or null for Bilten's own purposes. */
export const organizationIdOf = (row: { scope: string }) => row.scope || null;
