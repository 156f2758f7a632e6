import { escapeHtml } from '@bilten/platform';
import type { Block, Locale, Strings } from './kind-template.ts';

/**
 * The one layout every mail shares (the brand's email header image, or its logo or organizer name
 * on its primary colour; an accent stripe; heading, greeting, the kind's blocks and one button on
 * its background, in its text colour and font; footer with its own text, the organizer and the
 * unsubscribe link), as MJML with the Liquid left in, and the text part from the same
 * strings. The renderer compiles each kind's MJML once per language; messages then cost only Liquid.
 */

/** The layout's own strings; `brand` (renderer.ts brandScope), `recipient` and `unsubscribeUrl` are in every scope. */
export const LAYOUT_STRINGS: Record<Locale, Strings> = {
  en: {
    greeting: '{% if recipient.name != blank %}Hello {{ recipient.name }},{% else %}Hello,{% endif %}',
    paste: 'Or paste this address into your browser:',
    sentBy:
      '{% if brand.organizerName %}Sent by Bilten for {{ brand.organizerName }}.{% else %}Sent by Bilten.{% endif %}',
    unsubscribe: 'Unsubscribe from these emails',
  },
  bs: {
    greeting: '{% if recipient.name != blank %}Zdravo {{ recipient.name }},{% else %}Zdravo,{% endif %}',
    paste: 'Ili kopirajte ovu adresu u preglednik:',
    sentBy:
      '{% if brand.organizerName %}Poslao Bilten za {{ brand.organizerName }}.{% else %}Poslao Bilten.{% endif %}',
    unsubscribe: 'Odjavite se s ovih e-mailova',
  },
};

const LIQUID_MARKUP = /(\{\{[\s\S]*?\}\}|\{%[\s\S]*?%\})/;

/** A string's literal text HTML-escaped, its Liquid markup untouched (its output the HTML instance escapes). */
export const escapeLiteral = (source: string) =>
  source
    .split(LIQUID_MARKUP)
    .map((part, index) => (index % 2 === 1 ? part : escapeHtml(part)))
    .join('');

/** What one kind in one language puts into the layout: Liquid sources, the strings still plain text. */
export interface LayoutParts {
  string(key: string): string;
  blocks: Block[];
  action?: { label: string; url: string };
}

const PARAGRAPH = 'style="margin: 0 0 12px"';

function blockHtml(block: Block, string: (key: string) => string): string {
  if ('text' in block) return `<p ${PARAGRAPH}>${escapeLiteral(string(block.text))}</p>`;
  // The filter escapes each paragraph itself, so its HTML must not be escaped again.
  if ('paragraphs' in block) return `{{ ${block.paragraphs} | paragraphs | raw }}`;
  const { items, label, url } = block.links;
  return `<ul ${PARAGRAPH}>{% for item in ${items} %}<li><a href="${url}" style="color: {{ brand.accentColor }}">${escapeLiteral(string(label))}</a></li>{% endfor %}</ul>`;
}

function blockText(block: Block, string: (key: string) => string): string {
  if ('text' in block) return string(block.text);
  if ('paragraphs' in block) return `{{ ${block.paragraphs} }}`;
  const { items, label, url } = block.links;
  return `{% for item in ${items} %}${string(label)}:\n${url}\n{% endfor %}`;
}

/** The email's MJML in `lang` (the `<html lang>` screen readers and spam filters read). */
export function layoutMjml({ string, blocks, action }: LayoutParts, lang: string): string {
  const button = action
    ? `<mj-button href="${action.url}" background-color="{{ brand.primaryColor }}" color="#FFFFFF" border-radius="6px" font-size="15px" align="left">${escapeLiteral(string(action.label))}</mj-button>
      <mj-text font-size="12px" color="#6B7280">${escapeLiteral(string('paste'))} <a href="${action.url}" style="color: {{ brand.accentColor }}; word-break: break-all">${action.url}</a></mj-text>`
    : '';
  return `<mjml lang="${lang}">
  <mj-head>
    <mj-title>${escapeLiteral(string('subject'))}</mj-title>
    <mj-attributes>
      <mj-all font-family="{{ brand.fontFamily }}" />
      <mj-text font-size="15px" line-height="1.5" color="{{ brand.textColor }}" />
    </mj-attributes>
  </mj-head>
  <mj-body background-color="#F3F4F6">
    <mj-raw>{% if brand.emailHeaderUrl %}</mj-raw>
    <mj-section padding="0">
      <mj-column>
        <mj-image src="{{ brand.emailHeaderUrl }}" alt="{{ brand.name }}" width="600px" padding="0" />
      </mj-column>
    </mj-section>
    <mj-raw>{% else %}</mj-raw>
    <mj-section background-color="{{ brand.primaryColor }}" padding="16px 24px">
      <mj-column>
        <mj-text color="#FFFFFF" font-size="18px" font-weight="bold">{% if brand.logoUrl %}<img src="{{ brand.logoUrl }}" alt="{{ brand.name }}" height="40" style="height: 40px; border: 0; display: block">{% else %}{{ brand.name }}{% endif %}</mj-text>
      </mj-column>
    </mj-section>
    <mj-raw>{% endif %}</mj-raw>
    <mj-section background-color="{{ brand.backgroundColor }}" border-top="4px solid {{ brand.accentColor }}" padding="24px">
      <mj-column>
        <mj-text font-size="22px" font-weight="bold">${escapeLiteral(string('heading'))}</mj-text>
        <mj-text><p ${PARAGRAPH}>${escapeLiteral(string('greeting'))}</p>${blocks.map((block) => blockHtml(block, string)).join('')}</mj-text>
        ${button}
      </mj-column>
    </mj-section>
    <mj-section padding="16px 24px">
      <mj-column>
        <mj-text font-size="12px" color="#6B7280">{% if brand.footerHtml %}<p style="margin: 0 0 8px">{{ brand.footerHtml | raw }}</p>{% endif %}${escapeLiteral(string('sentBy'))}{% if unsubscribeUrl %}<br><a href="{{ unsubscribeUrl }}" style="color: #6B7280">${escapeLiteral(string('unsubscribe'))}</a>{% endif %}</mj-text>
      </mj-column>
    </mj-section>
  </mj-body>
</mjml>`;
}

/** The text part: the same strings, paragraphs separated by blank lines, links written out. */
export function layoutText({ string, blocks, action }: LayoutParts): string {
  return [
    string('greeting'),
    ...blocks.map((block) => blockText(block, string)),
    ...(action ? [`${string(action.label)}:\n${action.url}`] : []),
    '{% if brand.footerText %}{{ brand.footerText }}{% endif %}',
    string('sentBy'),
    `{% if unsubscribeUrl %}${string('unsubscribe')}:\n{{ unsubscribeUrl }}{% endif %}`,
  ].join('\n\n');
}
