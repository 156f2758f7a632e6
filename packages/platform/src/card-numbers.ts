import type { z } from 'zod';

/**
 * PCI DSS, SAQ A scope: card numbers never reach our servers, the payment form turns them into a
 * provider's token first. A client that sends one anyway is refused, and it is never logged.
 */
export const CARD_NUMBER_REFUSED = "card numbers are never accepted here: use the payment form's token";

/** Whether `digits` passes the Luhn check every card number passes. */
export function luhnValid(digits: string): boolean {
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let digit = digits.charCodeAt(i) - 48;
    if (double) {
      digit *= 2;
      if (digit > 9) digit -= 9;
    }
    sum += digit;
    double = !double;
  }
  return sum % 10 === 0;
}

// A run of digit groups joined by single spaces or dashes, not part of a word, an id or a longer
// number (the tail of a UUID, "a456-426614174000", is no card), nor an international phone number
// ("+387 61 234 5678").
const DIGIT_RUN = /(?<![\w+-])\d+(?:[ -]\d+)*(?![\w-])/g;
// Cheap test before the scan: card numbers, grouped or not, have eight digits in a row or two
// groups of four around a separator.
const MAYBE_CARD = /\d{4}[ -]?\d{4}/;

/** 12–19 digits, Luhn-valid, not starting with 0: no card does (ISO/IEC 7812), a number dialled abroad ("00387…") does. */
const isCardNumber = (digits: string) =>
  digits.length >= 12 && digits.length <= 19 && digits[0] !== '0' && luhnValid(digits);

/**
 * Where, within one run of digit groups, a card number is: the whole run when it has 12–19 digits
 * and passes Luhn, else consecutive groups that do ("4242 4242 4242 4242 2" tickets). A number
 * written without separators counts only whole: a 16-digit reference does not hide a 13-digit card.
 */
function cardWithin(run: string): [start: number, end: number] | undefined {
  const digits = run.replace(/[ -]/g, '');
  if (isCardNumber(digits)) return [run.search(/\d/), run.length];
  if (digits.length === run.length) return undefined;
  const groups = [...run.matchAll(/\d+/g)].map((match) => ({ start: match.index, text: match[0] }));
  // From each group, the longest card that starts there: a shorter one would leave digits behind.
  for (let first = 0; first < groups.length; first++) {
    let found: number | undefined;
    let joined = '';
    for (let last = first; last < groups.length; last++) {
      joined += groups[last]!.text;
      if (joined.length > 19) break;
      if (isCardNumber(joined)) found = last;
    }
    if (found !== undefined) return [groups[first]!.start, groups[found]!.start + groups[found]!.text.length];
  }
  return undefined;
}

/**
 * Whether `text` holds something that looks like a card number: a Luhn-valid run of 12–19 digits,
 * spaced, dashed or not ("4242 4242 4242 4242", "4242-4242-4242-4242", "4242424242424242").
 */
export function looksLikeCardNumber(text: string): boolean {
  if (!MAYBE_CARD.test(text)) return false;
  for (const match of text.matchAll(DIGIT_RUN)) if (cardWithin(match[0])) return true;
  return false;
}

/**
 * `text` with every card-like number replaced by `replacement`, or what
 * `replacement(card, text, index)` answers for the one at `index` (e.g. quoted, for a bare number
 * in JSON); the same string, cheaply, when there is none.
 */
export function maskCardNumbers(
  text: string,
  replacement: string | ((card: string, text: string, start: number) => string) = '[card]',
): string {
  if (!MAYBE_CARD.test(text)) return text;
  return text.replace(DIGIT_RUN, (run: string, offset: number) => {
    let masked = '';
    let rest = run;
    let at = offset;
    for (let found = cardWithin(rest); found; found = cardWithin(rest)) {
      const [start, end] = found;
      masked += rest.slice(0, start);
      const card = rest.slice(start, end);
      masked += typeof replacement === 'string' ? replacement : replacement(card, text, at + start);
      // The groups after the card stay, so "4242 4242 4242 4242 2" keeps its " 2".
      rest = rest.slice(end);
      at += end;
    }
    return masked + rest;
  });
}

/**
 * A JSON number that may be a card number: 15–19 digits (American Express and longer). Shorter
 * ones are other things far more often, a time in milliseconds (13 digits) above all.
 */
export const isCardLikeNumber = (value: number) =>
  Number.isInteger(value) && value >= 1e14 && looksLikeCardNumber(String(value));

/**
 * Every path in `value` (an argument or variable, objects and lists included) holding a string or
 * number that looks like a card number; never the number itself.
 */
export function cardNumberPaths(value: unknown, path: string[] = [], maxDepth = 32): string[][] {
  if (typeof value === 'string') return looksLikeCardNumber(value) ? [path] : [];
  if (typeof value === 'number') return isCardLikeNumber(value) ? [path] : [];
  if (!value || typeof value !== 'object' || path.length >= maxDepth) return [];
  return Object.entries(value).flatMap(([key, item]) => cardNumberPaths(item, [...path, key], maxDepth));
}

/**
 * `schema` refusing text that looks like a card number, with a message that points to the
 * payment form (e.g. `noCardNumbers(z.string().min(1))` for a payment-method token).
 */
export function noCardNumbers<S extends z.ZodType<string>>(schema: S) {
  return schema.refine((value) => !looksLikeCardNumber(value), CARD_NUMBER_REFUSED);
}
