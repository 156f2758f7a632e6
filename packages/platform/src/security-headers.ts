import type { FastifyInstance } from 'fastify';

/** On every answer: no MIME sniffing (a JSON error echoing input is never run as HTML), no referrer. */
const EVERY_ANSWER = { 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer' };
/** On pages (Sandbox, account pages): no framing, against clickjacking; both headers, for old browsers. */
const PAGES = { 'x-frame-options': 'DENY', 'content-security-policy': "frame-ancestors 'none'" };
/** One year; no includeSubDomains, which would bind sibling hosts of the domain this runs under. */
const HSTS = 'max-age=31536000';

/**
 * Security headers on every HTTP answer of every service (createHttpApp, the operations listener,
 * the gateway's http→https redirect), unless a route set its own (the account
 * pages send a stricter policy). HSTS only over https: when the connection is TLS or a proxy
 * trusted by GATEWAY_TRUST_PROXY says so in `X-Forwarded-Proto` (Fastify's `request.protocol`);
 * browsers ignore it over plain http anyway.
 */
export function addSecurityHeaders(app: FastifyInstance): void {
  app.addHook('onSend', async (request, reply, payload) => {
    const missing = (headers: Record<string, string>) => {
      for (const [name, value] of Object.entries(headers))
        if (!reply.hasHeader(name)) reply.header(name, value);
    };
    missing(EVERY_ANSWER);
    if (String(reply.getHeader('content-type') ?? '').startsWith('text/html')) missing(PAGES);
    if (request.protocol === 'https') reply.header('strict-transport-security', HSTS);
    return payload;
  });
}
