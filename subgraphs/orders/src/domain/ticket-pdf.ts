import {
  defaultBrandedContext,
  drawLogo,
  fillBox,
  type PdfBrand,
  paintBackground,
  pdfBytes,
  pdfColorsOf,
  pdfFontsOf,
  printable,
  setBrandKeywords,
  type Viewer,
} from '@bilten/platform';
import PDFDocument from 'pdfkit';
import QRCode from 'qrcode';
import type { TicketFileRow } from '../db/tickets.ts';

// `GET /tickets/{id}.pdf`: one A4 page to print or show at the door, its QR code drawn as vector
// squares from the same matrix `Ticket.qrCode` renders, so it scans sharp at any zoom.

const ZERO_UUID = '00000000-0000-0000-0000-000000000000';

/** What a ticket's page prints. */
export interface TicketSheet {
  ticketId: string;
  eventTitle: string;
  startsAt: Date | null;
  timezone: string | null;
  ticketTypeName: string;
  attendeeName: string;
  /** The signed payload the QR code carries (`Ticket.signedPayload`). */
  payload: string;
}

/** `attendeeName`: opened from the ticket's sealed column (db/person-data.ts). */
export const sheetOf = (file: TicketFileRow, attendeeName: string): TicketSheet => ({
  ticketId: file.ticket.id,
  eventTitle: file.eventTitle ?? 'Event',
  startsAt: file.startsAt,
  timezone: file.timezone,
  ticketTypeName: file.ticketTypeName ?? 'Admission',
  attendeeName,
  payload: file.ticket.signedPayload,
});

/**
 * Who opens a ticket's file: whoever has its link token (the mail's link), its order's buyer
 * (unless it was transferred to someone else: `holderEmailIndex` set, so its new code is the
 * recipient's alone), the organization's members (STAFF and up) and platform ADMINs. Access tokens
 * carry no email, so a transfer's recipient opens it by the link mailed to them. Anyone else finds
 * nothing, as for an unknown id; a VOID or TRANSFERRED ticket is gone for those who may see it.
 */
export function ticketFileAccess(
  viewer: Viewer,
  file: TicketFileRow,
  hasLink: boolean,
): 'open' | 'gone' | 'none' {
  const { ticket } = file;
  const allowed =
    hasLink ||
    (viewer.kind === 'user' &&
      ((viewer.userId === file.buyerId && ticket.holderEmailIndex === null) ||
        viewer.organizations[ticket.organizationId] !== undefined ||
        viewer.roles.includes('ADMIN')));
  if (!allowed) return 'none';
  return ticket.status === 'VOID' || ticket.status === 'TRANSFERRED' ? 'gone' : 'open';
}

/** The QR code's dark modules, row by row, as QRCode renders `Ticket.qrCode` (error correction M). */
export function qrMatrix(payload: string): boolean[][] {
  const { modules } = QRCode.create(payload, { errorCorrectionLevel: 'M' });
  return Array.from({ length: modules.size }, (_, row) =>
    Array.from({ length: modules.size }, (_, column) => Boolean(modules.get(row, column))),
  );
}

/** Draws the payload's QR code as filled squares in a `size` × `size` box at (x, y). */
export function drawQrCode(doc: PDFKit.PDFDocument, payload: string, x: number, y: number, size: number) {
  const matrix = qrMatrix(payload);
  const module = size / matrix.length;
  doc.save();
  for (const [row, cells] of matrix.entries()) {
    for (const [column, dark] of cells.entries()) {
      if (dark) doc.rect(x + column * module, y + row * module, module, module);
    }
  }
  doc.fill('#000000').restore();
}

/** When the event starts, in its own time zone: the PDF's and the QR page's date line. */
export function ticketWhen(sheet: TicketSheet): string | null {
  if (!sheet.startsAt) return null;
  const format = (timeZone: string) =>
    new Intl.DateTimeFormat('en-GB', { dateStyle: 'full', timeStyle: 'short', timeZone }).format(
      sheet.startsAt!,
    );
  try {
    return `${format(sheet.timezone ?? 'UTC')} (${sheet.timezone ?? 'UTC'})`;
  } catch {
    return `${format('UTC')} (UTC)`; // a zone this Node does not know
  }
}

/** Each layout's page and where its parts go (CLASSIC as before issue 17; COMPACT: half an A4 sheet). */
const LAYOUTS = {
  CLASSIC: {
    size: 'A4',
    layout: 'portrait',
    margin: 56,
    band: 14,
    titleSize: 26,
    qrSize: 260,
    qrBeside: false,
  },
  COMPACT: {
    size: 'A5',
    layout: 'landscape',
    margin: 32,
    band: 10,
    titleSize: 20,
    qrSize: 190,
    qrBeside: true,
  },
  POSTER: {
    size: 'A4',
    layout: 'portrait',
    margin: 56,
    band: 200,
    titleSize: 32,
    qrSize: 240,
    qrBeside: false,
  },
} as const;

