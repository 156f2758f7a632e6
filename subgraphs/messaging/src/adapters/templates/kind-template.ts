import type { TemplateData } from '../../domain/channels.ts';
import type { KindName } from '../../domain/delivery-rules.ts';

/** The languages every template speaks; the first is the fallback. */
export const LOCALES = ['en', 'bs'] as const;
export type Locale = (typeof LOCALES)[number];

/**
 * One kind's strings in one language: plain text with Liquid in it, never HTML (the layout makes
 * the HTML, escaping the literal text and every `{{ }}`). `subject`, `heading`, `shortTitle` and
 * `shortBody` every kind has; the content blocks name the others.
 */
export type Strings = Record<string, string>;

/** A part of the mail's body, in order. */
export type Block =
  /** A paragraph: the string of this key. */
  | { text: string }
  /** Text a person wrote (an announcement's body): each blank-line-separated part a paragraph. */
  | { paragraphs: string }
  /** One link per element of the data array `items` (an order's tickets): `item` is the element. */
  | { links: { items: string; label: string; url: string } };

export interface KindTemplate<K extends KindName> {
  /** English is complete; another language may leave keys out, which then read in English. */
  strings: { en: Strings } & Partial<Record<Exclude<Locale, 'en'>, Strings>>;
  blocks: Block[];
  /** The mail's one button: the label's string key and the URL as Liquid. */
  action?: { label: string; url: string };
  /** Where a tap on the in-app, push or SMS notification leads. */
  url(data: TemplateData[K]): string | null;
  /** Files the mail carries (fetched by the sender). */
  attachments?(data: TemplateData[K]): Array<{ filename: string; url: string }>;
  /** What a preview renders with: realistic, and using every variable. */
  sample: TemplateData[K];
}
