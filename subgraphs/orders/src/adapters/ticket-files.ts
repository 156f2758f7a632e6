import {
  type BrandImages,
  brandContextOf,
  type Database,
  type PdfFileRoute,
  pdfBrandOf,
  pdfFileCaller,
  plainTextReply,
  sendPdf,
  type TokenVerifier,
} from '@bilten/platform';
import type { FastifyInstance } from 'fastify';
import { type OrdersPeople, openTicket } from '../db/person-data.ts';
import { brandContexts } from '../db/schema.ts';
import { ticketFileById } from '../db/tickets.ts';
import { renderTicketPdf, sheetOf, ticketFileAccess } from '../domain/ticket-pdf.ts';
import type { TicketLinks } from './ticket-links.ts';
import { sendTicketPage } from './ticket-page.ts';

export interface TicketFileDeps {
  db: Database;
  /** Opens the attendee's name, sealed under its person. */
  people: OrdersPeople;
  ticketLinks: TicketLinks;
  /** Checks the caller's access token as /graphql does. */
  verifyToken: TokenVerifier;
  /** The organizations' logos (BRAND_ASSETS_URL), fetched by hash and kept. */
  brandImages: BrandImages;
  /** PUBLIC_GATEWAY_URL: the printed link's base for an organization without an active domain. */
  publicGatewayUrl: string;
}

/** `<uuid>.pdf` (the PDF) or `<uuid>` (the QR page); anything else names no ticket. */
const TICKET_FILE = /^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})(\.pdf)?$/i;

/**
 * `GET /tickets/{id}.pdf[?token=…]`: the ticket's page (domain/ticket-pdf.ts), and
 * `GET /tickets/{id}[?token=…]`: its QR page (ticket-page.ts), both in the organization's brand as
 * this service last heard it, for those ticketFileAccess lets in; 404 for anyone else, an unknown
 * or malformed id alike; 410 for a VOID or TRANSFERRED ticket; 401 for a bad access token. Never
 * cached, never logged with its URL (the token is in it).
 */
export function registerTicketFiles(app: FastifyInstance, deps: TicketFileDeps) {
  const caller = {
    links: deps.ticketLinks,
    verifyToken: deps.verifyToken,
    what: 'ticket',
    name: TICKET_FILE,
  };
  app.get<PdfFileRoute>('/tickets/:file', async (request, reply) => {
    const asking = await pdfFileCaller(request, reply, caller);
    if (!asking) return reply;
    const file = await ticketFileById(deps.db, asking.id);
    const access = file ? ticketFileAccess(asking.viewer, file, asking.hasLink) : 'none';
    if (!file || access === 'none') return plainTextReply(reply, 404, 'no such ticket');
    if (access === 'gone')
      return plainTextReply(
        reply,
        410,
        file.ticket.status === 'TRANSFERRED'
          ? 'this ticket was transferred: its new holder has another code'
          : 'this ticket is void',
      );
    const { organizationId } = file.ticket;
    const { attendeeName } = await openTicket(deps.db, deps.people, file.ticket);
    if (!request.params.file.toLowerCase().endsWith('.pdf'))
      return sendTicketPage(
        reply,
        sheetOf(file, attendeeName),
        await brandContextOf(deps.db, brandContexts, organizationId),
      );
    const brand = await pdfBrandOf(deps.db, brandContexts, organizationId, {
      images: deps.brandImages,
      fallbackLinkBase: deps.publicGatewayUrl,
    });
    return sendPdf(
      reply,
      await renderTicketPdf(sheetOf(file, attendeeName), { brand }),
      `ticket-${asking.id}.pdf`,
    );
  });
}
