import type { People } from '@bilten/platform';
import {
  type BrandImages,
  type Database,
  type PdfFileRoute,
  pdfBrandOf,
  pdfFileCaller,
  plainTextReply,
  sendPdf,
  type TokenVerifier,
} from '@bilten/platform';
import type { FastifyInstance } from 'fastify';
import { openBuyer } from '../db/buyers.ts';
import { orderCharge, paymentById } from '../db/queries.ts';
import { receiptById } from '../db/receipts.ts';
import { brandContexts } from '../db/schema.ts';
import { maySeePayments } from '../domain/access.ts';
import { renderReceiptPdf } from '../domain/receipt-pdf.ts';
import type { ReceiptLinks } from './receipt-links.ts';

export interface ReceiptFileDeps {
  db: Database;
  receiptLinks: ReceiptLinks;
  /** Checks the caller's access token as /graphql does. */
  verifyToken: TokenVerifier;
  /** The organizations' logos (BRAND_ASSETS_URL), fetched by hash and kept. */
  brandImages: BrandImages;
  /** PUBLIC_GATEWAY_URL: the printed link's base for an organization without an active domain. */
  publicGatewayUrl: string;
  /** Opens the receipt's sealed buyer (the markers once erased). */
  buyerKeys: People;
}

/**
 * `GET /receipts/{id}.pdf[?token=…]`: a receipt's or credit note's PDF (domain/receipt-pdf.ts)
 * for whoever has its link token (the receipt mail's link), the order's buyer, the organization's
 * ADMIN/OWNER and platform ADMINs, as for the order's payments, in the organization's brand as
 * this service last heard it; 404 for anyone else, an unknown or
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
    const [payment, credited, brand, buyer] = await Promise.all([
      paymentById(deps.db, receipt.paymentId),
      receipt.creditedReceiptId ? receiptById(deps.db, receipt.creditedReceiptId) : undefined,
      pdfBrandOf(deps.db, brandContexts, receipt.organizationId, {
        images: deps.brandImages,
        fallbackLinkBase: deps.publicGatewayUrl,
      }),
      openBuyer(deps.db, deps.buyerKeys, 'receipts', receipt.id, receipt),
    ]);
    const pdf = await renderReceiptPdf(
      {
        receipt,
        buyer,
        // receipts.payment_id references payments: a receipt always has its payment.
        payment: payment!,
        creditedNumber: credited?.number ?? null,
      },
      { brand },
    );
    return sendPdf(reply, pdf, `receipt-${receipt.number}.pdf`);
  });
}
