import type PDFDocument from 'pdfkit';
import {
  type BrandContextTable,
  type BrandedContext,
  type BrandImages,
  brandContextOf,
  brandLinkBase,
} from './brand-contexts.ts';
import type { Database } from './db.ts';

// The organization's brand on the PDFs Bilten prints for it (orders' tickets, billing's receipts):
// its colours, logo and font, its domain's links, and the facts a test or an auditor reads back
// from the document's info dictionary without parsing its drawing.

type Doc = InstanceType<typeof PDFDocument>;

/** What one document is rendered with: the context as last heard, its logo's bytes if they could be had. */
export interface PdfBrand {
  context: BrandedContext;
  /** The document logo's bytes, checked against `context.logo.sha256`; null: drawn without a logo. */
  logo: Buffer | null;
  /** Where the organization's links point (brandLinkBase): its active domain, else `fallbackLinkBase`. */
  linkBase: string;
}

/**
 * The organization's brand for the next document: read from the service's copy every time (a
 * change reaches the next render), its logo from the content-addressed image cache. A logo that
 * cannot be fetched or does not match its hash leaves the document without one; it never fails it.
 */
export async function pdfBrandOf(
  db: Database,
  table: BrandContextTable,
  organizationId: string,
  { images, fallbackLinkBase }: { images: BrandImages; fallbackLinkBase: string },
): Promise<PdfBrand> {
  const context = await brandContextOf(db, table, organizationId);
  const logo = context.logo ? await images.fetch(context.logo.sha256) : null;
  return { context, logo, linkBase: brandLinkBase(context, fallbackLinkBase) };
}

const HEX = /^#[0-9A-Fa-f]{6}$/;
/** A colour that reaches a drawing or a stylesheet only as `#RRGGBB`: anything else is the fallback. */
export const checkedColor = (value: unknown, fallback: string) =>
  typeof value === 'string' && HEX.test(value) ? value.toUpperCase() : fallback;

/** The standard PDF fonts a brand font maps to: serif families print in Times, the rest in Helvetica. */
export function pdfFontsOf(fontFamily: string): { regular: string; bold: string } {
  const serif = /SERIF|GEORGIA|MERRIWEATHER|TIMES|GARAMOND/i.test(fontFamily) && !/SANS/i.test(fontFamily);
  return serif
    ? { regular: 'Times-Roman', bold: 'Times-Bold' }
    : { regular: 'Helvetica', bold: 'Helvetica-Bold' };
}

/**
 * `brand-version:<n> brand-primary:<#hex> brand-logo:<sha256|none> brand-domain:<host|none>`:
 * what a document or page was rendered with, in the PDF's Keywords and the QR page's
 * `<meta name="bilten-brand">`. `logo` is the hash of the logo actually shown (none when it could
 * not be had), so the facts never claim an image the document lacks.
 */
export function brandFacts(context: BrandedContext, logo: string | null): string {
  const domain = context.domain && /^[a-z0-9.-]+$/i.test(context.domain) ? context.domain : 'none';
  return [
    `brand-version:${context.version}`,
    `brand-primary:${checkedColor(context.primaryColor, '#1F2937')}`,
    `brand-logo:${logo ?? 'none'}`,
    `brand-domain:${domain}`,
  ].join(' ');
}

/** Sets the document's Keywords to the facts of what it shows; call once the logo is drawn, or not. */
export function setBrandKeywords(doc: Doc, brand: PdfBrand, logoShown: boolean) {
  doc.info.Keywords = brandFacts(brand.context, logoShown ? (brand.context.logo?.sha256 ?? null) : null);
}

/** The colours a document draws with, each checked. */
export function pdfColorsOf(context: BrandedContext) {
  return {
    primary: checkedColor(context.primaryColor, '#1F2937'),
    accent: checkedColor(context.accentColor, '#2563EB'),
    background: checkedColor(context.backgroundColor, '#FFFFFF'),
    text: checkedColor(context.textColor, '#111827'),
  };
}

/**
 * A filled rectangle drawn as a closed path, not `re`: the ticket's QR modules are the page's only
 * rectangles, so what reads the code back from the drawing finds nothing else.
 */
export function fillBox(doc: Doc, x: number, y: number, width: number, height: number, color: string) {
  doc
    .save()
    .polygon([x, y], [x + width, y], [x + width, y + height], [x, y + height])
    .fill(color)
    .restore();
}

/** The page's background colour, under everything else (skipped for white, the paper's own). */
export function paintBackground(doc: Doc, context: BrandedContext) {
  const { background } = pdfColorsOf(context);
  if (background !== '#FFFFFF') fillBox(doc, 0, 0, doc.page.width, doc.page.height, background);
}

/**
 * The logo fitted into a `width` × `height` box at (x, y), right-aligned; false when there is no
 * logo or its bytes are no image pdfkit reads (the document goes on without it).
 */
export function drawLogo(doc: Doc, brand: PdfBrand, x: number, y: number, width: number, height: number) {
  if (!brand.logo) return false;
  try {
    doc.image(brand.logo, x, y, { fit: [width, height], align: 'right', valign: 'center' });
    return true;
  } catch {
    return false;
  }
}
