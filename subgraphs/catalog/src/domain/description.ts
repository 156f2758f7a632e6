import { Marked, Tokenizer, type TokenizerObject } from 'marked';
import sanitizeHtml from 'sanitize-html';

/** Rendered HTML may be at most this large; the markdown source is bounded before rendering. */
export const MAX_DESCRIPTION_HTML_BYTES = 50 * 1024;
export const MAX_DESCRIPTION_SOURCE_CHARS = 100_000;
/**
 * Longest run of printable ASCII without a space. PostgreSQL's text-search parser, which builds
 * the search vector from the description, reads such a run again from nearly every position
 * (`a_a_a…`: 20 000 characters cost seconds); runs this short cost it little.
 */
export const MAX_DESCRIPTION_WORD_CHARS = 256;
/**
 * Most characters between two blank lines. Much of marked's work on a paragraph grows with the
 * square of its length (it masks escapes and links, and reads the paragraph again for each line
 * that continues a list item or quote): 100 000 characters in one paragraph cost seconds.
 */
export const MAX_DESCRIPTION_BLOCK_CHARS = 10_000;
/** Quotes, lists and emphasis nested deeper than this are refused; marked's recursion overflows near 1000. */
export const MAX_DESCRIPTION_NESTING = 20;
/** A table cell renders to at least `<td></td>`: this many already fill 50 KB. */
const MAX_TABLE_CELLS = 5_000;
/**
 * Characters marked may scan for the closing `*`, `_`, `~` of emphasis or backticks of code: it
 * scans the rest of the paragraph from every opening one, so the work grows with the square of
 * its length. This much takes ~50 ms.
 */
const MAX_DELIMITER_SCAN_CHARS = 2_000_000;

/** Why marked stopped: markdown whose rendering would cost more than any description needs. */
class TooComplex extends Error {
  constructor(readonly reason: string) {
    super(reason);
  }
}

// What the parse under way has spent; parsing is synchronous, so one parse at a time.
let spent = { depth: 0, scanned: 0 };

function nested<T>(parse: () => T): T {
  if (++spent.depth > MAX_DESCRIPTION_NESTING) {
    throw new TooComplex(
      `must not nest quotes, lists or emphasis more than ${MAX_DESCRIPTION_NESTING} levels deep`,
    );
  }
  try {
    return parse();
  } finally {
    spent.depth--;
  }
}

function scanning(characters: number) {
  spent.scanned += characters;
  if (spent.scanned > MAX_DELIMITER_SCAN_CHARS) {
    throw new TooComplex('has too many unclosed *, _, ~ or ` in one paragraph to render');
  }
}

/** marked's own tokenizers, each within the bounds above. */
const bounded: TokenizerObject = {
  blockquote(src) {
    return nested(() => Tokenizer.prototype.blockquote.call(this, src));
  },
  list(src) {
    return nested(() => Tokenizer.prototype.list.call(this, src));
  },
  emStrong(src, maskedSrc, prevChar) {
    if (src[0] === '*' || src[0] === '_') scanning(src.length);
    return nested(() => Tokenizer.prototype.emStrong.call(this, src, maskedSrc, prevChar));
  },
  codespan(src) {
    if (src[0] === '`') scanning(src.length);
    return Tokenizer.prototype.codespan.call(this, src);
  },
  del(src, maskedSrc, prevChar) {
    if (src[0] === '~') scanning(src.length);
    return nested(() => Tokenizer.prototype.del.call(this, src, maskedSrc, prevChar));
  },
  table(src) {
    // marked pads every row to the header's width before anything else: 2 000 columns over
    // 2 000 one-character rows are 12 KB of markdown and 40 MB of HTML.
    const table = this.rules.block.table.exec(src);
    const cells = table ? table[2]!.split('|').length * (table[0].split('\n').length - 1) : 0;
    if (cells > MAX_TABLE_CELLS) throw new TooComplex(`tables must have at most ${MAX_TABLE_CELLS} cells`);
    return Tokenizer.prototype.table.call(this, src);
  },
};

// One parser of our own, so no other code's `marked.use` changes what is accepted here.
const markdown = new Marked({ gfm: true, breaks: false, async: false, tokenizer: bounded });

function longestAsciiRun(text: string): number {
  let longest = 0;
  let run = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    run = code > 0x20 && code < 0x7f ? run + 1 : 0;
    if (run > longest) longest = run;
  }
  return longest;
}

/**
 * What makes `source` cost more to render and store than any description needs, checked before
 * anything parses it: PostgreSQL's text-search parser reads from every `<!--` to the next `-->`
 * (24 000 of them took 11 s) and re-reads long runs without spaces; marked, see the limits above.
 */
function costlySource(source: string): string | undefined {
  if (source.includes('<!--')) return 'must not contain HTML comments (<!--), which customers would not see';
  if (longestAsciiRun(source) > MAX_DESCRIPTION_WORD_CHARS) {
    return `must not contain words or links longer than ${MAX_DESCRIPTION_WORD_CHARS} characters`;
  }
  if (source.split(/\n[ \t\r]*\n/).some((block) => block.length > MAX_DESCRIPTION_BLOCK_CHARS)) {
    return `must have a blank line at least every ${MAX_DESCRIPTION_BLOCK_CHARS} characters`;
  }
  return undefined;
}

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
  const costly = costlySource(source);
  if (costly) return { ok: false, message: costly };
  let html: string;
  try {
    spent = { depth: 0, scanned: 0 };
    html = markdown.parse(source, { async: false });
  } catch (err) {
    if (err instanceof TooComplex) return { ok: false, message: err.reason };
    throw err;
  }
  const tooLarge = { ok: false, message: 'must be at most 50 KB once rendered' } as const;
  // The sanitizer shrinks entities (`&ZeroWidthSpace;`) at most elevenfold: HTML 16 times the
  // limit could never come under it, and is not worth reading.
  if (html.length > 16 * MAX_DESCRIPTION_HTML_BYTES) return tooLarge;
  const descriptionHtml = sanitizeHtml(html, LINKS_OPEN_SAFELY).trim();
  if (Buffer.byteLength(descriptionHtml) > MAX_DESCRIPTION_HTML_BYTES) return tooLarge;
  if (sanitizeHtml(html, SAFE) !== sanitizeHtml(html, KEEP_ALL)) {
    return {
      ok: false,
      message:
        'must not contain scripts, event handlers, styles, embedded content or links other than http, https and mailto',
    };
  }
  return { ok: true, description: source, descriptionHtml };
}
