import type { AssetKind } from '../db/schema.ts';

/*
 * What an uploaded file must be to become a brand asset, as pure rules over its bytes. The
 * adapters (adapters/image-checks.ts) ask file-type, sharp and DOMPurify; these rules decide.
 *
 * The polyglot rule: an upload is one image and nothing else.
 *  1. Its type is what its bytes say (file-type's magic numbers, or an `<svg` root we sniff), never
 *     its name or Content-Type, and must be PNG, JPEG, WebP or SVG.
 *  2. Its container is well-formed to its last byte: the PNG ends with IEND, the JPEG with EOI
 *     after its last scan, the WebP where its RIFF header says. Bytes after that end (an appended
 *     ZIP, PHP or HTML file, which is how most image polyglots are made) refuse the upload.
 *  3. Its metadata segments (PNG text and ancillary chunks, JPEG APPn and COM segments, WebP EXIF
 *     and XMP chunks) may not carry markup, script or archive signatures.
 *  4. Whatever passes is re-encoded by sharp (pixels only, no metadata), so what is stored and
 *     served never holds a byte of the upload's own: a payload that slipped past 2 and 3 is gone.
 */

/** Why an upload is refused, with the HTTP status the upload route answers. */
export class AssetRefusal extends Error {
  constructor(
    readonly status: 400 | 401 | 403 | 404 | 413 | 415 | 422,
    message: string,
  ) {
    super(message);
    this.name = 'AssetRefusal';
  }
}

export type RasterType = 'image/png' | 'image/jpeg' | 'image/webp';
export type AssetContentType = RasterType | 'image/svg+xml';
export const ALLOWED_RASTER_TYPES: readonly string[] = ['image/png', 'image/jpeg', 'image/webp'];

export type VariantFormat = 'png' | 'jpeg' | 'png-or-jpeg';

/** One stored size of an asset. `square`: fitted (transparent margins) into `width` × `width`. */
export interface VariantSpec {
  name: string;
  /** Largest width (never enlarged); for square variants, the side. */
  width: number;
  /** `png-or-jpeg`: PNG when the image has transparency, JPEG otherwise. */
  format: VariantFormat;
  square?: boolean;
}

/**
 * The sizes each kind needs; `original` is the canonical one (its hash names the asset). An SVG's
 * `original` is the sanitized SVG itself; its other variants are rasterized.
 *
 * | kind         | original               | others                                  |
 * |--------------|------------------------|-----------------------------------------|
 * | LOGO         | PNG, ≤ 2048 wide       | w512, w128 (PNG: PDFs and emails)       |
 * | COVER        | JPEG, ≤ 2400 wide      | w1600, w800 (JPEG)                      |
 * | FAVICON      | PNG, 512 × 512 square  | icon180, icon32 (PNG, square)           |
 * | EMAIL_HEADER | PNG or JPEG, ≤ 1200    | email600 (PNG or JPEG, 600 wide)        |
 */
export const ASSET_VARIANTS: Readonly<Record<AssetKind, readonly VariantSpec[]>> = {
  LOGO: [
    { name: 'original', width: 2048, format: 'png' },
    { name: 'w512', width: 512, format: 'png' },
    { name: 'w128', width: 128, format: 'png' },
  ],
  // JPEG, not WebP: PDF renderers (tickets, receipts) and many mail clients read no WebP.
  COVER: [
    { name: 'original', width: 2400, format: 'jpeg' },
    { name: 'w1600', width: 1600, format: 'jpeg' },
    { name: 'w800', width: 800, format: 'jpeg' },
  ],
  FAVICON: [
    { name: 'original', width: 512, format: 'png', square: true },
    { name: 'icon180', width: 180, format: 'png', square: true },
    { name: 'icon32', width: 32, format: 'png', square: true },
  ],
  EMAIL_HEADER: [
    { name: 'original', width: 1200, format: 'png-or-jpeg' },
    { name: 'email600', width: 600, format: 'png-or-jpeg' },
  ],
};

/** A favicon's sides may differ by a quarter at most: it is shown in a square. */
export const FAVICON_MAX_ASPECT = 1.25;

