import type { Logger } from '@bilten/platform';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { type SubgraphDispatcher, type SubgraphName, subgraphRoute } from './config.ts';

/**
 * `POST /webhooks/{provider}` (the platform's account) and `POST /webhooks/{provider}/{accountId}`
 * (an organization's own account) at the public door: payment providers' notifications passed on to
 * the billing subgraph, which verifies each one (subgraphs/billing/src/adapters/*-webhooks.ts).
 * Signatures cover the exact bytes, so the body goes on as it came, unparsed, with the headers a
 * signature lives in; there are no credentials to exchange (the provider's signature is the
 * credential). Nothing here logs a body.
 */
export interface ProviderWebhookProxyOptions {
  supergraphSdl: string;
  subgraphUrls: Partial<Record<SubgraphName, string>>;
  timeoutMs: number;
  /** The subgraph connection pool with its TLS settings (server.ts); unset: Node's default. */
  dispatcher?: SubgraphDispatcher;
  log: Logger;
}

/** The providers billing serves a webhook for; anything else is 404 without a trip. */
const PROVIDERS = new Set(['stripe', 'braintree']);
/** The headers billing reads: the body's type and the providers' signature headers. */
const FORWARDED_HEADERS = ['content-type', 'stripe-signature'];
/** Organizations' account ids are UUIDs: nothing else is put into billing's path. */
const ACCOUNT_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Provider notifications are a few kilobytes. */
const BODY_LIMIT_BYTES = 1024 * 1024;

const text = (reply: FastifyReply, status: number, message: string) =>
  reply.status(status).header('content-type', 'text/plain; charset=utf-8').send(message);

export function registerProviderWebhooks(app: FastifyInstance, options: ProviderWebhookProxyOptions) {
  const base = subgraphRoute(options, 'billing', '/');
  app.register(async (scope) => {
    // Any type, kept as bytes: billing decides what it accepts.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser(
      '*',
      { parseAs: 'buffer', bodyLimit: BODY_LIMIT_BYTES },
      (_request, body, done) => done(null, body),
    );

    type WebhookRequest = FastifyRequest<{ Params: { provider: string; accountId?: string } }>;
    const forward = async (request: WebhookRequest, reply: FastifyReply) => {
      const { provider, accountId } = request.params;
      if (!PROVIDERS.has(provider) || (accountId !== undefined && !ACCOUNT_ID.test(accountId)))
        return text(reply, 404, 'no such webhook');
      const path = accountId === undefined ? `webhooks/${provider}` : `webhooks/${provider}/${accountId}`;
      const headers: Record<string, string> = { 'x-request-id': request.id, 'x-forwarded-for': request.ip };
      for (const name of FORWARDED_HEADERS) {
        const value = request.headers[name];
        if (typeof value === 'string') headers[name] = value;
      }
      try {
        const upstream = await fetch(new URL(path, base), {
          method: 'POST',
          headers,
          body: Buffer.isBuffer(request.body) ? request.body : undefined,
          signal: AbortSignal.timeout(options.timeoutMs),
          dispatcher: options.dispatcher,
        });
        reply.status(upstream.status);
        const type = upstream.headers.get('content-type');
        if (type) reply.header('content-type', type);
        return reply.send(Buffer.from(await upstream.arrayBuffer()));
      } catch (err) {
        // A 5xx makes the provider deliver again later.
        options.log.warn({ err: (err as Error).message, provider }, 'provider webhook: billing unavailable');
        return text(reply, 502, 'try again later');
      }
    };
    scope.post('/webhooks/:provider', forward);
    scope.post('/webhooks/:provider/:accountId', forward);
  });
}
