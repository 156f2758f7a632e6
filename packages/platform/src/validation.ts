import confusables from 'unhomoglyph/data.json' with { type: 'json' };
import { z } from 'zod';

// Control characters (C0, DEL, C1), bidi controls and marks, invisible separators and joiners
// that hide text have no place in names shown to other people. ZWJ and ZWNJ stay: emoji
// sequences and Persian need them.
// biome-ignore lint/suspicious/noControlCharactersInRegex: this pattern exists to reject them
const UNSAFE_TEXT = /[\u0000-\u001f\u007f-\u009f\u061c\u200b\u200e\u200f\u2028-\u202e\u2060-\u2069\ufeff]/;

// Default-ignorable code points render as nothing (soft hyphen, combining grapheme joiner, Hangul
// fillers, tags, variation selectors): in a name they only hide what it really says. Kept: ZWNJ
// and ZWJ (see above) and the text/emoji presentation selectors of emoji ("❤️").
const INVISIBLE = /(?!\u200c|\u200d|\ufe0e|\ufe0f)\p{Default_Ignorable_Code_Point}/u;

// UTS #39 confusables (unhomoglyph ships Unicode's confusables.txt): each look-alike code point
// mapped to its prototype, e.g. Armenian "օ" → "o", Cherokee "Ꭺ" → "A", Katakana "カ" → "力".
const PROTOTYPES: Record<string, string | undefined> = confusables;

// Every script with letters (UTS #24), Han, kana, Hangul and Bopomofo as one: Japanese, Chinese
// and Korean mix them within a word, and their look-alikes (カ, 力) among themselves mean nothing.
const SCRIPTS: Array<[name: string, letters: RegExp]> = [
  ['CJK', /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}\p{Script=Bopomofo}]/u],
  ...`Adlam Ahom Anatolian_Hieroglyphs Arabic Armenian Avestan Balinese Bamum Bassa_Vah Batak Bengali
  Bhaiksuki Brahmi Braille Buginese Buhid Canadian_Aboriginal Carian Caucasian_Albanian Chakma Cham
  Cherokee Chorasmian Coptic Cuneiform Cypriot Cypro_Minoan Cyrillic Deseret Devanagari Dives_Akuru
  Dogra Duployan Egyptian_Hieroglyphs Elbasan Elymaic Ethiopic Georgian Glagolitic Gothic Grantha
  Greek Gujarati Gunjala_Gondi Gurmukhi Hanifi_Rohingya Hanunoo Hatran Hebrew Imperial_Aramaic
  Inscriptional_Pahlavi Inscriptional_Parthian Javanese Kaithi Kannada Kayah_Li Kharoshthi
  Khitan_Small_Script Khmer Khojki Khudawadi Lao Latin Lepcha Limbu Linear_A Linear_B Lisu Lycian
  Lydian Mahajani Makasar Malayalam Mandaic Manichaean Marchen Masaram_Gondi Medefaidrin Meetei_Mayek
  Mende_Kikakui Meroitic_Cursive Meroitic_Hieroglyphs Miao Modi Mongolian Mro Multani Myanmar
  Nabataean Nandinagari New_Tai_Lue Newa Nko Nushu Nyiakeng_Puachue_Hmong Ogham Ol_Chiki
  Old_Hungarian Old_Italic Old_North_Arabian Old_Permic Old_Persian Old_Sogdian Old_South_Arabian
  Old_Turkic Old_Uyghur Oriya Osage Osmanya Pahawh_Hmong Palmyrene Pau_Cin_Hau Phags_Pa Phoenician
  Psalter_Pahlavi Rejang Runic Samaritan Saurashtra Sharada Shavian Siddham SignWriting Sinhala
  Sogdian Sora_Sompeng Soyombo Sundanese Syloti_Nagri Syriac Tagalog Tagbanwa Tai_Le Tai_Tham
  Tai_Viet Takri Tamil Tangsa Tangut Telugu Thaana Thai Tibetan Tifinagh Tirhuta Toto Ugaritic Vai
  Vithkuqi Wancho Warang_Citi Yezidi Yi Zanabazar_Square`
    .split(/\s+/)
    .map((name): [string, RegExp] => [name, new RegExp(`\\p{Script=${name}}`, 'u')]),
];
const SCRIPT_NEUTRAL = /[\p{Script=Common}\p{Script=Inherited}]/u;