/** Refuses declared dimensions past the pixel limit, before anything is decoded. */
export function checkDimensions(
  kind: AssetKind,
  size: { width: number; height: number },
  maxPixels: number,
): void {
  const { width, height } = size;
  if (!(width > 0 && height > 0)) throw new AssetRefusal(422, 'the image declares no width or height');
  if (width * height > maxPixels) {
    throw new AssetRefusal(
      422,
      `the image declares ${width}×${height} = ${width * height} pixels, more than the ${maxPixels} allowed (a decompression bomb?)`,
    );
  }
  if (kind === 'FAVICON' && Math.max(width, height) / Math.min(width, height) > FAVICON_MAX_ASPECT) {
    throw new AssetRefusal(422, `a favicon must be about square; this image is ${width}×${height}`);
  }
}

// ---------------------------------------------------------------- containers

/** Signatures of markup, scripts and archives that have no business in an image's metadata. */
const PAYLOAD_SIGNATURES: ReadonlyArray<{ what: string; bytes: Buffer }> = [
  ['PHP code', '<?php'],
  ['PHP code', '<?='],
  ['a script', '<script'],
  ['HTML', '<html'],
  ['HTML', '<body'],
  ['HTML', '<iframe'],
  ['HTML', '<!doctype html'],
  ['SVG markup', '<svg'],
  ['a ZIP archive', 'PK\x03\x04'],
  ['a ZIP archive', 'PK\x05\x06'],
  ['a PDF document', '%PDF-'],
].map(([what, text]) => ({ what: what!, bytes: Buffer.from(text!.toLowerCase(), 'latin1') }));

/** What a container walk found: where the image ends and its metadata segments' bytes. */
export interface ContainerLayout {
  end: number;
  metadata: Buffer[];
}

/**
 * Checks the polyglot rule (2 and 3 above) for a raster type: refuses trailing bytes and payload
 * signatures in metadata, and a container that ends early (corrupt).
 */