/**
 * The ticket's page as a PDF, in the organization's brand (`brand`: its colours, logo, font and
 * layout, the link at its domain; Bilten's own look without one). `compress: false` leaves the
 * page's drawing readable (tests). The standard PDF fonts are used, so names print in their
 * Latin-1 (WinAnsi) letters. The Keywords carry the brand facts (brandFacts).
 */
export function renderTicketPdf(
  sheet: TicketSheet,
  { compress = true, brand = null }: { compress?: boolean; brand?: PdfBrand | null } = {},
): Promise<Buffer> {
  const context = brand?.context ?? defaultBrandedContext(ZERO_UUID);
  const look = LAYOUTS[context.ticketLayout] ?? LAYOUTS.CLASSIC;
  const colors = pdfColorsOf(context);
  const fonts = pdfFontsOf(context.fontFamily);
  const doc = new PDFDocument({
    size: look.size,
    layout: look.layout,
    margin: look.margin,
    compress,
    info: { Title: `Ticket ${sheet.ticketId}`, Subject: sheet.eventTitle, Creator: 'Bilten' },
  });
  const done = pdfBytes(doc);
  const left = look.margin;
  const pageWidth = doc.page.width;
  const width = pageWidth - 2 * left;
  paintBackground(doc, context);
  fillBox(doc, 0, 0, pageWidth, look.band, colors.primary);
  // The logo sits in the top right corner (inside the POSTER's band), the title beside it.
  const logoBox = { width: look.qrBeside ? 110 : 140, height: look.qrBeside ? 40 : 52 };
  const poster = context.ticketLayout === 'POSTER';
  const logoTop = poster ? 24 : look.band + 16;
  const logoShown =
    brand !== null &&
    drawLogo(doc, brand, pageWidth - left - logoBox.width, logoTop, logoBox.width, logoBox.height);
  if (brand) setBrandKeywords(doc, brand, logoShown);
  // On the POSTER's band the title and date print in the background colour, over the primary.
  const headingColor = poster ? colors.background : colors.primary;
  const titleTop = poster ? look.band - 120 : look.band + 20;
  const titleWidth = width - (logoShown && !poster ? logoBox.width + 12 : 0);
  const columnWidth = look.qrBeside ? width - look.qrSize - 24 : width;
  doc
    .font(fonts.bold)
    .fontSize(look.titleSize)
    .fillColor(headingColor)
    .text(printable(sheet.eventTitle), left, poster ? titleTop : Math.max(titleTop, doc.y), {
      width: Math.min(titleWidth, columnWidth),
      // At most three lines (two on the POSTER's band): the code below keeps its place on the page.
      height: poster ? 90 : look.titleSize * 3.6,
      ellipsis: true,
    });
  const when = ticketWhen(sheet);
  if (when)
    doc
      .moveDown(0.3)
      .font(fonts.regular)
      .fontSize(look.qrBeside ? 11 : 13)
      .fillColor(poster ? colors.background : colors.text, poster ? 1 : 0.8)
      .text(when, { width: columnWidth });
  if (poster) doc.y = look.band + 24;
  const detailsTop = doc.y + (look.qrBeside ? 12 : 20);
  doc.y = detailsTop;
  for (const [label, value] of [
    ['Ticket', printable(sheet.ticketTypeName)],
    ['Attendee', printable(sheet.attendeeName)],
  ] as const) {
    doc.font(fonts.regular).fontSize(10).fillColor(colors.text, 0.65).text(label.toUpperCase(), left);
    doc
      .font(fonts.bold)
      .fontSize(look.qrBeside ? 14 : 16)
      .fillColor(colors.text, 1)
      .text(value, { width: columnWidth })
      .moveDown(0.6);
  }
  const qrLeft = look.qrBeside ? pageWidth - left - look.qrSize : (pageWidth - look.qrSize) / 2;
  const qrTop = look.qrBeside ? detailsTop : doc.y + 12;
  // A light quiet zone behind the code: scanners need dark on light, whatever the page's colour.
  if (colors.background !== '#FFFFFF')
    fillBox(doc, qrLeft - 12, qrTop - 12, look.qrSize + 24, look.qrSize + 24, '#FFFFFF');
  drawQrCode(doc, sheet.payload, qrLeft, qrTop, look.qrSize);
  const footTop = look.qrBeside ? Math.max(doc.y + 8, qrTop + look.qrSize - 40) : qrTop + look.qrSize + 14;
  const footWidth = look.qrBeside ? columnWidth : width;
  const align = look.qrBeside ? 'left' : 'center';
  doc
    .font('Courier')
    .fontSize(9)
    .fillColor(colors.text, 0.8)
    .text(sheet.ticketId, left, footTop, { width: footWidth, align })
    .font(fonts.regular)
    .text('Show this code at the entrance. Each ticket admits one person once.', { width: footWidth, align });
  if (brand) {
    const link = `${brand.linkBase}/tickets/${sheet.ticketId}`;
    doc
      .moveDown(0.6)
      .font(fonts.regular)
      .fontSize(9)
      .fillColor(colors.accent, 1)
      .text(link, { width: footWidth, align, link });
  }
  doc.end();
  return done;
}
