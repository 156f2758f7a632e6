import {
  type Database,
  type PdfFileRoute,
  pdfFileCaller,
  plainTextReply,
  sendPdf,
  type TokenVerifier,
} from '@bilten/platform';
import type { FastifyInstance } from 'fastify';
import { orderCharge, paymentById } from '../db/queries.ts';
import { receiptById } from '../db/receipts.ts';
import { maySeePayments } from '../domain/access.ts';
import { renderReceiptPdf } from '../domain/receipt-pdf.ts';
import type { ReceiptLinks } from './receipt-links.ts';

export interface ReceiptFileDeps {
  db: Database;
  receiptLinks: ReceiptLinks;
  /** Checks the caller's access token as /graphql does. */
  verifyToken: TokenVerifier;
}

/**
 * `GET /receipts/{id}.pdf[?token=…]`: a receipt's or credit note's PDF (domain/receipt-pdf.ts)
 * for whoever has its link token (the receipt mail's link), the order's buyer, the organization's
 * ADMIN/OWNER and platform ADMINs, as for the order's payments; 404 for anyone else, an unknown or
 * malformed id alike; 401 for a bad access token. Never cached, never logged with its URL (the
 * token is in it).
 */
export function registerReceiptFiles(app: FastifyInstance, deps: ReceiptFileDeps) {
  const caller = { links: deps.receiptLinks, verifyToken: deps.verifyToken, what: 'receipt' };
  app.get<PdfFileRoute>('/receipts/:file', async (request, reply) => {
    const asking = await pdfFileCaller(request, reply, caller);
    if (!asking) return reply;
    const receipt = await receiptById(deps.db, asking.id);
    const allowed =
      receipt &&
      (asking.hasLink ||
        maySeePayments(asking.viewer, (await orderCharge(deps.db, receipt.orderId)) ?? null));
    if (!receipt || !allowed) return plainTextReply(reply, 404, 'no such receipt');
    const [payment, credited] = await Promise.all([
      paymentById(deps.db, receipt.paymentId),
      receipt.creditedReceiptId ? receiptById(deps.db, receipt.creditedReceiptId) : undefined,
    ]);
    const pdf = await renderReceiptPdf({
      receipt,
      // receipts.payment_id references payments: a receipt always has its payment.
      payment: payment!,
      creditedNumber: credited?.number ?? null,
    });
    return sendPdf(reply, pdf, `receipt-${receipt.number}.pdf`);
  });
}
