import { describe, expect, it } from 'vitest';
import { type DeliveryPreferences, KINDS, shouldDeliver } from '../src/domain/delivery-rules.ts';

const consented = new Date('2026-01-01T00:00:00Z');
const prefs = (categories: DeliveryPreferences['categories'], marketingConsentAt: Date | null = null) => ({
  categories,
  marketingConsentAt,
});

describe('shouldDeliver', () => {
  it.each([
    ['defaults: event updates in-app', null, KINDS.eventPublished, 'IN_APP', true],
    ['defaults: marketing is off', null, { category: 'MARKETING', critical: false }, 'EMAIL', false],
    [
      'category off',
      prefs({ EVENT_UPDATES: { all: false, channels: {} } }),
      KINDS.eventPublished,
      'EMAIL',
      false,
    ],
    [
      'channel override off, all on',
      prefs({ EVENT_UPDATES: { all: true, channels: { IN_APP: false } } }),
      KINDS.eventPublished,
      'IN_APP',
      false,
    ],
    [
      'other channel inherits all',
      prefs({ EVENT_UPDATES: { all: true, channels: { IN_APP: false } } }),
      KINDS.eventPublished,
      'EMAIL',
      true,
    ],
    [
      'channel override on, all off',
      prefs({ EVENT_UPDATES: { all: false, channels: { SMS: true } } }),
      KINDS.eventPublished,
      'SMS',
      true,
    ],
    [
      'critical overrides a stored off',
      prefs({ TRANSACTIONAL: { all: false, channels: { EMAIL: false } } }),
      KINDS.receipt,
      'EMAIL',
      true,
    ],
    [
      'critical kind in a non-critical category (a cancellation)',
      prefs({ EVENT_UPDATES: { all: false, channels: {} } }),
      { category: 'EVENT_UPDATES', critical: true },
      'EMAIL',
      true,
    ],
    ['account security always', prefs({}), KINDS.passwordReset, 'EMAIL', true],
    [
      'marketing on without consent',
      prefs({ MARKETING: { all: true, channels: {} } }),
      { category: 'MARKETING', critical: false },
      'EMAIL',
      false,
    ],
    [
      'marketing on with consent',
      prefs({ MARKETING: { all: true, channels: {} } }, consented),
      { category: 'MARKETING', critical: false },
      'EMAIL',
      true,
    ],
  ] as const)('%s', (_name, preferences, kind, channel, expected) => {
    expect(shouldDeliver(preferences, kind, channel)).toBe(expected);
  });
});
