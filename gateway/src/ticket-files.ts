import type { Logger } from '@bilten/platform';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { type SubgraphName, subgraphRoute } from './config.ts';

/**
 * `GET /tickets/{id}.pdf[?token=…]` at the public door: passed on to the orders subgraph, which
 * decides who may open a ticket (subgraphs/orders/src/adapters/ticket-files.ts). The caller's
 * credentials go through the same exchange as for /graphql (an API key or a user's token becomes
 * identity's token with current claims), so a revoked key or an ended session opens nothing here
 * either. Only `token` of the query goes on; answers are never cached, and nothing logs the URL
 * (the link token is in it).
 */
export interface TicketFileProxyOptions {
  supergraphSdl: string;
  subgraphUrls: Partial<Record<SubgraphName, string>>;
  /** The gateway's credential exchange (access-tokens.ts); throws for a credential it refuses. */
  authorizationFor(authorization: string | undefined): Promise<string | undefined>;
  timeoutMs: number;
  log: Logger;
}

/** The upstream headers a ticket file keeps. */
const PASSED_HEADERS = ['content-type', 'content-disposition', 'cache-control', 'x-content-type-options'];

const text = (reply: FastifyReply, status: number, message: string) =>
  reply
    .status(status)
    .header('content-type', 'text/plain; charset=utf-8')
    .header('cache-control', 'private, no-store')
    .send(message);

export function registerTicketFiles(app: FastifyInstance, options: TicketFileProxyOptions) {
  const base = subgraphRoute(options, 'orders', '/');
  app.get<{ Params: { file: string }; Querystring: { token?: unknown } }>(
    '/tickets/:file',
    async (request, reply) => {
      const { file } = request.params;
      // Orders answers 404 for anything but `<uuid>.pdf`; longer names need not travel.
      if (file.length > 60) return text(reply, 404, 'no such ticket');
      let authorization: string | undefined;
      try {
        authorization = await options.authorizationFor(request.headers.authorization);
      } catch (err) {
        const refused = (err as { extensions?: { code?: string } }).extensions?.code === 'UNAUTHENTICATED';
        return refused
          ? text(reply, 401, 'the credentials are invalid or expired')
          : text(reply, 502, 'credentials cannot be checked right now');
      }
      const url = new URL(`tickets/${encodeURIComponent(file)}`, base);
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
        });
        reply.status(upstream.status);
        for (const name of PASSED_HEADERS) {
          const value = upstream.headers.get(name);
          if (value) reply.header(name, value);
        }
        return reply.send(Buffer.from(await upstream.arrayBuffer()));
      } catch (err) {
        options.log.warn({ err: (err as Error).message }, 'ticket file unavailable');
        return text(reply, 502, 'tickets are unavailable right now');
      }
    },
  );
}
