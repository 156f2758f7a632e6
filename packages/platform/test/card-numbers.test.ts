import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  CARD_NUMBER_REFUSED,
  cardNumberPaths,
  looksLikeCardNumber,
  luhnValid,
  maskCardNumbers,
  noCardNumbers,
} from '../src/card-numbers.ts';

describe('looksLikeCardNumber', () => {
  it.each([
    ['Visa, plain', '4242424242424242'],
    ['Visa, spaced', '4242 4242 4242 4242'],
    ['Visa, dashed', '4242-4242-4242-4242'],
    ['Mastercard within text', 'my card is 5555 5555 5555 4444, expires 12/30'],
    ['American Express, 4-6-5', '3782 822463 10005'],
    ['a 19-digit number', '4242424242424242428'],
    ['a card followed by a stray group', 'paid with 4242 4242 4242 4242 2 times'],
    ['a card after a colon', 'pan:4000056655665556'],
  ])('finds %s', (_, text) => {
    expect(looksLikeCardNumber(text)).toBe(true);
  });

  it.each([
    ['a 16-digit reference that fails Luhn', '1234567812345678'],
    ['the same, grouped', '1234 5678 1234 5678'],
    ['11 digits', '42424242426'],
    ['20 digits, Luhn-valid or not', '42424242424242424242'],
    // Each of these is Luhn-valid, once its digits are read alone.
    ['the tail of a UUID', '123e4567-e89b-12d3-a456-426614174040'],
    ['a phone number dialled abroad', '003876 123 4566'],
    ['an international phone number', '+387 61 234 5679'],
    ['a date and a time', '2026-12-07 01:57:47'],
    ['nothing numeric', 'tok_visa'],
  ])('ignores %s', (_, text) => {
    expect(looksLikeCardNumber(text)).toBe(false);
  });

  it('finds what it ignores above once the reason is gone', () => {
    expect(looksLikeCardNumber('426614174040')).toBe(true);
    expect(looksLikeCardNumber('387612345679')).toBe(true);
  });

  it('checks Luhn as card networks do', () => {
    expect(luhnValid('79927398713')).toBe(true);
    expect(luhnValid('79927398710')).toBe(false);
  });
});

describe('maskCardNumbers', () => {
  it('masks each card and keeps what surrounds it, the same string when there is none', () => {
    expect(maskCardNumbers('a 4242-4242-4242-4242 b 5555555555554444 c')).toBe('a [card] b [card] c');
    expect(maskCardNumbers('4242 4242 4242 4242 5555 5555 5555 4444')).toBe('[card] [card]');
    expect(maskCardNumbers('paid with 4242 4242 4242 4242 2 times')).toBe('paid with [card] 2 times');
    const plain = 'order 1234567812345678 of 2026-12-07';
    expect(maskCardNumbers(plain)).toBe(plain);
  });
});

describe('cardNumberPaths', () => {
  it('names where a card number is, strings and large numbers, never the number', () => {
    const input = {
      orderId: '1234567812345678',
      note: ['fine', 'card 4242 4242 4242 4242'],
      nested: { pan: 4242424242424242, createdAtMs: 1765000000006 },
    };
    expect(cardNumberPaths(input, ['input'])).toEqual([
      ['input', 'note', '1'],
      ['input', 'nested', 'pan'],
    ]);
  });
});

describe('noCardNumbers', () => {
  it("refuses a card number with a message pointing to the payment form's token", () => {
    const token = noCardNumbers(z.string().min(1));
    expect(token.safeParse('pm_card_visa').success).toBe(true);
    const refused = token.safeParse('4242 4242 4242 4242');
    expect(refused.success).toBe(false);
    expect(refused.error?.issues.map((issue) => issue.message)).toEqual([CARD_NUMBER_REFUSED]);
    expect(JSON.stringify(refused.error)).not.toContain('4242');
  });
});
