import type { Database, TokenVerifier, Viewer } from '@bilten/platform';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { ticketFileById } from '../db/tickets.ts';
import { renderTicketPdf, sheetOf, ticketFileAccess } from '../domain/ticket-pdf.ts';
import type { TicketLinks } from './ticket-links.ts';

export interface TicketFileDeps {
  db: Database;
  ticketLinks: TicketLinks;
  /** Checks the caller's access token as /graphql does. */
  verifyToken: TokenVerifier;
}

/** `<uuid>.pdf`; anything else names no ticket. */
const TICKET_FILE = /^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\.pdf$/i;
/** Link tokens are 43 characters (base64url of an HMAC-SHA-256); anything longer is none. */
const MAX_LINK_TOKEN_LENGTH = 100;

const text = (reply: FastifyReply, status: number, message: string) =>
  reply
    .status(status)
    .header('content-type', 'text/plain; charset=utf-8')
    .header('cache-control', 'private, no-store')
    .send(message);

/**
 * `GET /tickets/{id}.pdf[?token=…]`: the ticket's page (domain/ticket-pdf.ts) for those
 * ticketFileAccess lets in; 404 for anyone else, an unknown or malformed id alike; 410 for a VOID
 * or TRANSFERRED ticket; 401 for a bad access token. Never cached, never logged with its URL (the
 * token is in it).
 */
export function registerTicketFiles(app: FastifyInstance, deps: TicketFileDeps) {
  app.get<{ Params: { file: string }; Querystring: { token?: unknown } }>(
    '/tickets/:file',
    async (request, reply) => {
      const id = TICKET_FILE.exec(request.params.file)?.[1]?.toLowerCase();
      if (!id) return text(reply, 404, 'no such ticket');
      const token = request.query.token;
      const hasLink =
        typeof token === 'string' &&
        token.length <= MAX_LINK_TOKEN_LENGTH &&
        deps.ticketLinks.opens(id, token);
      let viewer: Viewer = { kind: 'anonymous' };
      if (!hasLink) {
        try {
          viewer = await deps.verifyToken(request.headers.authorization);
        } catch {
          return text(reply, 401, 'the access token is invalid or expired');
        }
      }
      const file = await ticketFileById(deps.db, id);
      const access = file ? ticketFileAccess(viewer, file, hasLink) : 'none';
      if (!file || access === 'none') return text(reply, 404, 'no such ticket');
      if (access === 'gone')
        return text(
          reply,
          410,
          file.ticket.status === 'TRANSFERRED'
            ? 'this ticket was transferred: its new holder has another code'
            : 'this ticket is void',
        );
      const pdf = await renderTicketPdf(sheetOf(file));
      return reply
        .header('content-type', 'application/pdf')
        .header('content-disposition', `inline; filename="ticket-${id}.pdf"`)
        .header('cache-control', 'private, no-store')
        .header('x-content-type-options', 'nosniff')
        .send(pdf);
    },
  );
}
