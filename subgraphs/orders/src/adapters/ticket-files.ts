import {
  type Database,
  type PdfFileRoute,
  pdfFileCaller,
  plainTextReply,
  sendPdf,
  type TokenVerifier,
} from '@bilten/platform';
import type { FastifyInstance } from 'fastify';
import { ticketFileById } from '../db/tickets.ts';
import { renderTicketPdf, sheetOf, ticketFileAccess } from '../domain/ticket-pdf.ts';
import type { TicketLinks } from './ticket-links.ts';

export interface TicketFileDeps {
  db: Database;
  ticketLinks: TicketLinks;
  /** Checks the caller's access token as /graphql does. */
  verifyToken: TokenVerifier;
}

/**
 * `GET /tickets/{id}.pdf[?token=…]`: the ticket's page (domain/ticket-pdf.ts) for those
 * ticketFileAccess lets in; 404 for anyone else, an unknown or malformed id alike; 410 for a VOID
 * or TRANSFERRED ticket; 401 for a bad access token. Never cached, never logged with its URL (the
 * token is in it).
 */
export function registerTicketFiles(app: FastifyInstance, deps: TicketFileDeps) {
  const caller = { links: deps.ticketLinks, verifyToken: deps.verifyToken, what: 'ticket' };
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
    return sendPdf(reply, await renderTicketPdf(sheetOf(file)), `ticket-${asking.id}.pdf`);
  });
}
