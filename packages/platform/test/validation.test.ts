import { describe, expect, it } from 'vitest';
import { displayText, MAX_ARGUMENT_LENGTH, textProblem, textProblems } from '../src/validation.ts';

const name = displayText(200);
const problemsOf = (value: string) => {
  const parsed = name.safeParse(value);
  return parsed.success ? [] : parsed.error.issues.map((issue) => issue.message);
};

describe('displayText: names that pose as others (issue 12)', () => {
  it.each([
    ['a soft hyphen splitting a Cyrillic-Latin word', 'Ра\u00ADypal', 'invisible characters'],
    ['a zero-width joiner splitting a Cyrillic-Latin word', 'Ра\u200Dypal', 'Latin, Cyrillic or Greek'],
    ['a zero-width non-joiner splitting a Cyrillic-Latin word', 'Ра\u200Cypal', 'Latin, Cyrillic or Greek'],
    ['a combining grapheme joiner', 'Pay\u034Fpal', 'invisible characters'],
    ['a Hangul filler, a letter that shows nothing', 'Pay\u3164pal', 'invisible characters'],
    ['a tag character', 'Paypal\u{E0041}', 'invisible characters'],
    ['a variation selector other than emoji presentation', 'Pay\uFE00pal', 'invisible characters'],
    ['Armenian look-alikes in a Latin word', 'G\u0585\u0585gle', '"օ" looks like "o"'],
    ['a Cherokee look-alike in a Latin word', '\u13AApple Support', '"Ꭺ" looks like "A"'],
    ['a Lisu look-alike in a Latin word', '\uA4D1aypal', '"ꓑ" looks like "P"'],
    ['Cherokee and Cyrillic posing as Latin together', '\u13AA\u0440\u0440', '"Ꭺ" looks like "A"'],
    ['a look-alike with a non-confusable letter added', 'G\u0585ogle\u0562', '"օ" looks like "o"'],
  ])('refuses %s', (_, value, message) => {
    expect(problemsOf(value)).toEqual([expect.stringContaining(message)]);
  });

  it.each([
    ['Cyrillic, Latin and Greek words side by side', 'Ана Ковач – Ana Kovač, Αθηνά'],
    ['a whole Cyrillic word that resembles a Latin one', 'сор'],
    ['Armenian and Cherokee words', 'Երևան ᏣᎳᎩ'],
    ['Latin with Han in one word', 'Tokyo東京'],
    ['Japanese mixing Han and Katakana, with the long-vowel mark', '東京タワー カフェ'],
    ['Korean', '서울 카페'],
    ['Persian with a zero-width non-joiner', 'می‌خواهم'],
    ['Devanagari', 'नमस्ते'],
    ['an emoji sequence joined by zero-width joiners', '👩‍💻 Dev Team'],
    ['an emoji in emoji presentation', '❤️ Fans'],
    ['Latin with diacritics', 'Đorđe Čović, Zürich Straße, İstanbul'],
  ])('accepts %s', (_, value) => {
    expect(problemsOf(value)).toEqual([]);
  });
});

describe('textProblem: what no argument may carry', () => {
  it('refuses NUL and other control characters, unpaired surrogates and over-long strings', () => {
    expect(textProblem('ab\u0000c')).toMatch(/control characters/);
    expect(textProblem('\u001b[31m')).toMatch(/control characters/);
    expect(textProblem('\u0085')).toMatch(/control characters/);
    expect(textProblem('a\uD800b')).toMatch(/well-formed Unicode/);
    expect(textProblem('x'.repeat(MAX_ARGUMENT_LENGTH + 1))).toMatch(/at most 100000 characters/);
  });

  it('accepts tabs, line breaks, emoji and the longest description', () => {
    expect(textProblem('line\r\nnext\ttab 😀')).toBeUndefined();
    expect(textProblem('x'.repeat(MAX_ARGUMENT_LENGTH))).toBeUndefined();
  });

  it('finds the strings at any depth of an input, with their paths', () => {
    expect(textProblems({ filter: { city: 'a\u0000', tags: ['ok', 'b\u0007'] }, first: 1 })).toEqual([
      { path: ['filter', 'city'], problem: expect.stringMatching(/control/) },
      { path: ['filter', 'tags', '1'], problem: expect.stringMatching(/control/) },
    ]);
  });
});
