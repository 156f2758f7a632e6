import type { FastifyInstance, FastifyRequest } from 'fastify';

/**
 * Runs a GraphQL request through this gateway's own `/graphql` in-process, on behalf of the
 * visitor of one of its pages or REST routes: their address as this gateway resolved it (throttles
 * and rate limits count the person), their request id, trace and user agent, and the credential
 * given. So what the gateway serves beside GraphQL passes the same rules, limits and logs.
 */
export function graphqlAsVisitor(
  app: FastifyInstance,
  request: FastifyRequest,
  body: { query: string; operationName?: string; variables?: Record<string, unknown> },
  authorization?: string,
) {
  const headers: Record<string, string> = { 'content-type': 'application/json', 'x-request-id': request.id };
  const { traceparent, 'user-agent': userAgent } = request.headers;
  if (typeof traceparent === 'string') headers.traceparent = traceparent;
  if (userAgent) headers['user-agent'] = userAgent;
  if (authorization) headers.authorization = authorization;
  return app.inject({
    method: 'POST',
    url: '/graphql',
    remoteAddress: request.ip,
    headers,
    payload: JSON.stringify(body),
  });
}
