import { pdfBytes, printable, type Viewer } from '@bilten/platform';
import PDFDocument from 'pdfkit';
import QRCode from 'qrcode';
import type { TicketFileRow } from '../db/tickets.ts';

// `GET /tickets/{id}.pdf`: one A4 page to print or show at the door, its QR code drawn as vector
// squares from the same matrix `Ticket.qrCode` renders, so it scans sharp at any zoom.

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

export const sheetOf = (file: TicketFileRow): TicketSheet => ({
  ticketId: file.ticket.id,
  eventTitle: file.eventTitle ?? 'Event',
  startsAt: file.startsAt,
  timezone: file.timezone,
  ticketTypeName: file.ticketTypeName ?? 'Admission',
  attendeeName: file.ticket.attendeeName,
  payload: file.ticket.signedPayload,
});

/**
 * Who opens a ticket's file: whoever has its link token (the mail's link), its order's buyer
 * (unless it was transferred to someone else: `holderEmail` set, so its new code is the
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
      ((viewer.userId === file.buyerId && ticket.holderEmail === null) ||
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

function whenOf(sheet: TicketSheet): string | null {
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

/**
 * The ticket's page as a PDF. `compress: false` leaves the page's drawing readable (tests).
 * The standard PDF fonts are used, so names print in their Latin-1 (WinAnsi) letters.
 */
export function renderTicketPdf(sheet: TicketSheet, { compress = true } = {}): Promise<Buffer> {
  const doc = new PDFDocument({
    size: 'A4',
    margin: 56,
    compress,
    info: { Title: `Ticket ${sheet.ticketId}`, Subject: sheet.eventTitle, Creator: 'Bilten' },
  });
  const done = pdfBytes(doc);
  const width = doc.page.width - 112;
  doc.font('Helvetica-Bold').fontSize(26).text(printable(sheet.eventTitle), { width });
  const when = whenOf(sheet);
  if (when) doc.moveDown(0.3).font('Helvetica').fontSize(13).fillColor('#374151').text(when, { width });
  doc.moveDown(1.2).fillColor('#000000');
  for (const [label, value] of [
    ['Ticket', printable(sheet.ticketTypeName)],
    ['Attendee', printable(sheet.attendeeName)],
  ] as const) {
    doc.font('Helvetica').fontSize(10).fillColor('#6b7280').text(label.toUpperCase());
    doc.font('Helvetica-Bold').fontSize(16).fillColor('#000000').text(value, { width }).moveDown(0.6);
  }
  const qrSize = 260;
  const qrTop = doc.y + 12;
  drawQrCode(doc, sheet.payload, (doc.page.width - qrSize) / 2, qrTop, qrSize);
  doc
    .font('Courier')
    .fontSize(9)
    .fillColor('#374151')
    .text(sheet.ticketId, 56, qrTop + qrSize + 14, { width, align: 'center' })
    .font('Helvetica')
    .text('Show this code at the entrance. Each ticket admits one person once.', { width, align: 'center' });
  doc.end();
  return done;
}
