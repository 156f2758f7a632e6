import { type Logger, plainTextReply } from '@bilten/platform';
import type { FastifyInstance } from 'fastify';
import { relayAnswer, type SubgraphDispatcher, type SubgraphName, subgraphRoute } from './config.ts';

/**
 * `GET /{prefix}/{id}.pdf[?token=…]` at the public door (tickets, receipts), and a ticket's QR
 * page `GET /tickets/{id}[?token=…]`: passed on to the subgraph that owns the files, which decides who may open one (orders' and billing's
 * adapters/*-files.ts). The caller's credentials go through the same exchange as for /graphql (an
 * API key or a user's token becomes identity's token with current claims), so a revoked key or an
 * ended session opens nothing here either. Only `token` of the query goes on; answers are never
 * cached, and nothing logs the URL (the link token is in it).
 */
export interface SubgraphFileProxyOptions {
  supergraphSdl: string;
  subgraphUrls: Partial<Record<SubgraphName, string>>;
  /** The gateway's credential exchange (access-tokens.ts); throws for a credential it refuses. */
  authorizationFor(authorization: string | undefined): Promise<string | undefined>;
  timeoutMs: number;
  /** The subgraph connection pool with its TLS settings (server.ts); unset: Node's default. */
  dispatcher?: SubgraphDispatcher;
  log: Logger;
}

export interface SubgraphFiles {
  /** The path's first segment, the same at the gateway and at the subgraph: `tickets`, `receipts`. */
  prefix: string;
  subgraph: SubgraphName;
  /** What one file is, for the answers: `ticket`, `receipt`. */
  what: string;
}

/** The upstream headers a file keeps; a page (the QR page) its own strict policy and no referrer too. */
const PASSED_HEADERS = [
  'content-type',
  'content-disposition',
  'cache-control',
  'x-content-type-options',
  'content-security-policy',
  'referrer-policy',
  'x-frame-options',
];

export function registerSubgraphFiles(
  app: FastifyInstance,
  options: SubgraphFileProxyOptions,
  { prefix, subgraph, what }: SubgraphFiles,
) {
  const base = subgraphRoute(options, subgraph, '/');
  app.get<{ Params: { file: string }; Querystring: { token?: unknown } }>(
    `/${prefix}/:file`,
    async (request, reply) => {
      const { file } = request.params;
      // The subgraph answers 404 for anything but `<uuid>.pdf` (or a ticket's `<uuid>`); longer names need not travel.
      if (file.length > 60) return plainTextReply(reply, 404, `no such ${what}`);
      let authorization: string | undefined;
      try {
        authorization = await options.authorizationFor(request.headers.authorization);
      } catch (err) {
        const refused = (err as { extensions?: { code?: string } }).extensions?.code === 'UNAUTHENTICATED';
        return refused
          ? plainTextReply(reply, 401, 'the credentials are invalid or expired')
          : plainTextReply(reply, 502, 'credentials cannot be checked right now');
      }
      const url = new URL(`${prefix}/${encodeURIComponent(file)}`, base);
      const { token } = request.query;
      if (typeof token === 'string') url.searchParams.set('token', token.slice(0, 200));
      try {
        const upstream = await fetch(url, {
          headers: {
            ...(authorization ? { authorization } : {}),
            'x-request-id': request.id,
            'x-forwarded-for': request.ip,
          },
          signal: AbortSignal.timeout(options.timeoutMs),
          dispatcher: options.dispatcher,
        });
        return relayAnswer(reply, upstream, PASSED_HEADERS);
      } catch (err) {
        options.log.warn({ err: (err as Error).message, subgraph }, `${what} file unavailable`);
        return plainTextReply(reply, 502, `${prefix} are unavailable right now`);
      }
    },
  );
}
