import { describe, expect, it } from 'vitest';
import { refundByPolicy } from '../src/domain/refund-policy.ts';

const start = new Date('2027-06-01T18:00:00.000Z');
const at = (iso: string) => new Date(iso);
const decide = (
  kind: 'FULL_UNTIL' | 'PARTIAL' | 'NONE',
  daysBeforeStart: number | null,
  percent: number | null,
  now: Date,
  paid = 4999,
) => refundByPolicy({ kind, daysBeforeStart, percent }, { paid, eventStartsAt: start, now });

describe('refundByPolicy', () => {
  it('FULL_UNTIL grants everything up to the instant n days before the start, then refuses', () => {
    expect(decide('FULL_UNTIL', 7, null, at('2027-05-25T18:00:00.000Z'))).toEqual({
      granted: true,
      amount: 4999,
    });
    expect(decide('FULL_UNTIL', 7, null, at('2027-05-25T18:00:00.001Z'))).toEqual({
      granted: false,
      reason: 'refunds ended on 2027-05-25 (7 days before the event)',
    });
    expect(decide('FULL_UNTIL', 1, null, at('2027-06-01T00:00:00.000Z'))).toEqual({
      granted: false,
      reason: 'refunds ended on 2027-05-31 (1 day before the event)',
    });
  });

  it('PARTIAL grants percent of what was paid, rounded down to the minor unit', () => {
    expect(decide('PARTIAL', 3, 50, at('2027-05-01T00:00:00.000Z'))).toEqual({ granted: true, amount: 2499 });
    expect(decide('PARTIAL', 3, 33, at('2027-05-01T00:00:00.000Z'), 1000)).toEqual({
      granted: true,
      amount: 330,
    });
    // 29 % of 4999 is 1449.71: never rounded up.
    expect(decide('PARTIAL', 3, 29, at('2027-05-01T00:00:00.000Z'))).toEqual({ granted: true, amount: 1449 });
    expect(decide('PARTIAL', 3, 50, at('2027-05-30T00:00:00.000Z'))).toEqual({
      granted: false,
      reason: 'refunds ended on 2027-05-29 (3 days before the event)',
    });
  });

  it('PARTIAL without a number of days lasts until the start', () => {
    expect(decide('PARTIAL', null, 80, at('2027-06-01T17:59:59.999Z'))).toEqual({
      granted: true,
      amount: 3999,
    });
    expect(decide('PARTIAL', null, 80, at('2027-06-01T18:00:00.001Z'))).toEqual({
      granted: false,
      reason: "refunds ended on 2027-06-01 (at the event's start)",
    });
  });

  it('NONE (or a PARTIAL of 0 %) refuses whenever asked', () => {
    const reason = 'this event does not offer refunds';
    expect(decide('NONE', null, null, at('2020-01-01T00:00:00.000Z'))).toEqual({ granted: false, reason });
    expect(decide('PARTIAL', 7, 0, at('2020-01-01T00:00:00.000Z'))).toEqual({ granted: false, reason });
  });
});
