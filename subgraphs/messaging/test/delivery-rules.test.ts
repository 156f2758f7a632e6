import { describe, expect, it } from 'vitest';
import {
  type DeliveryPreferences,
  KINDS,
  quietHoursEnd,
  shouldDeliver,
} from '../src/domain/delivery-rules.ts';

const prefs = (categories: DeliveryPreferences['categories']) => ({ categories });
const MARKETING = { category: 'MARKETING', critical: false } as const;

describe('shouldDeliver', () => {
  it.each([
    ['defaults: event updates in-app', null, KINDS.eventPublished, 'IN_APP', true],
    ['defaults: no marketing without consent', null, MARKETING, 'EMAIL', false],
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
      MARKETING,
      'EMAIL',
      false,
    ],
  ] as const)('%s', (_name, preferences, kind, channel, expected) => {
    expect(shouldDeliver(preferences, kind, channel)).toBe(expected);
  });

  // Consent (identity's, copied) is marketing's opt-in per channel; the switches only narrow it.
  it.each([
    ['email with MARKETING_EMAIL, by default', null, ['MARKETING_EMAIL'], 'EMAIL', true],
    ['web push needs MARKETING_PUSH, not MARKETING_EMAIL', null, ['MARKETING_EMAIL'], 'WEB_PUSH', false],
    ['web push with MARKETING_PUSH', null, ['MARKETING_PUSH'], 'WEB_PUSH', true],
    ['never in-app, whatever is granted', null, ['MARKETING_EMAIL', 'MARKETING_PUSH'], 'IN_APP', false],
    ['never by SMS', null, ['MARKETING_EMAIL', 'MARKETING_PUSH'], 'SMS', false],
    ['ANALYTICS is no marketing consent', null, ['ANALYTICS'], 'EMAIL', false],
    [
      'switched off despite consent',
      prefs({ MARKETING: { all: true, channels: { EMAIL: false } } }),
      ['MARKETING_EMAIL'],
      'EMAIL',
      false,
    ],
  ] as const)('marketing: %s', (_name, preferences, granted, channel, expected) => {
    expect(shouldDeliver(preferences, MARKETING, channel, new Set(granted))).toBe(expected);
  });
});

describe('quietHoursEnd', () => {
  const quiet = (timezone: string | null, start: string | null, end: string | null) => ({
    timezone,
    quietHoursStart: start,
    quietHoursEnd: end,
  });
  const at = (iso: string) => new Date(iso);

  it.each([
    // Sarajevo is UTC+1 in January: 23:30 local is inside 22:00–07:00, which ends 07:00 local next day.
    [
      'spanning midnight, before it',
      quiet('Europe/Sarajevo', '22:00', '07:00'),
      '2027-01-10T22:30:00Z',
      '2027-01-11T06:00:00Z',
    ],
    [
      'spanning midnight, after it',
      quiet('Europe/Sarajevo', '22:00', '07:00'),
      '2027-01-11T02:00:00Z',
      '2027-01-11T06:00:00Z',
    ],
    ['outside', quiet('Europe/Sarajevo', '22:00', '07:00'), '2027-01-11T12:00:00Z', null],
    ['at the end: over', quiet('Europe/Sarajevo', '22:00', '07:00'), '2027-01-11T06:00:00Z', null],
    [
      'at the start: quiet',
      quiet('Europe/Sarajevo', '22:00', '07:00'),
      '2027-01-10T21:00:00Z',
      '2027-01-11T06:00:00Z',
    ],
    [
      'within one day',
      quiet('America/New_York', '13:00', '15:00'),
      '2027-01-11T18:30:00Z',
      '2027-01-11T20:00:00Z',
    ],
    // 2027-03-28 02:00 Sarajevo jumps to 03:00 (UTC+2): 07:00 local that morning is 05:00Z, not 06:00Z.
    [
      'ends after spring forward',
      quiet('Europe/Sarajevo', '22:00', '07:00'),
      '2027-03-27T22:00:00Z',
      '2027-03-28T05:00:00Z',
    ],
    // 2027-10-31 03:00 back to 02:00 (UTC+1): 07:00 local is 06:00Z.
    [
      'ends after fall back',
      quiet('Europe/Sarajevo', '22:00', '07:00'),
      '2027-10-30T21:00:00Z',
      '2027-10-31T06:00:00Z',
    ],
    ['no zone: UTC', quiet(null, '22:00', '07:00'), '2027-01-10T23:00:00Z', '2027-01-11T07:00:00Z'],
    ['none set', quiet('Europe/Sarajevo', null, null), '2027-01-10T23:00:00Z', null],
    ['equal times: no quiet', quiet('Europe/Sarajevo', '22:00', '22:00'), '2027-01-10T21:30:00Z', null],
  ] as const)('%s', (_name, preferences, now, expected) => {
    expect(quietHoursEnd(preferences, at(now))?.toISOString() ?? null).toBe(
      expected === null ? null : at(expected).toISOString(),
    );
  });

  it('has no quiet hours without preferences', () => {
    expect(quietHoursEnd(null, at('2027-01-10T23:00:00Z'))).toBeNull();
  });
});
