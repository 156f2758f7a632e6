import {
  columnAad,
  type Database,
  displayText,
  mutationRule,
  requireUser,
  type Transaction,
  timeZone,
  type UserError,
} from '@bilten/platform';
import { z } from 'zod';
import type { Context } from '../context.ts';
import { consentCopiesOf } from '../db/consents.ts';
import { type MessagingKeys, openFor, sealFor } from '../db/person-keys.ts';
import { lockPreferences, preferencesOf, savePreferences } from '../db/preferences.ts';
import { pushSubscriptionsOf } from '../db/push-subscriptions.ts';
import {
  type Category,
  type CategorySetting,
  type Channel,
  type ConsentCopyRow,
  PHONE_COLUMN,
  type PreferencesRow,
  type PushSubscriptionRow,
} from '../db/schema.ts';
import {
  CATEGORIES,
  CHANNELS,
  CRITICAL_CATEGORIES,
  type DeliveryPreferences,
  settingOf,
  shouldDeliver,
} from './delivery-rules.ts';
import { pushSubscriptionView } from './push-subscriptions.ts';

/** The languages notifications are written in; anything else is shown (and rendered) in the first. */
export const LOCALES = ['en', 'bs'] as const;

/** A user's number as stored: sealed under their key, bound to their row. */
const sealPhone = (tx: Transaction, keys: MessagingKeys, userId: string, phone: string) =>
  sealFor(tx, keys, { userId }, phone, columnAad(PHONE_COLUMN, userId));

/** The number SMS go to, or null when the user gave none (or was erased). */
export const phoneOf = async (
  db: Database | Transaction,
  keys: MessagingKeys,
  row: Pick<PreferencesRow, 'userId' | 'phoneSealed'> | null,
) =>
  row?.phoneSealed
    ? openFor(db, keys, { userId: row.userId }, row.phoneSealed, columnAad(PHONE_COLUMN, row.userId))
    : null;

/** Enough of a number to recognise it (country code, last digits), not enough to call it. */
export const maskPhone = (phone: string) =>
  phone.length <= 7
    ? '•'.repeat(phone.length)
    : `${phone.slice(0, 4)}${'•'.repeat(phone.length - 7)}${phone.slice(-3)}`;

/**
 * What `myNotificationPreferences` answers: every category, with its explicit overrides and effect
 * (marketing's channels as the user's consents, copied from identity, allow them).
 */
export function preferencesView(
  row: PreferencesRow | null,
  {
    phone,
    subscriptions,
    consents,
  }: { phone: string | null; subscriptions: PushSubscriptionRow[]; consents: ConsentCopyRow[] },
) {
  const preferences: DeliveryPreferences | null = row;
  const granted = new Set(consents.filter((consent) => consent.granted).map((consent) => consent.purpose));
  const marketingEmail = consents.find((consent) => consent.purpose === 'MARKETING_EMAIL' && consent.granted);
  return {
    categories: CATEGORIES.map((category) => {
      const setting = settingOf(preferences, category);
      const critical = CRITICAL_CATEGORIES.has(category);
      return {
        category,
        critical,
        all: critical || setting.all,
        channels: CHANNELS.filter((channel) => setting.channels[channel] !== undefined).map((channel) => ({
          channel,
          enabled: setting.channels[channel]!,
        })),
        enabledChannels: CHANNELS.filter((channel) =>
          shouldDeliver(preferences, { category, critical }, channel, granted),
        ),
      };
    }),
    timezone: row?.timezone ?? null,
    quietHours:
      row?.quietHoursStart && row.quietHoursEnd
        ? { start: row.quietHoursStart, end: row.quietHoursEnd }
        : null,
    // Deprecated: the MARKETING_EMAIL consent (identity's text version stands in for the source).
    marketingConsent: marketingEmail
      ? {
          givenAt: marketingEmail.changedAt,
          source: marketingEmail.legacySource ?? marketingEmail.textVersion,
        }
      : null,
    locale: row?.locale ?? LOCALES[0],
    phoneNumber: phone ? maskPhone(phone) : null,
    pushSubscriptions: subscriptions.map(pushSubscriptionView),
  };
}

export type PreferencesView = ReturnType<typeof preferencesView>;

export async function myNotificationPreferences(
  ctx: Pick<Context, 'db' | 'viewer' | 'keys'>,
): Promise<PreferencesView> {
  const user = requireUser(ctx.viewer);
  const [row, subscriptions, consents] = await Promise.all([
    preferencesOf(ctx.db, user.userId),
    pushSubscriptionsOf(ctx.db, user.userId),
    consentCopiesOf(ctx.db, user.userId),
  ]);
  return preferencesView(row, { phone: await phoneOf(ctx.db, ctx.keys, row), subscriptions, consents });
}

const localTime = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'must be a time as HH:MM (00:00 to 23:59)');
const category = z.enum(CATEGORIES as [Category, ...Category[]]);
const channel = z.enum(CHANNELS as [Channel, ...Channel[]]);

