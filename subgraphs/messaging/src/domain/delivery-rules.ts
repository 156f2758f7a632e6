import type { Category, CategorySetting, Channel } from '../db/schema.ts';

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
 * SMS gives up). Each has one workflow (domain/workflows.ts) and one template (domain/templates.ts).
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
} as const satisfies Record<string, NotificationKind>;

export type KindName = keyof typeof KINDS;

/** `orderConfirmed` ⇄ `ORDER_CONFIRMED`, the GraphQL enum NotificationKind. */
export const kindToEnum = (kind: KindName) => kind.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase();
export const kindFromEnum = (value: string) =>
  value.toLowerCase().replace(/_([a-z])/g, (_, c: string) => c.toUpperCase()) as KindName;

/** What a user's preferences are for delivery: only categories they set, and marketing consent. */
export interface DeliveryPreferences {
  categories: Partial<Record<Category, CategorySetting>>;
  marketingConsentAt: Date | null;
}

/** Before a user changes anything: everything on except MARKETING, which needs consent anyway. */
export const DEFAULT_SETTING: Record<Category, CategorySetting> = {
  TRANSACTIONAL: { all: true, channels: {} },
  EVENT_UPDATES: { all: true, channels: {} },
  ANNOUNCEMENTS: { all: true, channels: {} },
  MARKETING: { all: false, channels: {} },
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
 * never changed any (the defaults). Marketing goes only to users whose consent is recorded, whatever
 * the stored switches say (consent can be withdrawn after they were set).
 */
export function shouldDeliver(
  preferences: DeliveryPreferences | null,
  kind: NotificationKind,
  channel: Channel,
): boolean {
  if (kind.critical || CRITICAL_CATEGORIES.has(kind.category)) return true;
  if (kind.category === 'MARKETING' && !preferences?.marketingConsentAt) return false;
  return channelEnabled(settingOf(preferences, kind.category), channel);
}
