import { z } from 'zod';

// Control characters (C0, DEL, C1), bidi controls and marks, invisible separators and joiners
// that hide text have no place in names shown to other people. ZWJ and ZWNJ stay: emoji
// sequences and Persian need them.
// biome-ignore lint/suspicious/noControlCharactersInRegex: this pattern exists to reject them
const UNSAFE_TEXT = /[\u0000-\u001f\u007f-\u009f\u061c\u200b\u200e\u200f\u2028-\u202e\u2060-\u2069\ufeff]/;

// Latin, Cyrillic and Greek share look-alike letters (Latin "a" and Cyrillic "а"): one word that
// mixes them is how "Раypal" poses as "Paypal". Whole words in one script stay welcome.
const CONFUSABLE_SCRIPTS = [/\p{Script=Latin}/u, /\p{Script=Cyrillic}/u, /\p{Script=Greek}/u];
const mixesConfusableScripts = (text: string) =>
  text
    .split(/[^\p{L}\p{M}]+/u)
    .some((word) => CONFUSABLE_SCRIPTS.filter((script) => script.test(word)).length > 1);

/**
 * A short, human-visible text: NFKC-normalized, trimmed, bounded, no control characters, no
 * word mixing look-alike scripts.
 */
export function displayText(maxLength: number) {
  return z
    .string()
    .transform((value) => value.normalize('NFKC').trim())
    .pipe(
      z
        .string()
        .min(1, 'must not be empty')
        .max(maxLength, `must be at most ${maxLength} characters`)
        .refine((value) => !UNSAFE_TEXT.test(value), 'must not contain control characters')
        .refine(
          (value) => !mixesConfusableScripts(value),
          'must not mix Latin, Cyrillic or Greek letters within a word (look-alike characters)',
        ),
    );
}

/** An email address, normalized so one mailbox maps to one account. */
export const emailAddress = z
  .string()
  .max(320, 'must be at most 320 characters')
  .transform((value) => value.normalize('NFKC').trim().toLowerCase())
  .pipe(z.email('must be a valid email address'));

/** Lower-case letters, digits and inner dashes, 2–50 characters. */
export const slug = z
  .string()
  .regex(/^[a-z0-9](?:[a-z0-9-]{0,48}[a-z0-9])$/, 'must be 2–50 lower-case letters, digits or dashes');

export const uuidInput = z.uuid('must be an id this API issued').transform((id) => id.toLowerCase());

const CURRENCIES = new Set(Intl.supportedValuesOf('currency'));

/** An ISO 4217 code the runtime knows, e.g. EUR. */
export const currencyCode = z
  .string()
  .regex(/^[A-Z]{3}$/, 'must be a three-letter ISO 4217 code in upper case')
  .refine((code) => CURRENCIES.has(code), 'is not an ISO 4217 currency');

const TIME_ZONES = new Map(
  ['UTC', ...Intl.supportedValuesOf('timeZone')].map((zone) => [zone.toLowerCase(), zone]),
);

/** An IANA time zone name, e.g. Europe/Sarajevo, stored in its canonical spelling. */
export const timeZone = z
  .string()
  .max(64)
  .transform((zone, ctx) => {
    const canonical = TIME_ZONES.get(zone.toLowerCase());
    if (!canonical) ctx.addIssue({ code: 'custom', message: 'is not an IANA time zone' });
    return canonical ?? zone;
  });

/** Money as given by a client: minor units, never negative, in a known currency. */
export const moneyInput = z.object({
  amount: z
    .number()
    .int('must be a whole number of minor units')
    .min(0, 'must not be negative')
    .max(100_000_000),
  currency: currencyCode,
});