const updatePreferencesInput = z.object({
  categories: z
    .array(
      z.object({
        category,
        all: z.boolean().nullish(),
        channels: z
          .array(z.object({ channel, enabled: z.boolean().nullish() }))
          .max(CHANNELS.length)
          .refine((list) => new Set(list.map((c) => c.channel)).size === list.length, 'names a channel twice')
          .nullish(),
      }),
    )
    .max(CATEGORIES.length)
    .refine((list) => new Set(list.map((c) => c.category)).size === list.length, 'names a category twice')
    .nullish(),
  timezone: timeZone.nullish(),
  quietHours: z
    .object({ start: localTime, end: localTime })
    .refine((hours) => hours.start !== hours.end, { message: 'must differ from start', path: ['end'] })
    .nullish(),
  marketingConsent: z.object({ given: z.boolean(), source: displayText(100) }).nullish(),
  locale: z.enum(LOCALES, { error: `must be one of ${LOCALES.join(', ')}` }).nullish(),
  phoneNumber: z
    .string()
    .regex(/^\+[1-9]\d{7,14}$/, 'must be an E.164 number: +, the country code and the number, digits only')
    .nullish(),
});

interface UpdatePreferencesResult {
  preferences: PreferencesView | null;
  errors: UserError[];
}

const refused = (field: string[], message: string): UpdatePreferencesResult => ({
  preferences: null,
  errors: [{ code: 'INVALID_INPUT', message, field }],
});

/**
 * Changes what the caller named, under a lock on their row so two updates at once cannot lose
 * each other's categories. Critical categories cannot be turned off. Marketing consent is given
 * and withdrawn in identity now (grantConsent, withdrawConsent): `marketingConsent` is refused.
 */
export const updateNotificationPreferences = mutationRule(
  {
    input: updatePreferencesInput,
    caller: requireUser,
    invalid: (errors): UpdatePreferencesResult => ({ preferences: null, errors }),
  },
  async (ctx: Pick<Context, 'db' | 'viewer' | 'keys'>, input, user): Promise<UpdatePreferencesResult> =>
    ctx.db.transaction(async (tx) => {
      if (input.marketingConsent)
        return refused(
          ['input', 'marketingConsent'],
          'marketing consent is given in your account now: use grantConsent or withdrawConsent with purpose MARKETING_EMAIL',
        );
      const row = await lockPreferences(tx, user.userId);
      const next = { ...row, categories: { ...row.categories } };
      for (const [index, change] of (input.categories ?? []).entries()) {
        const field = ['input', 'categories', String(index)];
        const current = settingOf(next, change.category);
        const setting: CategorySetting = {
          all: change.all ?? current.all,
          channels: { ...current.channels },
        };
        for (const { channel, enabled } of change.channels ?? []) {
          if (enabled == null) delete setting.channels[channel];
          else setting.channels[channel] = enabled;
        }
        const turnsOff = !setting.all || Object.values(setting.channels).includes(false);
        if (CRITICAL_CATEGORIES.has(change.category) && turnsOff)
          return refused(
            field,
            `${change.category} notifications are critical (security, orders, receipts) and cannot be turned off`,
          );
        next.categories[change.category] = setting;
      }
      if (input.timezone !== undefined) next.timezone = input.timezone;
      if (input.quietHours !== undefined) {
        next.quietHoursStart = input.quietHours?.start ?? null;
        next.quietHoursEnd = input.quietHours?.end ?? null;
      }
      if (input.locale !== undefined) next.locale = input.locale;
      if (input.phoneNumber !== undefined)
        next.phoneSealed = input.phoneNumber
          ? await sealPhone(tx, ctx.keys, user.userId, input.phoneNumber)
          : null;
      const { updatedAt: _updatedAt, ...saved } = next;
      const stored = await savePreferences(tx, saved);
      const subscriptions = await pushSubscriptionsOf(tx, user.userId);
      const consents = await consentCopiesOf(tx, user.userId);
      return {
        preferences: preferencesView(stored, {
          phone: await phoneOf(tx, ctx.keys, stored),
          subscriptions,
          consents,
        }),
        errors: [],
      };
    }),
);

/**
 * One-click opt-out from a mail's unsubscribe link (adapters/unsubscribe-links.ts): that one
 * category and channel off, nothing else. Critical categories never get such links.
 */
export async function optOut(
  db: Database,
  { userId, category, channel }: { userId: string; category: Category; channel: Channel },
): Promise<void> {
  if (CRITICAL_CATEGORIES.has(category)) return;
  await db.transaction(async (tx) => {
    const { updatedAt: _updatedAt, ...row } = await lockPreferences(tx, userId);
    const current = settingOf(row, category);
    const setting = { all: current.all, channels: { ...current.channels, [channel]: false } };
    await savePreferences(tx, { ...row, categories: { ...row.categories, [category]: setting } });
  });
}
