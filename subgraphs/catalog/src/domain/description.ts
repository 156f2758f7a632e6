import { Marked } from 'marked';
import sanitizeHtml from 'sanitize-html';

/** Rendered HTML may be at most this large; the markdown source is bounded before rendering. */
export const MAX_DESCRIPTION_HTML_BYTES = 50 * 1024;
export const MAX_DESCRIPTION_SOURCE_CHARS = 100_000;

// One parser of our own, so no other code's `marked.use` changes what is accepted here.
const markdown = new Marked({ gfm: true, breaks: false, async: false });

/** What an event description may render to: text formatting, lists, tables, links. No images (assets go through branding), no styles, no forms. */
const SAFE: sanitizeHtml.IOptions = {
  allowedTags: [
    'p',
    'br',
    'hr',
    'h1',
    'h2',
    'h3',
    'h4',
    'h5',
    'h6',
    'strong',
    'b',
    'em',
    'i',
    'u',
    's',
    'del',
    'code',
    'pre',
    'blockquote',
    'ul',
    'ol',
    'li',
    'a',
    'table',
    'thead',
    'tbody',
    'tr',
    'th',
    'td',
    'input',
  ],
  allowedAttributes: {
    a: ['href', 'title', 'rel', 'target'],
    ol: ['start'],
    th: ['align'],
    td: ['align'],
    // GFM task lists render as disabled checkboxes.
    input: [{ name: 'type', values: ['checkbox'] }, 'checked', 'disabled'],
  },
  allowedSchemes: ['http', 'https', 'mailto'],
  allowProtocolRelative: false,
};

// Everything kept, only re-serialized the same way: what differs from the SAFE result was removed.
const KEEP_ALL: sanitizeHtml.IOptions = {
  allowedTags: false,
  allowedAttributes: false,
  allowVulnerableTags: true,
  allowedSchemesAppliedToAttributes: [],
};

const LINKS_OPEN_SAFELY: sanitizeHtml.IOptions = {
  ...SAFE,
  transformTags: {
    a: sanitizeHtml.simpleTransform('a', { rel: 'nofollow noopener noreferrer', target: '_blank' }),
  },
};

export type DescriptionResult =
  | { ok: true; description: string; descriptionHtml: string }
  | { ok: false; message: string };

/**
 * Renders the organizer's markdown to HTML and sanitizes it. Markdown that would need the
 * sanitizer to remove anything (a script, an event handler, a javascript: or data: link, a style,
 * an iframe...) is refused rather than silently changed, so what the organizer sees in the
 * editor is what customers get, and nothing unsafe is ever stored.
 */
export function renderDescription(source: string): DescriptionResult {
  const html = markdown.parse(source, { async: false });
  if (sanitizeHtml(html, SAFE) !== sanitizeHtml(html, KEEP_ALL)) {
    return {
      ok: false,
      message:
        'must not contain scripts, event handlers, styles, embedded content or links other than http, https and mailto',
    };
  }
  const descriptionHtml = sanitizeHtml(html, LINKS_OPEN_SAFELY).trim();
  if (Buffer.byteLength(descriptionHtml) > MAX_DESCRIPTION_HTML_BYTES) {
    return { ok: false, message: 'must be at most 50 KB once rendered' };
  }
  return { ok: true, description: source, descriptionHtml };
}
