import { inflateSync } from 'node:zlib';

/** Windows-1252's letters at 0x80–0x9F (€, ‚, „, …, –, —, ™, …), where Latin-1 has controls. */
const WIN_ANSI_0X80 =
  '\u20ac\ufffd\u201a\u0192\u201e\u2026\u2020\u2021\u02c6\u2030\u0160\u2039\u0152\ufffd\u017d\ufffd\ufffd\u2018\u2019\u201c\u201d\u2022\u2013\u2014\u02dc\u2122\u0161\u203a\u0153\ufffd\u017e\u0178';

/** Node's TextDecoder reads "windows-1252" as Latin-1 without full ICU: the difference, by hand. */
const fromWinAnsi = (bytes: Buffer) =>
  bytes.toString('latin1').replace(/[\x80-\x9f]/g, (char) => WIN_ANSI_0X80[char.charCodeAt(0) - 0x80]!);

/**
 * The lines of text a PDF written by pdfkit with its standard fonts shows, in drawing order: each
 * content stream inflated when compressed, each `[<hex> kerning <hex> …] TJ` its pieces joined and
 * decoded as WinAnsi (Windows-1252, so "€" reads as "€"). Enough to read our own receipts and
 * tickets back; not a general PDF parser.
 */
export function pdfText(pdf: Buffer): string[] {
  const contents: string[] = [];
  const source = pdf.toString('latin1');
  for (const match of source.matchAll(/\bobj\s*<<((?:(?!endobj)[\s\S])*?)>>\s*stream\r?\n/g)) {
    const start = match.index + match[0].length;
    const end = source.indexOf('endstream', start);
    const bytes = pdf.subarray(start, end);
    contents.push((match[1]!.includes('/FlateDecode') ? inflateSync(bytes) : bytes).toString('latin1'));
  }
  return contents.flatMap((content) =>
    [...content.matchAll(/^\[(.*)\] TJ$/gm)].map((line) =>
      [...line[1]!.matchAll(/<([0-9a-f]*)>/g)]
        .map((piece) => fromWinAnsi(Buffer.from(piece[1]!, 'hex')))
        .join(''),
    ),
  );
}

/**
 * The document's info dictionary (Title, Keywords, …) as pdfkit writes it: each entry an indirect
 * object holding a literal string. Brand facts live in Keywords (`brand-version:3 brand-primary:#…`).
 */
export function pdfInfo(pdf: Buffer): Record<string, string> {
  const source = pdf.toString('latin1');
  const info: Record<string, string> = {};
  for (const match of source.matchAll(/\/(Title|Subject|Keywords|Creator|Producer|Author) (\d+) 0 R/g)) {
    const value = new RegExp(`(?:^|\\n)${match[2]} 0 obj\\s*\\(((?:\\\\.|[^\\\\)])*)\\)\\s*endobj`).exec(
      source,
    );
    if (value) info[match[1]!] = value[1]!.replace(/\\(.)/g, '$1');
  }
  return info;
}

/** The brand facts of a document's Keywords: `{ 'brand-primary': '#7C3AED', 'brand-logo': 'none', … }`. */
export function pdfBrandFacts(pdf: Buffer): Record<string, string> {
  const keywords = pdfInfo(pdf).Keywords ?? '';
  return Object.fromEntries(
    keywords
      .split(' ')
      .filter((fact) => fact.startsWith('brand-'))
      .map((fact) => [fact.slice(0, fact.indexOf(':')), fact.slice(fact.indexOf(':') + 1)]),
  );
}

/** The fill colours a page draws with (`r g b scn`), as upper-case `#RRGGBB`. */
export function pdfFillColors(pdf: Buffer): Set<string> {
  const source = pdf.toString('latin1');
  const colors = new Set<string>();
  for (const match of source.matchAll(/\bobj\s*<<((?:(?!endobj)[\s\S])*?)>>\s*stream\r?\n/g)) {
    if (match[1]!.includes('/Subtype /Image')) continue;
    const start = match.index + match[0].length;
    const bytes = pdf.subarray(start, source.indexOf('endstream', start));
    const content = (match[1]!.includes('/FlateDecode') ? inflateSync(bytes) : bytes).toString('latin1');
    for (const color of content.matchAll(/^([\d.]+) ([\d.]+) ([\d.]+) scn$/gm))
      colors.add(
        `#${color
          .slice(1, 4)
          .map((value) =>
            Math.round(Number(value) * 255)
              .toString(16)
              .padStart(2, '0'),
          )
          .join('')
          .toUpperCase()}`,
      );
  }
  return colors;
}
