import { Kind } from 'graphql';
import { describe, expect, it } from 'vitest';
import { DateTimeScalar } from '../src/graphql.ts';

describe('DateTime', () => {
  it('reads ISO-8601 instants with an offset, as UTC', () => {
    expect(DateTimeScalar.parseValue('2027-03-01T20:00:00+01:00')).toEqual(new Date('2027-03-01T19:00:00Z'));
    expect(
      DateTimeScalar.parseLiteral({ kind: Kind.STRING, value: '0001-01-01T00:00:00Z' }, undefined),
    ).toEqual(new Date('0001-01-01T00:00:00Z'));
    expect(DateTimeScalar.parseValue('9999-12-31T23:59:59Z')).toEqual(new Date('9999-12-31T23:59:59Z'));
  });

  it.each([
    ['no offset', '2027-03-01T20:00:00', 'time zone offset'],
    ['a date alone', '2027-03-01', 'time zone offset'],
    ['the year 0000', '0000-06-01T00:00:00Z', 'years 1 to 9999'],
    ['an offset that moves it before the year 1', '0001-01-01T00:30:00+01:00', 'years 1 to 9999'],
    ['an offset that moves it past the year 9999', '9999-12-31T23:30:00-01:00', 'years 1 to 9999'],
    ['a number', 1_700_000_000_000, 'time zone offset'],
  ])('refuses %s', (_, value, message) => {
    expect(() => DateTimeScalar.parseValue(value)).toThrow(message);
  });
});
