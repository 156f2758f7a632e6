import { type Logger, plainTextReply } from '@bilten/platform';
import type { FastifyInstance } from 'fastify';
import { relayAnswer, type SubgraphDispatcher, type SubgraphName, subgraphRoute } from './config.ts';

/**
 * `GET /.well-known/acme-challenge/{token}` on every host: the HTTP-01 answers of certificates
 * branding is requesting (subgraphs/branding/src/adapters/acme-routes.ts), so the CA finds them at
 * the custom domain, which points at this gateway. A token that cannot be one is refused here.
 */
export interface AcmeChallengeProxyOptions {
  supergraphSdl: string;
  subgraphUrls: Partial<Record<SubgraphName, string>>;
  timeoutMs: number;
  /** The subgraph connection pool with its TLS settings (server.ts); unset: Node's default. */
  dispatcher?: SubgraphDispatcher;
  log: Logger;
}

const ACME_TOKEN = /^[A-Za-z0-9_-]{1,128}$/;

export function registerAcmeChallenges(app: FastifyInstance, options: AcmeChallengeProxyOptions) {
  const base = subgraphRoute(options, 'branding', '/internal/acme-challenge/');
  // A wildcard, not `:token`: Fastify answers 414 for parameters over 100 characters.
  app.get<{ Params: { '*': string } }>('/.well-known/acme-challenge/*', async (request, reply) => {
    const token = request.params['*'];
    if (!ACME_TOKEN.test(token)) return plainTextReply(reply, 404, 'no such challenge');
    try {
      const upstream = await fetch(new URL(token, base), {
        headers: { 'x-request-id': request.id },
        redirect: 'manual',
        signal: AbortSignal.timeout(options.timeoutMs),
        dispatcher: options.dispatcher,
      });
      return relayAnswer(reply, upstream, ['content-type', 'cache-control']);
    } catch (err) {
      options.log.warn({ err: (err as Error).message }, 'acme challenge: branding unavailable');
      return plainTextReply(reply, 502, 'try again later');
    }
  });
}
