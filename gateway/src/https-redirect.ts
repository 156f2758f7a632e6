import { type Logger, plainTextReply } from '@bilten/platform';
import Fastify, { type FastifyInstance, LogController } from 'fastify';
import { addSecurityHeaders } from './security-headers.ts';

/** A Host header's name part we redirect to: a DNS name or a bracketed IPv6 address, nothing else. */
const HOSTNAME =
  /^(?:(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.?|\[[0-9a-f:.]+\])$/i;

export interface HttpsRedirect {
  /** `http://host:port`, without a path. */
  url: string;
  port: number;
  stop(): Promise<void>;
}

/**
 * Plain HTTP beside the HTTPS gateway (GATEWAY_HTTP_REDIRECT_PORT): every request answered 308 to
 * the same host and path on the https port (308 keeps the method and body, unlike 301), except
 * the paths under `served`, which `http`'s routes serve here as they are: ACME HTTP-01 challenges, which a
 * CA fetches over plain http on port 80 and which cannot wait for a certificate to exist.
 */
export async function startHttpsRedirect(options: {
  host: string;
  port: number;
  /** Where the https listener is reached: left out of the URL when 443. */
  httpsPort: number;
  log: Logger;
  /** The path prefix served over plain http (`/.well-known/acme-challenge`), by the routes `http` registers. */
  served: string;
  http: (app: FastifyInstance) => void;
}): Promise<HttpsRedirect> {
  const app = Fastify({
    loggerInstance: options.log,
    logController: new LogController({ disableRequestLogging: true }),
    forceCloseConnections: true,
  }) as unknown as FastifyInstance;
  addSecurityHeaders(app);
  options.http(app);
  const portPart = options.httpsPort === 443 ? '' : `:${options.httpsPort}`;
  // In onRequest, before any body is read: a POST of any type is redirected as it is, 308 keeping
  // its method and body for the client to send again.
  app.addHook('onRequest', async (request, reply) => {
    if (request.url.startsWith(`${options.served}/`)) return;
    const hostname = request.hostname;
    if (!HOSTNAME.test(hostname)) return plainTextReply(reply, 400, 'missing or malformed Host header');
    // An absolute-form target (`GET http://elsewhere/`) names no path of ours.
    if (!request.url.startsWith('/')) return plainTextReply(reply, 400, 'request target must be a path');
    return reply.redirect(`https://${hostname.toLowerCase()}${portPart}${request.url}`, 308);
  });
  await app.listen({ host: options.host, port: options.port });
  const { port } = app.server.address() as { port: number };
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  return { url: `http://${host === '0.0.0.0' ? 'localhost' : host}:${port}`, port, stop: () => app.close() };
}
