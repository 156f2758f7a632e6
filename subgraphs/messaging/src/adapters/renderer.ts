import { currencyDecimals, escapeHtml, formatMoney } from '@bilten/platform';
import { Liquid, type Template } from 'liquidjs';
import mjml2html from 'mjml';
import { domainBaseOf, platformBases, rebaseLink, rebaseLinks } from '../domain/branded-links.ts';
import {
  type Brand,
  type DataOf,
  DEFAULT_BRAND,
  DEFAULT_FONT_STACK,
  FONT_STACKS,
  type LocalTime,
  type Money,
  type RenderedEmail,
  type RenderedShort,
  type Renderer,
} from '../domain/channels.ts';
import { KINDS, type KindName } from '../domain/delivery-rules.ts';
import { LOCALES, type Locale, TEMPLATES } from './templates/index.ts';
import type { KindTemplate, Strings } from './templates/kind-template.ts';
import { LAYOUT_STRINGS, type LayoutParts, layoutMjml, layoutText } from './templates/layout.ts';

/** Bilten's own colours, for organizations without a brand kit (branding's defaults). */
export const DEFAULT_COLOURS = DEFAULT_BRAND;

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

/**
 * An image a mail or push may load: https, or http only on the gateway's own origin (a local
 * gateway serves branding's `/assets/` over http); never credentials in it. A path
 * (`/assets/<sha256>`) is resolved against the gateway. Anything else (`javascript:`, `data:`,
 * other http hosts) is dropped.
 */
function safeImageUrl(value: string | null | undefined, gateway: URL | null): string | null {
  if (!value) return null;
  try {
    // A path on the gateway, never a protocol-relative `//host/…`.
    const url = /^\/(?!\/)/.test(value) ? (gateway ? new URL(value, gateway) : null) : new URL(value);
    if (!url || url.username || url.password) return null;
    if (url.protocol === 'https:') return url.href;
    return url.protocol === 'http:' && gateway && url.origin === gateway.origin ? url.href : null;
  } catch {
    return null;
  }
}

/** The footer's text: at most 500 characters, line breaks kept, other control characters gone. */
const footerText = (value: string | null | undefined) =>
  value
    ? value
        .slice(0, 500)
        .replace(/\r\n?/g, '\n')
        .replace(/[^\P{Cc}\n]/gu, ' ')
        .trim() || null
    : null;

/** The footer as HTML: every character escaped, line breaks as `<br>`. */
const footerHtml = (text: string | null) => (text ? escapeHtml(text).replace(/\n/g, '<br>') : null);

/** The content hash of a logo served from `/assets/<sha256>`, for the brand's marker. */
const assetHash = (url: string | null) => (url ? (/\/assets\/([0-9a-f]{64})$/.exec(url)?.[1] ?? null) : null);

/** What the layout reads of the brand, every value checked. */
function brandScope(brand: Brand | null, gateway: URL | null) {
  const organizerName = brand?.organizerName ? singleLine(brand.organizerName) : null;
  const logoUrl = safeImageUrl(brand?.logoUrl, gateway);
  const domainBase = domainBaseOf(brand?.domain);
  const primaryColor = safeColour(brand?.primaryColor, DEFAULT_BRAND.primaryColor);
  const version = Number.isSafeInteger(brand?.version) && brand!.version >= 0 ? brand!.version : 0;
  return {
    primaryColor,
    accentColor: safeColour(brand?.accentColor, DEFAULT_BRAND.accentColor),
    backgroundColor: safeColour(brand?.backgroundColor, DEFAULT_BRAND.backgroundColor),
    textColor: safeColour(brand?.textColor, DEFAULT_BRAND.textColor),
    // Only a stack of the allow-list reaches CSS.
    fontFamily:
      brand?.fontFamily && Object.values(FONT_STACKS).includes(brand.fontFamily)
        ? brand.fontFamily
        : DEFAULT_FONT_STACK,
    logoUrl,
    emailHeaderUrl: safeImageUrl(brand?.emailHeaderUrl, gateway),
    footerHtml: footerHtml(footerText(brand?.emailFooter)),
    footerText: footerText(brand?.emailFooter),
    organizerName,
    name: organizerName || 'Bilten',
    domainBase,
    /** What tests and support read in the HTML head: which brand this mail was rendered with. */
    marker: `brand-version:${version} brand-primary:${primaryColor} brand-logo:${assetHash(logoUrl) ?? 'none'} brand-domain:${domainBase ? new URL(domainBase).host : 'none'}`,
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
 * site-relative links of short texts (`/orders/{id}`) absolute, as push and SMS need them;
 * `gateway` (PUBLIC_GATEWAY_URL) is where `/assets/` and the files are. An organization with an
 * active domain gets its content links (under `site` or `gateway`) on that domain
 * (domain/branded-links.ts), its account mails excepted.
 */
export function createRenderer({ site, gateway }: { site?: string; gateway?: string } = {}): Renderer {
  const gatewayUrl = gateway ? new URL(gateway) : null;
  const bases = platformBases(site, gateway);
  const absolute = (url: string | null, base = site) => (url && base ? new URL(url, base).href : url);
  /** The organization's domain as `https://<domain>`, unless the kind is an account mail (the platform's). */
  const domainOf = (kind: KindName, brand: Brand | null | undefined) =>
    KINDS[kind].category === 'ACCOUNT_SECURITY' ? null : domainBaseOf(brand?.domain);
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
      brand: brandScope(brand, gatewayUrl),
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
      const domain = domainOf(kind, brand);
      const linked = domain ? rebaseLinks(data, bases, domain) : data;
      const scope = scopeOf(linked, locale, brand, extras.unsubscribeUrl ?? null);
      const template = TEMPLATES[kind] as KindTemplate<K>;
      const html = htmlEngine.renderSync(templates.html, scope) as string;
      const marker = `<meta name="bilten-brand" content="${escapeHtml(scope.brand.marker)}">`;
      return {
        subject: singleLine(textEngine.renderSync(templates.subject, scope)),
        html: html.replace(/<head>/i, (head) => `${head}${marker}`),
        text: textEngine
          .renderSync(templates.text, scope)
          .replace(/\n{3,}/g, '\n\n')
          .trim(),
        // From the data as stored: the sender fetches the files from the gateway itself.
        attachments: template.attachments?.(data) ?? [],
      };
    },
    async short<K extends KindName>(
      kind: K,
      requestedLocale: string,
      data: DataOf<K>,
      brand?: Brand | null,
    ): Promise<RenderedShort> {
      const locale = localeOf(requestedLocale);
      const templates = await compile(kind, locale);
      const domain = domainOf(kind, brand);
      const linked = domain ? rebaseLinks(data, bases, domain) : data;
      const scope = scopeOf(linked, locale, brand ?? null, null);
      const body = singleLine(textEngine.renderSync(templates.shortBody, scope));
      const url = (TEMPLATES[kind] as KindTemplate<K>).url(linked);
      return {
        title: singleLine(textEngine.renderSync(templates.shortTitle, scope)),
        body: body.length > SHORT_BODY_LIMIT ? `${body.slice(0, SHORT_BODY_LIMIT - 1)}…` : body,
        url: domain && url ? absolute(rebaseLink(url, bases, domain), domain) : absolute(url),
        // An organization's push shows its logo, name and colour; Bilten's own texts stay plain.
        ...(brand && {
          icon: scope.brand.logoUrl,
          organization: { name: scope.brand.organizerName, color: scope.brand.primaryColor },
        }),
      };
    },
  };
}
