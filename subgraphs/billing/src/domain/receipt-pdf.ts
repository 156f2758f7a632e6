import {
  defaultBrandedContext,
  drawLogo,
  fillBox,
  formatMoney,
  type PdfBrand,
  paintBackground,
  pdfBytes,
  pdfColorsOf,
  pdfFontsOf,
  printable,
  setBrandKeywords,
} from '@bilten/platform';
import PDFDocument from 'pdfkit';
import type { Buyer } from '../db/buyers.ts';
import type { PaymentRow, ReceiptRow } from '../db/schema.ts';

// `GET /receipts/{id}.pdf`: a receipt or credit note on one A4 page, printed from its frozen row
// alone, so the same receipt prints the same document every time.

/** What a receipt's page prints: the row, the payment it is for and, for a credit note, what it corrects. */
export interface ReceiptSheet {
  receipt: ReceiptRow;
  /** The buyer opened from the row's sealed fields: the markers once erased. */
  buyer: Buyer;
  payment: Pick<PaymentRow, 'provider' | 'card'>;
  /** The number of the receipt a credit note corrects; null for a receipt. */
  creditedNumber: string | null;
}

const PROVIDER_NAMES: Record<PaymentRow['provider'], string> = {
  STRIPE: 'Stripe',
  BRAINTREE: 'Braintree',
  SANDBOX: 'Sandbox (test)',
};

/** "19 %", "7.5 %": a rate in basis points. */
const rateOf = (basisPoints: number) => `${basisPoints / 100} %`;

const dateOf = (issuedAt: Date) =>
  new Intl.DateTimeFormat('en-GB', { dateStyle: 'long', timeZone: 'UTC' }).format(issuedAt);

/** "Visa •••• 4242" as WinAnsi prints it; the provider's name when the card is not known. */
function paidWith(payment: ReceiptSheet['payment']): string {
  const provider = PROVIDER_NAMES[payment.provider];
  if (!payment.card) return provider;
  const brand = payment.card.brand.charAt(0).toUpperCase() + payment.card.brand.slice(1);
  return `${provider}, ${brand} ending ${payment.card.last4}`;
}

/**
 * The receipt's page as a PDF, in the organization's brand (`brand`: its colours, logo, font and
 * the link at its domain; Bilten's own look without one). `compress: false` leaves the page's
 * text readable (tests). The standard PDF fonts are used, so names print in their Latin-1
 * (WinAnsi) letters. The Keywords carry the brand facts (brandFacts).
 */
export function renderReceiptPdf(
  { receipt, buyer, payment, creditedNumber }: ReceiptSheet,
  { compress = true, brand = null }: { compress?: boolean; brand?: PdfBrand | null } = {},
): Promise<Buffer> {
  const context = brand?.context ?? defaultBrandedContext(receipt.organizationId);
  const colors = pdfColorsOf(context);
  const fonts = pdfFontsOf(context.fontFamily);
  const title = receipt.kind === 'CREDIT_NOTE' ? 'Credit note' : 'Receipt';
  const money = (amount: number) => formatMoney({ amount, currency: receipt.currency });
  const doc = new PDFDocument({
    size: 'A4',
    margin: 56,
    compress,
    info: {
      Title: `${title} ${receipt.number}`,
      Subject: printable(receipt.eventTitle),
      Creator: 'Bilten',
      // The issue date, not the rendering's: the same receipt gives the same bytes.
      CreationDate: receipt.issuedAt,
    },
  });
  const done = pdfBytes(doc);
  const left = 56;
  const width = doc.page.width - 112;
  paintBackground(doc, context);
  fillBox(doc, 0, 0, doc.page.width, 14, colors.primary);
  const logoShown = brand !== null && drawLogo(doc, brand, left + width - 140, 30, 140, 52);
  if (brand) setBrandKeywords(doc, brand, logoShown);

  doc
    .font(fonts.bold)
    .fontSize(24)
    .fillColor(colors.primary)
    .text(title, { width: width - 150 });
  // Its own line: a long organization prefix would wrap a title that carried it.
  doc
    .moveDown(0.2)
    .font(fonts.bold)
    .fontSize(13)
    .fillColor(colors.text)
    .text(`No. ${receipt.number}`, { width: width - 150 });
  doc.moveDown(0.2).font(fonts.regular).fontSize(11).fillColor(colors.text, 0.8);
  doc.text(`Issued ${dateOf(receipt.issuedAt)}`, { width });
  if (creditedNumber) doc.text(`Corrects receipt ${creditedNumber}`, { width });
  doc.moveDown(1).fillColor(colors.text, 1);
  // Below the logo, whatever the heading's height.
  doc.y = Math.max(doc.y, 30 + 52 + 12);

  for (const [label, value] of [
    ['Seller', receipt.sellerName],
    ['Buyer', `${buyer.buyerName} <${buyer.buyerEmail}>`],
    ['Event', receipt.eventTitle],
  ] as const) {
    doc.font(fonts.regular).fontSize(9).fillColor(colors.text, 0.65).text(label.toUpperCase());
    doc
      .font(fonts.regular)
      .fontSize(12)
      .fillColor(colors.text, 1)
      .text(printable(value), { width })
      .moveDown(0.5);
  }

  // The lines: description, quantity × unit price, amount, in four columns.
  const columns = { description: left, quantity: left + 250, unit: left + 310, amount: left + 400 };
  const row = (cells: [string, string, string, string], font = fonts.regular) => {
    const y = doc.y;
    doc.font(font).fontSize(11);
    doc.text(cells[0], columns.description, y, { width: 240 });
    const bottom = doc.y;
    doc.text(cells[1], columns.quantity, y, { width: 50, align: 'right' });
    doc.text(cells[2], columns.unit, y, { width: 80, align: 'right' });
    doc.text(cells[3], columns.amount, y, { width: width - 400, align: 'right' });
    doc.x = left;
    doc.y = Math.max(bottom, doc.y) + 4;
  };
  doc.moveDown(0.5);
  row(['Description', 'Qty', 'Unit price', 'Amount'], fonts.bold);
  for (const line of receipt.lines)
    row([printable(line.description), String(line.quantity), money(line.unitAmount), money(line.amount)]);
  doc
    .moveTo(left, doc.y)
    .lineTo(left + width, doc.y)
    .stroke(colors.accent);
  doc.y += 6;
  row(['Subtotal', '', '', money(receipt.subtotal)]);
  row(['Fees', '', '', money(receipt.fees)]);
  row([`Taxes (${rateOf(receipt.taxBasisPoints)})`, '', '', money(receipt.taxes)]);
  row(
    [receipt.kind === 'CREDIT_NOTE' ? 'Total refunded' : 'Total paid', '', '', money(receipt.total)],
    fonts.bold,
  );

  doc.moveDown(1).font(fonts.regular).fontSize(9).fillColor(colors.text, 0.65);
  doc.text(receipt.kind === 'CREDIT_NOTE' ? 'REFUNDED TO' : 'PAID WITH', left, doc.y, { width });
  doc.fontSize(12).fillColor(colors.text, 1);
  row([paidWith(payment), '', '', money(receipt.total)]);
  if (brand) {
    const link = `${brand.linkBase}/receipts/${receipt.id}.pdf`;
    doc
      .moveDown(1)
      .font(fonts.regular)
      .fontSize(9)
      .fillColor(colors.accent)
      .text(link, left, doc.y, { width, link });
  }
  doc.end();
  return done;
}
