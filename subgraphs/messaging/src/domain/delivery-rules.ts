import type { Category, CategorySetting, Channel } from '../db/schema.ts';
import type { NotificationKind as NotificationKindEnum } from '../generated/graphql.ts';

/**
 * What every sender asks before it sends: one kind of notification (its category, and whether it
 * is critical), the recipient's settings, one channel. Kept free of I/O so the table is testable.
 */
export interface NotificationKind {
  category: Category;
  /** Critical kinds go out whatever the preferences say (receipts, cancellations, security). */
  critical: boolean;
}

export const CHANNELS: readonly Channel[] = ['IN_APP', 'EMAIL', 'WEB_PUSH', 'SMS'];
export const CATEGORIES: readonly Category[] = [
  'TRANSACTIONAL',
  'EVENT_UPDATES',
  'ANNOUNCEMENTS',
  'MARKETING',
  'ACCOUNT_SECURITY',
];

/** Categories whose every notification is critical: no setting can turn them off. */
export const CRITICAL_CATEGORIES: ReadonlySet<Category> = new Set(['TRANSACTIONAL', 'ACCOUNT_SECURITY']);

/**
 * Every kind messaging sends, one line each: its category and whether it is critical (delivered
 * whatever the preferences say, never held by quiet hours, and falling back to email when push or
 * SMS gives up). Each has one workflow (domain/workflows.ts) and one template (adapters/templates/).
 */
export const KINDS = {
  emailVerification: { category: 'ACCOUNT_SECURITY', critical: true },
  passwordReset: { category: 'ACCOUNT_SECURITY', critical: true },
  invitation: { category: 'ACCOUNT_SECURITY', critical: true },
  addressInUse: { category: 'ACCOUNT_SECURITY', critical: true },
  orderConfirmed: { category: 'TRANSACTIONAL', critical: true },
  paymentFailed: { category: 'TRANSACTIONAL', critical: true },
  refundIssued: { category: 'TRANSACTIONAL', critical: true },
  receipt: { category: 'TRANSACTIONAL', critical: true },
  ticketTransfer: { category: 'TRANSACTIONAL', critical: true },
  waitingListOffer: { category: 'TRANSACTIONAL', critical: true },
  eventPublished: { category: 'EVENT_UPDATES', critical: false },
  // A new time or place, or no event at all: ticket holders must hear, whatever they turned off.
  eventRescheduled: { category: 'EVENT_UPDATES', critical: true },
  eventCancelled: { category: 'EVENT_UPDATES', critical: true },
  eventReminder: { category: 'EVENT_UPDATES', critical: false },
  announcement: { category: 'ANNOUNCEMENTS', critical: false },
  adminNotice: { category: 'ANNOUNCEMENTS', critical: false },
  // A personal-data breach (GDPR article 34): the person must hear, whatever they turned off.
  breachNotice: { category: 'ACCOUNT_SECURITY', critical: true },
  // A detection rule fired: the platform's admins must hear, whatever they turned off.
  securityAlert: { category: 'ACCOUNT_SECURITY', critical: true },
  // An organization's usage jumped (issue 19): like security alerts, for the platform's admins only.
  usageJump: { category: 'ACCOUNT_SECURITY', critical: true },
  // An Alertmanager alert fired or resolved (issue 19): for the platform's admins only, like the above.
  platformAlert: { category: 'ACCOUNT_SECURITY', critical: true },
} as const satisfies Record<string, NotificationKind>;

export type KindName = keyof typeof KINDS;

/** `orderConfirmed` ⇄ `ORDER_CONFIRMED`, the GraphQL enum NotificationKind. */
export const kindToEnum = (kind: KindName) =>
  kind.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase() as NotificationKindEnum;
export const kindFromEnum = (value: string) =>
  value.toLowerCase().replace(/_([a-z])/g, (_, c: string) => c.toUpperCase()) as KindName;

/** What a user's preferences are for delivery: only categories they set. */
export interface DeliveryPreferences {
  categories: Partial<Record<Category, CategorySetting>>;
}

/**
 * The consent (identity's, copied by domain/consents.ts) marketing needs on each channel. IN_APP
 * and SMS have no purpose of their own, so marketing never goes there.
 */
