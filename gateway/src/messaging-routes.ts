import { type Logger, plainTextReply } from '@bilten/platform';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { relayAnswer, type SubgraphDispatcher, type SubgraphName, subgraphRoute } from './config.ts';

/**
 * Messaging's public routes at the gateway's door, passed on as they are: the open pixel
 * (`GET /t/o/{token}.gif`), tracked links (`GET /t/c/{token}`) and the delivery providers'
 * webhooks (`POST /webhooks/email`, `POST /webhooks/sms`). No credentials: a signed token or the
 * provider's signature is the credential, and messaging checks it
 * (subgraphs/messaging/src/adapters/tracking-routes.ts, delivery-webhooks.ts). A redirect is not
 * followed here: the reader's browser gets messaging's 302. Webhook bodies go on byte for byte, as
 * their signatures cover them; nothing here logs one.
 */
export interface MessagingRoutesOptions {
  supergraphSdl: string;
  subgraphUrls: Partial<Record<SubgraphName, string>>;
  timeoutMs: number;
  /** The subgraph connection pool with its TLS settings (server.ts); unset: Node's default. */
  dispatcher?: SubgraphDispatcher;
  log: Logger;
}

/** What the readers' browsers and the providers see of messaging's answers. */
const PASSED_HEADERS = ['content-type', 'cache-control', 'location', 'referrer-policy'];
/** What messaging reads of a webhook: the body's type and the providers' signature headers. */
const WEBHOOK_HEADERS = ['content-type', 'bilten-signature', 'x-twilio-signature'];
/** A token is a signed URL from a mail; a webhook a batch of events: both small. */
const MAX_TOKEN_LENGTH = 6000;
const BODY_LIMIT_BYTES = 64 * 1024;
/** `body.signature` (a click) or `id.signature.gif` (the pixel). */
const TOKEN = /^[\w-]+(?:\.[\w-]+){1,2}$/;

export function registerMessagingRoutes(app: FastifyInstance, options: MessagingRoutesOptions) {
  const base = subgraphRoute(options, 'messaging', '/');
  app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser(
      '*',
      { parseAs: 'buffer', bodyLimit: BODY_LIMIT_BYTES },
      (_request, body, done) => done(null, body),
    );

    const forward = async (request: FastifyRequest, reply: FastifyReply, path: string) => {
      const headers: Record<string, string> = { 'x-request-id': request.id, 'x-forwarded-for': request.ip };
      if (request.method === 'POST')
        for (const name of WEBHOOK_HEADERS) {
          const value = request.headers[name];
          if (typeof value === 'string') headers[name] = value;
        }
      try {
        const upstream = await fetch(new URL(path, base), {
          method: request.method,
          headers,
          body: request.method === 'POST' && Buffer.isBuffer(request.body) ? request.body : undefined,
          redirect: 'manual',
          signal: AbortSignal.timeout(options.timeoutMs),
          dispatcher: options.dispatcher,
        });
        return relayAnswer(reply, upstream, PASSED_HEADERS);
      } catch (err) {
        // For a webhook, a 5xx makes the provider deliver it again later.
        options.log.warn({ err: (err as Error).message, path: path.slice(0, 8) }, 'messaging unavailable');
        return plainTextReply(reply, 502, 'try again later');
      }
    };

    type TokenRequest = FastifyRequest<{ Params: { '*': string } }>;
    const tracked = (kind: 'o' | 'c') => async (request: TokenRequest, reply: FastifyReply) => {
      const token = request.params['*'];
      // Tokens are base64url parts joined by dots; anything else (a `..`, a slash) is not put into messaging's path.
      if (token.length > MAX_TOKEN_LENGTH || !TOKEN.test(token))
        return plainTextReply(reply, 400, 'this link is not valid');
      return forward(request, reply, `t/${kind}/${token}`);
    };
    // Wildcards: a click token carries its URL and is longer than a route parameter may be.
    scope.get('/t/o/*', tracked('o'));
    scope.get('/t/c/*', tracked('c'));
    scope.post('/webhooks/email', (request, reply) => forward(request, reply, 'webhooks/email'));
    scope.post('/webhooks/sms', (request, reply) => forward(request, reply, 'webhooks/sms'));
  });
}