/** A letter's script; undefined for letters every script shares (the long-vowel mark ー). */
function scriptOf(letter: string): string | undefined {
  if (SCRIPT_NEUTRAL.test(letter)) return undefined;
  // Scripts newer than this list (Unicode 15 and later) count as one more script of their own.
  return SCRIPTS.find(([, letters]) => letters.test(letter))?.[0] ?? 'newer';
}

const isLetter = (character: string) => /\p{L}/u.test(character);
const CONFUSABLE_SCRIPTS = new Set(['Latin', 'Cyrillic', 'Greek']);

/**
 * Why `word` poses as something it is not, or undefined. A word in one script is fine, however
 * much it resembles another (Cyrillic "сор"). A word mixing scripts is not when one of its letters
 * looks like a letter of another script (UTS #39 skeleton): "Раypal" (Cyrillic Р), "Gօօgle"
 * (Armenian օ), "Ꭺрр" (Cherokee and Cyrillic posing as Latin). Latin, Cyrillic and Greek share so
 * many look-alikes that they never mix within a word.
 */
function lookAlikeIn(word: string): string | undefined {
  if (/^[\p{ASCII}]*$/u.test(word)) return undefined;
  const letters = [...word.normalize('NFD')].filter(isLetter);
  const scripts = new Set(letters.map(scriptOf).filter((script) => script !== undefined));
  if (scripts.size < 2) return undefined;
  if ([...scripts].filter((script) => CONFUSABLE_SCRIPTS.has(script)).length > 1) {
    return 'must not mix Latin, Cyrillic or Greek letters within a word (look-alike characters)';
  }
  for (const letter of letters) {
    const script = scriptOf(letter);
    const prototype = PROTOTYPES[letter] ?? '';
    const posing = [...prototype].some((character) => {
      const looksLike = isLetter(character) ? scriptOf(character) : undefined;
      return script && looksLike && looksLike !== script;
    });
    if (posing) return `must not mix scripts within a word: "${letter}" looks like "${prototype}"`;
  }
  return undefined;
}

/**
 * Words as they are seen: ZWNJ and ZWJ join, they do not separate ("Ра\u200dypal" is one word
 * that mixes scripts, not two that do not).
 */
const wordsOf = (text: string) =>
  text.split(/[^\p{L}\p{M}\u200c\u200d]+/u).map((word) => word.replace(/[\u200c\u200d]/gu, ''));

/**
 * A short, human-visible text: NFKC-normalized, trimmed, bounded, no control or invisible
 * characters, no word mixing scripts with look-alike letters.
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
        .superRefine((value, ctx) => {
          const problem = UNSAFE_TEXT.test(value)
            ? 'must not contain control characters'
            : INVISIBLE.test(value)
              ? 'must not contain invisible characters (soft hyphens, fillers, tags)'
              : wordsOf(value).map(lookAlikeIn).find(Boolean);
          if (problem) ctx.addIssue({ code: 'custom', message: problem });
        }),
    );
}

/** The longest string any argument may carry: an event description's source. */
export const MAX_ARGUMENT_LENGTH = 100_000;

// Control characters but tab and line breaks: NUL above all, which PostgreSQL refuses in text.
// biome-ignore lint/suspicious/noControlCharactersInRegex: this pattern exists to reject them
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/;

/** What no string in any argument may be, whatever its field: too long, control characters, broken UTF-16. */
export function textProblem(value: string): string | undefined {
  if (value.length > MAX_ARGUMENT_LENGTH) return `must be at most ${MAX_ARGUMENT_LENGTH} characters`;
  if (CONTROL.test(value)) return 'must not contain control characters (tab and line breaks are fine)';
  if (/\p{Surrogate}/u.test(value)) return 'must be well-formed Unicode (an unpaired surrogate)';
  return undefined;
}

/**
 * Every string in `value` (an argument or variable, objects and lists included) that has a
 * `textProblem`, with its path. No input type nests deeper than `maxDepth`; GraphQL refuses what does.
 */
export function textProblems(
  value: unknown,
  path: string[] = [],
  maxDepth = 32,
): Array<{ path: string[]; problem: string }> {
  if (typeof value === 'string') {
    const problem = textProblem(value);
    return problem ? [{ path, problem }] : [];
  }
  if (!value || typeof value !== 'object' || path.length >= maxDepth) return [];
  return Object.entries(value).flatMap(([key, item]) => textProblems(item, [...path, key], maxDepth));
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