export function checkSingleImage(type: RasterType, bytes: Buffer): void {
  const label = type.slice('image/'.length).toUpperCase();
  const layout =
    type === 'image/png' ? pngLayout(bytes) : type === 'image/jpeg' ? jpegLayout(bytes) : webpLayout(bytes);
  if (typeof layout === 'string') throw new AssetRefusal(422, `the ${label} file is corrupt: ${layout}`);
  if (layout.end < bytes.length) {
    throw new AssetRefusal(
      422,
      `the file holds ${bytes.length - layout.end} bytes after the end of its ${label} image (another file appended?)`,
    );
  }
  for (const segment of layout.metadata) {
    const lower = Buffer.from(segment.toString('latin1').toLowerCase(), 'latin1');
    const found = PAYLOAD_SIGNATURES.find((signature) => lower.includes(signature.bytes));
    if (found) throw new AssetRefusal(422, `the ${label} image's metadata holds ${found.what}`);
  }
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
/** Chunks holding pixels or how to read them; every other chunk is metadata to the polyglot rule. */
const PNG_IMAGE_CHUNKS = new Set(['IHDR', 'PLTE', 'IDAT', 'IEND', 'tRNS', 'gAMA', 'cHRM', 'sRGB', 'pHYs']);

/** PNG: chunk by chunk (length, type, data, CRC) until IEND. */
export function pngLayout(bytes: Buffer): ContainerLayout | string {
  if (!bytes.subarray(0, 8).equals(PNG_SIGNATURE)) return 'no PNG signature';
  const metadata: Buffer[] = [];
  let offset = 8;
  while (offset + 12 <= bytes.length) {
    const length = bytes.readUInt32BE(offset);
    const type = bytes.toString('latin1', offset + 4, offset + 8);
    const next = offset + 12 + length;
    if (next > bytes.length) return `chunk ${JSON.stringify(type)} runs past the end of the file`;
    if (!PNG_IMAGE_CHUNKS.has(type)) metadata.push(bytes.subarray(offset + 8, offset + 8 + length));
    if (type === 'IEND') return { end: next, metadata };
    offset = next;
  }
  return 'no IEND chunk';
}

/**
 * JPEG: segment by segment from SOI; after each SOS, through the entropy-coded data (where 0xFF is
 * followed by 0x00 stuffing or a restart marker) to the next marker, until EOI.
 */
export function jpegLayout(bytes: Buffer): ContainerLayout | string {
  if (bytes[0] !== 0xff || bytes[1] !== 0xd8) return 'no JPEG start marker';
  const metadata: Buffer[] = [];
  let offset = 2;
  while (offset < bytes.length) {
    if (bytes[offset] !== 0xff) return `no marker at byte ${offset}`;
    while (bytes[offset] === 0xff) offset++; // fill bytes
    const marker = bytes[offset];
    if (marker === undefined) break;
    offset++;
    if (marker === 0xd9) return { end: offset, metadata };
    if ((marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) continue;
    if (offset + 2 > bytes.length) break;
    const length = bytes.readUInt16BE(offset);
    if (length < 2 || offset + length > bytes.length)
      return `segment 0x${marker.toString(16)} runs past the end`;
    if ((marker >= 0xe0 && marker <= 0xef) || marker === 0xfe)
      metadata.push(bytes.subarray(offset + 2, offset + length));
    offset += length;
    if (marker === 0xda) offset = endOfScan(bytes, offset);
  }
  return 'no end-of-image marker (the file is cut short)';
}

function endOfScan(bytes: Buffer, from: number): number {
  let index = from;
  while (index + 1 < bytes.length) {
    if (bytes[index] === 0xff) {
      const next = bytes[index + 1]!;
      if (next === 0x00 || (next >= 0xd0 && next <= 0xd7)) {
        index += 2;
        continue;
      }
      if (next !== 0xff) return index;
    }
    index++;
  }
  return bytes.length;
}

/** WebP: a RIFF file; its header says how long it is; EXIF, XMP and unknown chunks are metadata. */
export function webpLayout(bytes: Buffer): ContainerLayout | string {
  if (bytes.toString('latin1', 0, 4) !== 'RIFF' || bytes.toString('latin1', 8, 12) !== 'WEBP')
    return 'no RIFF/WEBP header';
  const size = bytes.readUInt32LE(4);
  const end = 8 + size + (size % 2);
  if (end > bytes.length) return 'the RIFF header claims more bytes than the file has';
  const metadata: Buffer[] = [];
  let offset = 12;
  while (offset + 8 <= end) {
    const type = bytes.toString('latin1', offset, offset + 4);
    const length = bytes.readUInt32LE(offset + 4);
    const next = offset + 8 + length + (length % 2);
    if (next > end) return `chunk ${JSON.stringify(type)} runs past the RIFF end`;
    if (!['VP8 ', 'VP8L', 'VP8X', 'ALPH', 'ANIM', 'ANMF'].includes(type))
      metadata.push(bytes.subarray(offset + 8, offset + 8 + length));
    offset = next;
  }
  return { end, metadata };
}

// ---------------------------------------------------------------- SVG

/**
 * Whether the bytes are an SVG document (file-type does not detect SVG): UTF-8 text whose root
 * element, after an optional BOM, XML declaration, comments and white space, is `<svg`. A DOCTYPE
 * (entities: billion laughs, external entities) is refused outright. Answers the text from the
 * root element on, or null when it is not SVG at all.
 */
export function svgDocument(bytes: Buffer): string | null {
  let text = bytes.toString('utf8');
  if (text.includes('\uFFFD')) return null; // not UTF-8 text
  text = text.replace(/^\uFEFF/, '');
  const prolog = /^\s*(?:<\?xml[^>]*\?>\s*|<!--[\s\S]*?-->\s*)*/.exec(text)![0];
  const rest = text.slice(prolog.length);
  if (/^<!DOCTYPE/i.test(rest)) {
    if (/^<!DOCTYPE\s+svg/i.test(rest))
      throw new AssetRefusal(422, 'unsafe SVG: a DOCTYPE (entities) is not allowed; remove it');
    return null;
  }
  return /^<svg[\s>/]/.test(rest) ? rest : null;
}

/** What the sanitizer reported; `removed` names each element or attribute it took out. */
export interface SvgSanitizeResult {
  clean: string;
  removed: string[];
}

/** Refuses an SVG the sanitizer had to change, naming what it removed; answers the sanitized text. */
export function checkSanitizedSvg(result: SvgSanitizeResult): string {
  if (result.removed.length) {
    const named = [...new Set(result.removed)].slice(0, 10).join(', ');
    throw new AssetRefusal(422, `unsafe SVG: it holds ${named}; upload it without them`);
  }
  return result.clean;
}
