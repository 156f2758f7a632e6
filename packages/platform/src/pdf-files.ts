import type { FastifyReply, FastifyRequest } from 'fastify';
import type { TokenVerifier, Viewer } from './auth.ts';
import { plainTextReply } from './http.ts';
import type { FileLinks } from './link-tokens.ts';

// The shared half of `GET /{kind}/{id}.pdf[?token=…]` (orders' tickets, billing's receipts): who
// asks and the answer's headers. Each route decides who may open its own files.

/** `<uuid>.pdf`; anything else names no file. */
const PDF_FILE = /^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\.pdf$/i;
/** Link tokens are 43 characters (base64url of an HMAC-SHA-256); anything longer is none. */
const MAX_LINK_TOKEN_LENGTH = 100;

/** The route's shape: `app.get<PdfFileRoute>('/tickets/:file', …)`. */
export interface PdfFileRoute {
  Params: { file: string };
  Querystring: { token?: unknown };
}

/** The file's id, and whether its link token came with the request, else the access token's viewer. */
export interface PdfFileCaller {
  id: string;
  hasLink: boolean;
  viewer: Viewer;
}

/**
 * Who asks for a PDF file: null once answered 404 (not `<uuid>.pdf`: `no such <what>`) or 401 (a
 * bad access token, when no valid link token came). The access token is not checked when the link
 * opens the file: a mail's link works in any browser, signed in or not.
 */
export async function pdfFileCaller(
  request: FastifyRequest<PdfFileRoute>,
  reply: FastifyReply,
  deps: {
    links: Pick<FileLinks, 'opens'>;
    verifyToken: TokenVerifier;
    what: string;
    /** The file names the route serves, the id its first group (default `<uuid>.pdf`). */
    name?: RegExp;
  },
): Promise<PdfFileCaller | null> {
  const id = (deps.name ?? PDF_FILE).exec(request.params.file)?.[1]?.toLowerCase();
  if (!id) {
    plainTextReply(reply, 404, `no such ${deps.what}`);
    return null;
  }
  const { token } = request.query;
  const hasLink =
    typeof token === 'string' && token.length <= MAX_LINK_TOKEN_LENGTH && deps.links.opens(id, token);
  if (hasLink) return { id, hasLink, viewer: { kind: 'anonymous' } };
  try {
    return { id, hasLink, viewer: await deps.verifyToken(request.headers.authorization) };
  } catch {
    plainTextReply(reply, 401, 'the access token is invalid or expired');
    return null;
  }
}

/** A PDF shown in the browser as `filename`: never cached (who may open it changes), never sniffed. */
export const sendPdf = (reply: FastifyReply, pdf: Buffer, filename: string) =>
  reply
    .header('content-type', 'application/pdf')
    .header('content-disposition', `inline; filename="${filename}"`)
    .header('cache-control', 'private, no-store')
    .header('x-content-type-options', 'nosniff')
    .send(pdf);
