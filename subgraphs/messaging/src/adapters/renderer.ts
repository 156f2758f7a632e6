import { currencyDecimals, escapeHtml, formatMoney } from '@bilten/platform';
import { Liquid, type Template } from 'liquidjs';
import mjml2html from 'mjml';
import type {
  Brand,
  DataOf,
  LocalTime,
  Money,
  RenderedEmail,
  RenderedShort,
  Renderer,
} from '../domain/channels.ts';
import type { KindName } from '../domain/delivery-rules.ts';
import { LOCALES, type Locale, TEMPLATES } from './templates/index.ts';
import type { KindTemplate, Strings } from './templates/kind-template.ts';
import { LAYOUT_STRINGS, type LayoutParts, layoutMjml, layoutText } from './templates/layout.ts';

/** Bilten's own colours, for organizations without a brand kit (branding's defaults). */
export const DEFAULT_COLOURS = { primaryColor: '#1F2937', accentColor: '#2563EB' };

/** Push payloads and SMS are small: a longer body is cut here. */
const SHORT_BODY_LIMIT = 280;

/** The Intl locale each language formats dates and money in. */
const INTL_LOCALE: Record<Locale, string> = { en: 'en-GB', bs: 'bs-BA' };

/** `en`, `bs`, `bs-BA` → a language the templates speak; anything else → English. */
export function localeOf(requested: string | null | undefined): Locale {
  const language = requested?.toLowerCase().split(/[-_]/)[0];
  return (LOCALES as readonly string[]).includes(language ?? '') ? (language as Locale) : 'en';
}

export const isSupportedLocale = (value: string): value is Locale =>
  (LOCALES as readonly string[]).includes(value);

/** One line: control characters (CR, LF, ...) and runs of whitespace become one space. */
const singleLine = (value: string) => value.replace(/[\p{Cc}\s]+/gu, ' ').trim();

/** Only a strict `#RRGGBB` reaches CSS; anything else is replaced by Bilten's colour. */
const HEX_COLOUR = /^#[0-9A-Fa-f]{6}$/;
const safeColour = (value: string | undefined, fallback: string) =>
  value && HEX_COLOUR.test(value) ? value.toUpperCase() : fallback;

function safeLogoUrl(value: string | null | undefined): string | null {
  if (!value) return null;
  try {
    return new URL(value).protocol === 'https:' ? value : null;
  } catch {
    return null;
  }
}

/** What the layout reads of the brand, every value checked. */
function brandScope(brand: Brand | null) {
  const organizerName = brand?.organizerName ? singleLine(brand.organizerName) : null;
  return {
    primaryColor: safeColour(brand?.primaryColor, DEFAULT_COLOURS.primaryColor),
    accentColor: safeColour(brand?.accentColor, DEFAULT_COLOURS.accentColor),
    logoUrl: safeLogoUrl(brand?.logoUrl),
    organizerName,
    name: organizerName || 'Bilten',
  };
}

// Intl formatters are costly to make and a fan-out formats the same few thousands of times.
const formatters = new Map<string, Intl.NumberFormat | Intl.DateTimeFormat>();
function cached<T extends Intl.NumberFormat | Intl.DateTimeFormat>(key: string, make: () => T): T {
  let formatter = formatters.get(key);
  if (!formatter) {
    formatter = make();
    formatters.set(key, formatter);
  }
  return formatter as T;
}

function money(value: Money, locale: Locale): string {
  try {
    const format = cached(
      `money:${locale}:${value.currency}`,
      () => new Intl.NumberFormat(INTL_LOCALE[locale], { style: 'currency', currency: value.currency }),
    );
    return format.format(value.amount / 10 ** currencyDecimals(value.currency));
  } catch {
    return formatMoney(value);
  }
}