export const MARKETING_CONSENT: Partial<Record<Channel, string>> = {
  EMAIL: 'MARKETING_EMAIL',
  WEB_PUSH: 'MARKETING_PUSH',
};

const NO_CONSENTS: ReadonlySet<string> = new Set();

/**
 * Before a user changes anything: everything on. MARKETING too, because consent is its opt-in:
 * nothing of it goes out until the user grants a purpose, and the switches can only narrow it.
 */
export const DEFAULT_SETTING: Record<Category, CategorySetting> = {
  TRANSACTIONAL: { all: true, channels: {} },
  EVENT_UPDATES: { all: true, channels: {} },
  ANNOUNCEMENTS: { all: true, channels: {} },
  MARKETING: { all: true, channels: {} },
  ACCOUNT_SECURITY: { all: true, channels: {} },
};

export const settingOf = (preferences: DeliveryPreferences | null, category: Category): CategorySetting =>
  preferences?.categories[category] ?? DEFAULT_SETTING[category];

/** Novu's rule: the channel's own entry when it has one, otherwise the category's `all`. */
export function channelEnabled(setting: CategorySetting, channel: Channel): boolean {
  return setting.channels[channel] ?? setting.all;
}

/**
 * Whether a notification of `kind` goes to this user on `channel`. `null` preferences: the user
 * never changed any (the defaults). Marketing goes only where the user granted the channel's
 * purpose (`consents`: the purposes granted now), whatever the stored switches say.
 */
export function shouldDeliver(
  preferences: DeliveryPreferences | null,
  kind: NotificationKind,
  channel: Channel,
  consents: ReadonlySet<string> = NO_CONSENTS,
): boolean {
  if (kind.critical || CRITICAL_CATEGORIES.has(kind.category)) return true;
  if (kind.category === 'MARKETING') {
    const purpose = MARKETING_CONSENT[channel];
    if (!purpose || !consents.has(purpose)) return false;
  }
  return channelEnabled(settingOf(preferences, kind.category), channel);
}

/** A user's quiet hours as stored: an IANA zone and `HH:MM` local start and end (either may be null). */
export interface QuietHours {
  timezone: string | null;
  quietHoursStart: string | null;
  quietHoursEnd: string | null;
}

const minutesOf = (hhmm: string) => {
  const [hours, minutes] = hhmm.split(':').map(Number);
  return hours! * 60 + minutes!;
};

/** The wall clock of `zone` at `instant`, as a UTC timestamp with the same fields. */
function wallClockOf(instant: number, zone: string): number {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    })
      .formatToParts(instant)
      .map((part) => [part.type, Number(part.value)]),
  );
  return Date.UTC(parts.year!, parts.month! - 1, parts.day!, parts.hour!, parts.minute!, parts.second!);
}

/**
 * The instant the wall clock of `zone` shows `wall` (a UTC timestamp of those fields). The offset is
 * read twice because it can change between the guess and the answer (DST); a time a spring-forward
 * skips comes out an offset-change later, which is still after the quiet.
 */
function instantOf(wall: number, zone: string): number {
  const first = wall - (wallClockOf(wall, zone) - wall);
  return wall - (wallClockOf(first, zone) - first);
}

/**
 * When the quiet hours `now` falls in end, or null when it falls in none (or none are set). The
 * quiet spans midnight when the start is after the end (22:00–07:00); equal times mean no quiet.
 * Non-critical WEB_PUSH and SMS created inside are held until then (`notBefore`).
 */
export function quietHoursEnd(preferences: QuietHours | null, now: Date): Date | null {
  if (!preferences?.quietHoursStart || !preferences.quietHoursEnd) return null;
  const zone = preferences.timezone ?? 'UTC';
  const start = minutesOf(preferences.quietHoursStart);
  const end = minutesOf(preferences.quietHoursEnd);
  if (start === end) return null;
  const wall = wallClockOf(now.getTime(), zone);
  const midnight = wall - (wall % 86_400_000);
  const minute = Math.floor((wall - midnight) / 60_000);
  const inQuiet = start < end ? minute >= start && minute < end : minute >= start || minute < end;
  if (!inQuiet) return null;
  // The end is today's when it is still ahead on the clock, otherwise tomorrow's (after midnight).
  const endDay = minute < end ? midnight : midnight + 86_400_000;
  return new Date(instantOf(endDay + end * 60_000, zone));
}
