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

/** Every kind messaging sends, one line each: its category and whether it is critical. */
export const KINDS = {
  emailVerification: { category: 'ACCOUNT_SECURITY', critical: true },
  passwordReset: { category: 'ACCOUNT_SECURITY', critical: true },
  invitation: { category: 'ACCOUNT_SECURITY', critical: true },
  addressInUse: { category: 'ACCOUNT_SECURITY', critical: true },
  orderTickets: { category: 'TRANSACTIONAL', critical: true },
  ticketTransfer: { category: 'TRANSACTIONAL', critical: true },
  waitingListOffer: { category: 'TRANSACTIONAL', critical: true },
  receipt: { category: 'TRANSACTIONAL', critical: true },
  adminNotice: { category: 'ANNOUNCEMENTS', critical: false },
  eventPublished: { category: 'EVENT_UPDATES', critical: false },
} as const satisfies Record<string, NotificationKind>;

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