function dateTime(at: string, timezone: string, locale: Locale): string {
  const format = (zone: string) =>
    cached(
      `date:${locale}:${zone}`,
      () =>
        new Intl.DateTimeFormat(INTL_LOCALE[locale], {
          dateStyle: 'full',
          timeStyle: 'short',
          timeZone: zone,
        }),
    ).format(new Date(at));
  try {
    return `${format(timezone)} (${timezone})`;
  } catch {
    // A zone this Node does not know: the time is still right in UTC.
    return `${format('UTC')} (UTC)`;
  }
}

/** Each language's words for minutes, hours and days by plural category (Bosnian in the accusative: "za 2 sata"). */
const UNITS: Record<
  Locale,
  Record<'minute' | 'hour' | 'day', Partial<Record<Intl.LDMLPluralRule, string>>>
> = {
  en: {
    minute: { one: 'minute', other: 'minutes' },
    hour: { one: 'hour', other: 'hours' },
    day: { one: 'day', other: 'days' },
  },
  bs: {
    minute: { one: 'minutu', few: 'minute', other: 'minuta' },
    hour: { one: 'sat', few: 'sata', other: 'sati' },
    day: { one: 'dan', few: 'dana', other: 'dana' },
  },
};
const pluralRules = Object.fromEntries(
  LOCALES.map((locale) => [locale, new Intl.PluralRules(INTL_LOCALE[locale])]),
) as Record<Locale, Intl.PluralRules>;

/** "7 days", "24 hours", "30 minutes" ("7 dana", "24 sata", "30 minuta"): how long from `from` until `until`. */
export function validFor(from: string, until: string, locale: Locale): string {
  const minutes = Math.max(1, Math.round((new Date(until).getTime() - new Date(from).getTime()) / 60_000));
  const hours = Math.round(minutes / 60);
  const [count, unit] =
    minutes < 60
      ? [minutes, 'minute' as const]
      : hours <= 36
        ? [hours, 'hour' as const]
        : [Math.round(hours / 24), 'day' as const];
  const words = UNITS[locale][unit];
  return `${count} ${words[pluralRules[locale].select(count)] ?? words.other}`;
}

/** Text a person wrote, as HTML paragraphs: blank lines separate them, single line breaks stay. */
const paragraphs = (value: string) =>
  value
    .split(/\n\s*\n/)
    .map((part) => part.trim())
    .filter(Boolean)
    .map((part) => `<p style="margin: 0 0 12px">${escapeHtml(part).replace(/\r?\n/g, '<br>')}</p>`)
    .join('');

function liquid(escapeOutput: boolean): Liquid {
  // strictVariables: a template naming a variable its data lacks fails instead of printing nothing.
  const engine = new Liquid({
    strictVariables: true,
    strictFilters: true,
    ownPropertyOnly: true,
    ...(escapeOutput ? { outputEscape: 'escape' as const } : {}),
  });
  engine.registerFilter('money', money);
  engine.registerFilter('local_time', (value: LocalTime, locale: Locale) =>
    dateTime(value.at, value.timezone, locale),
  );
  engine.registerFilter('utc_time', (value: string, locale: Locale) => dateTime(value, 'UTC', locale));
  engine.registerFilter('valid_for', validFor);
  engine.registerFilter('paragraphs', paragraphs);
  return engine;
}

interface Compiled {
  subject: Template[];
  html: Template[];
  text: Template[];
  shortTitle: Template[];
  shortBody: Template[];
}

/**
 * LiquidJS over MJML. Each kind's layout is compiled by MJML once per language and parsed by
 * Liquid once; a message then costs one Liquid render of the HTML and of the text. Everything
 * `{{ }}` prints into HTML is escaped; subjects, text parts and short texts are not HTML and come
 * from a second engine that does not escape. `site` (PUBLIC_WEB_URL, or the gateway) makes the
 * site-relative links of short texts (`/orders/{id}`) absolute, as push and SMS need them.
 */
