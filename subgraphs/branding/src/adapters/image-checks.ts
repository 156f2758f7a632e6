import createDOMPurify from 'dompurify';
import { fileTypeFromBuffer } from 'file-type';
import { JSDOM } from 'jsdom';
import sharp from 'sharp';
import type { SvgSanitizeResult, VariantSpec } from '../domain/asset-images.ts';

/*
 * The image libraries, behind the few calls the asset rules need: file-type (what the bytes are),
 * sharp (header dimensions without decoding; re-encoding) and DOMPurify on jsdom (SVG).
 */

/** The type the bytes' magic numbers say (file-type 21), or undefined when it knows none. */
export async function sniffType(bytes: Buffer): Promise<{ mime: string; ext: string } | undefined> {
  return fileTypeFromBuffer(bytes);
}

/** Width and height as the header declares them: sharp reads the header only, decoding nothing. */
export async function declaredSize(bytes: Buffer): Promise<{ width: number; height: number } | undefined> {
  try {
    const { width, height } = await sharp(bytes, { limitInputPixels: false }).metadata();
    return width && height ? { width, height } : undefined;
  } catch {
    return undefined;
  }
}

export interface RenderedVariant {
  bytes: Buffer;
  contentType: 'image/png' | 'image/jpeg';
  width: number;
  height: number;
}

/**
 * Decodes and re-encodes one variant: EXIF orientation applied (`rotate()`), resized, no metadata
 * kept (sharp drops EXIF, XMP and ICC unless told otherwise; pixels are converted to sRGB). An SVG
 * source is rendered at the density that gives the variant's width. `maxPixels` caps decoding
 * whatever the header said. Throws on a corrupt image.
 */
export async function renderVariant(
  source: Buffer,
  spec: VariantSpec,
  options: { maxPixels: number; svgWidth?: number; format: 'png' | 'jpeg' },
): Promise<RenderedVariant> {
  const density = options.svgWidth
    ? Math.min(Math.max((72 * spec.width) / options.svgWidth, 1), 2400)
    : undefined;
  let image = sharp(source, {
    limitInputPixels: options.maxPixels,
    failOn: 'error',
    ...(density ? { density } : {}),
  }).rotate();
  image = spec.square
    ? image.resize({
        width: spec.width,
        height: spec.width,
        fit: 'contain',
        background: { r: 0, g: 0, b: 0, alpha: 0 },
      })
    : image.resize({ width: spec.width, withoutEnlargement: !density });
  const { format } = options;
  const output =
    format === 'png'
      ? image.png({ compressionLevel: 9, adaptiveFiltering: true })
      : image.flatten({ background: '#ffffff' }).jpeg({ quality: 85, mozjpeg: true });
  const { data, info } = await output.toBuffer({ resolveWithObject: true });
  return {
    bytes: data,
    contentType: format === 'png' ? 'image/png' : 'image/jpeg',
    width: info.width,
    height: info.height,
  };
}

/** Whether every pixel is opaque (decodes the image, within `maxPixels`). */
export async function isOpaque(source: Buffer, options: { maxPixels: number }): Promise<boolean> {
  const { isOpaque } = await sharp(source, { limitInputPixels: options.maxPixels, failOn: 'error' }).stats();
  return isOpaque;
}

/** The little of jsdom used here (its types are not installed: they would pull in the DOM lib). */
interface SanitizedNode {
  nodeName: string;
  getAttribute(name: string): string | null;
  hasAttribute(name: string): boolean;
}

const purifier = createDOMPurify(new JSDOM('').window as never);
/** Elements DOMPurify reports as removed while wrapping a fragment: parsing artefacts, not content. */
const WRAPPERS = new Set(['html', 'head', 'body']);
// The HTML parser (DOMPurify's default and best-trodden path) fixes SVG's camelCase names
// (viewBox, linearGradient), which its XHTML mode refuses. `<use>` is allowed: the hook below
// refuses any reference that is not to the file itself.
const SVG_CONFIG = { USE_PROFILES: { svg: true, svgFilters: true }, ADD_TAGS: ['use'] } as const;

/**
 * DOMPurify's SVG profile over `svg` (from its root element on). `removed` names what it took out
 * (scripts, `on*` handlers, foreignObject, `javascript:` links) and what it would have let through
 * but we do not: references to anything outside the file (`href` not `#…`, `url(…)` not `#…`,
 * `@import`), which a renderer would fetch.
 */
export function sanitizeSvg(svg: string): SvgSanitizeResult {
  const removed: string[] = [];
  purifier.addHook('afterSanitizeAttributes', (node) => {
    const element = node as unknown as SanitizedNode;
    for (const name of ['href', 'xlink:href']) {
      const value = element.hasAttribute?.(name) ? element.getAttribute(name)?.trim() : undefined;
      if (value !== undefined && value !== null && !value.startsWith('#'))
        removed.push(`an external reference (${name}="${value.slice(0, 60)}" on <${element.nodeName}>)`);
    }
  });
  let clean: string;
  try {
    // The HTML serializer writes U+00A0 as `&nbsp;`, which XML does not know.
    clean = String(purifier.sanitize(svg, SVG_CONFIG as never)).replaceAll('&nbsp;', '&#160;');
  } finally {
    purifier.removeHook('afterSanitizeAttributes');
  }
  for (const item of purifier.removed as Array<{
    element?: { nodeName: string };
    attribute?: { name: string; value: string };
    from?: { nodeName: string };
  }>) {
    if (item.attribute)
      removed.push(
        item.attribute.name.toLowerCase().startsWith('on')
          ? `an event handler (${item.attribute.name} on <${item.from?.nodeName}>)`
          : `the attribute ${item.attribute.name}="${item.attribute.value.slice(0, 60)}" on <${item.from?.nodeName}>`,
      );
    else if (item.element && !WRAPPERS.has(item.element.nodeName.toLowerCase()))
      removed.push(`<${item.element.nodeName}>`);
  }
  if (!clean.trim()) removed.push('nothing DOMPurify could keep (not well-formed XML?)');
  const url = /url\(\s*['"]?\s*(?!#)([^)'"]{0,60})/i.exec(clean);
  if (url) removed.push(`an external reference (url(${url[1]}))`);
  if (/@import/i.test(clean)) removed.push('a stylesheet import (@import)');
  return { clean, removed };
}
