import { type Logger, plainTextReply } from '@bilten/platform';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { relayAnswer, type SubgraphDispatcher, type SubgraphName, subgraphRoute } from './config.ts';

/**
 * `GET` and `POST /unsubscribe?token=…` at the public door: the one-click opt-out links of
 * non-transactional mail (RFC 8058), passed on to messaging, which checks the signed token
 * (subgraphs/messaging/src/adapters/unsubscribe-links.ts). No credentials: the token is the
 * credential, and mail clients post without cookies. Only `token` goes on; the body (always
 * `List-Unsubscribe=One-Click`) does not. Answers are passed back as they came, never a redirect.
 */
export interface UnsubscribeProxyOptions {
  supergraphSdl: string;
  subgraphUrls: Partial<Record<SubgraphName, string>>;
  timeoutMs: number;
  /** The subgraph connection pool with its TLS settings (server.ts); unset: Node's default. */
  dispatcher?: SubgraphDispatcher;
  log: Logger;
}

const PASSED_HEADERS = ['content-type', 'content-security-policy', 'cache-control', 'referrer-policy'];

export function registerUnsubscribe(app: FastifyInstance, options: UnsubscribeProxyOptions) {
  const base = subgraphRoute(options, 'messaging', '/unsubscribe');
  app.register(async (scope) => {
    // Whatever mail clients post (a small form), it is not read.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'string', bodyLimit: 4096 }, (_request, _body, done) =>
      done(null, undefined),
    );
    const forward = async (
      request: FastifyRequest<{ Querystring: { token?: unknown } }>,
      reply: FastifyReply,
    ) => {
      const url = new URL(base);
      const { token } = request.query;
      if (typeof token === 'string') url.searchParams.set('token', token.slice(0, 300));
      try {
        const upstream = await fetch(url, {
          method: request.method,
          headers: { 'x-request-id': request.id, 'x-forwarded-for': request.ip },
          redirect: 'manual',
          signal: AbortSignal.timeout(options.timeoutMs),
          dispatcher: options.dispatcher,
        });
        return relayAnswer(reply, upstream, PASSED_HEADERS);
      } catch (err) {
        options.log.warn({ err: (err as Error).message }, 'unsubscribe: messaging unavailable');
        return plainTextReply(reply, 502, 'try again later');
      }
    };
    scope.get('/unsubscribe', forward);
    scope.post('/unsubscribe', forward);
  });
}