export function createRenderer({ site }: { site?: string } = {}): Renderer {
  const absolute = (url: string | null) => (url && site ? new URL(url, site).href : url);
  const htmlEngine = liquid(true);
  const textEngine = liquid(false);
  const compiled = new Map<string, Promise<Compiled>>();

  function compile(kind: KindName, locale: Locale): Promise<Compiled> {
    const key = `${kind}:${locale}`;
    let result = compiled.get(key);
    if (!result) {
      result = compileNow(kind, locale);
      compiled.set(key, result);
      // A template that failed to compile fails again next time rather than staying cached.
      result.catch(() => compiled.delete(key));
    }
    return result;
  }

  async function compileNow(kind: KindName, locale: Locale): Promise<Compiled> {
    const template = TEMPLATES[kind] as KindTemplate<KindName>;
    const strings: Strings = { ...LAYOUT_STRINGS[locale] };
    // Per key: a string the language lacks reads in English.
    const string = (name: string) => {
      const value = template.strings[locale]?.[name] ?? template.strings.en[name] ?? strings[name];
      if (value === undefined) throw new Error(`template ${kind} has no string ${name}`);
      return value;
    };
    const parts: LayoutParts = { string, blocks: template.blocks, action: template.action };
    // mjml 4 answers at once, mjml 5 (whose types are installed) with a promise: await fits both.
    const { html, errors } = await mjml2html(layoutMjml(parts, locale), { validationLevel: 'soft' });
    // The Liquid in colour attributes is not a colour yet: only other complaints are real.
    const real = errors.filter((error) => !error.message.includes('{{'));
    if (real.length) throw new Error(`template ${kind}: ${real.map((error) => error.message).join('; ')}`);
    return {
      subject: textEngine.parse(string('subject')),
      html: htmlEngine.parse(html),
      text: textEngine.parse(layoutText(parts)),
      shortTitle: textEngine.parse(string('shortTitle')),
      shortBody: textEngine.parse(string('shortBody')),
    };
  }

  const scopeOf = (data: object, locale: Locale, brand: Brand | null, unsubscribeUrl: string | null) => {
    const recipient = (data as { recipient?: { name: string } }).recipient;
    return {
      ...data,
      ...(recipient ? { recipient: { ...recipient, name: singleLine(recipient.name) } } : {}),
      locale,
      brand: brandScope(brand),
      unsubscribeUrl,
    };
  };

  return {
    async email<K extends KindName>(
      kind: K,
      requestedLocale: string,
      data: DataOf<K>,
      brand: Brand | null,
      extras: { unsubscribeUrl?: string },
    ): Promise<RenderedEmail> {
      const locale = localeOf(requestedLocale);
      const templates = await compile(kind, locale);
      const scope = scopeOf(data, locale, brand, extras.unsubscribeUrl ?? null);
      const template = TEMPLATES[kind] as KindTemplate<K>;
      return {
        subject: singleLine(textEngine.renderSync(templates.subject, scope)),
        html: htmlEngine.renderSync(templates.html, scope),
        text: textEngine
          .renderSync(templates.text, scope)
          .replace(/\n{3,}/g, '\n\n')
          .trim(),
        attachments: template.attachments?.(data) ?? [],
      };
    },
    async short<K extends KindName>(
      kind: K,
      requestedLocale: string,
      data: DataOf<K>,
    ): Promise<RenderedShort> {
      const locale = localeOf(requestedLocale);
      const templates = await compile(kind, locale);
      const scope = scopeOf(data, locale, null, null);
      const body = singleLine(textEngine.renderSync(templates.shortBody, scope));
      return {
        title: singleLine(textEngine.renderSync(templates.shortTitle, scope)),
        body: body.length > SHORT_BODY_LIMIT ? `${body.slice(0, SHORT_BODY_LIMIT - 1)}…` : body,
        url: absolute((TEMPLATES[kind] as KindTemplate<K>).url(data)),
      };
    },
  };
}
