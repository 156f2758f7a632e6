import { Kind } from 'graphql';
import { describe, expect, it } from 'vitest';
import { DomainError } from '../src/errors.ts';
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

  it.each([
    ['garbage', 'garbage'],
    ['a month 13 and an hour 99', '2027-13-45T99:00:00Z'],
    ['the 30th of February', '2027-02-30T10:00:00Z'],
  ])(
    'refuses %s in a literal as BAD_USER_INPUT (validation would call it GRAPHQL_VALIDATION_FAILED)',
    (_, value) => {
      const parse = () => DateTimeScalar.parseLiteral({ kind: Kind.STRING, value }, undefined);
      expect(parse).toThrow(DomainError);
      expect(parse).toThrow(expect.objectContaining({ code: 'BAD_USER_INPUT' }));
      expect(() => DateTimeScalar.parseValue(value)).toThrow('time zone offset');
    },
  );

  it('refuses a literal that is not a string as BAD_USER_INPUT', () => {
    expect(() => DateTimeScalar.parseLiteral({ kind: Kind.INT, value: '1700000000' }, undefined)).toThrow(
      expect.objectContaining({ code: 'BAD_USER_INPUT' }),
    );
  });
});
