import type { ApolloServer, BaseContext } from '@apollo/server';
import { fastifyApolloHandler } from '@as-integrations/fastify';
import { context as otelContext } from '@opentelemetry/api';
import Fastify, {
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  type FastifyServerOptions,
  LogController,
} from 'fastify';
import { Registry } from 'prom-client';
import type { Logger } from './logger.ts';
import { acceptsOpenMetrics, exemplarOf, openMetricsText, type ServiceMetrics } from './metrics.ts';
import { requestContext, requestIdFrom, traceparentFrom } from './request-context.ts';
import { addSecurityHeaders } from './security-headers.ts';
import { endServerSpan, type ServerSpan, startServerSpan } from './tracing.ts';

/** Probes and scrapes: frequent, and nothing to follow in a trace. */
const UNTRACED_ROUTES = new Set(['/livez', '/readyz', '/metrics']);

/** Each request's server span (tracing on), from onRequest to onResponse. */
const serverSpans = new WeakMap<FastifyRequest, ServerSpan>();

export interface HealthCheck {
  name: string;
  check(): Promise<void>;
}

export interface HttpAppOptions {
  log: Logger;
  metrics: ServiceMetrics;
  health: HealthCheck[];
  bodyLimit?: number;
  /** Fastify `trustProxy`: which proxies in front may tell the client address (`request.ip`). */
  trustProxy?: FastifyServerOptions['trustProxy'];
  /**
   * Serve `/metrics` here (default). A public door (the gateway) serves it on a port of its own
   * instead (`startOperationsServer`): metrics describe traffic and internals to whoever asks.
   */
  serveMetrics?: boolean;
  /**
   * Serve HTTPS with this certificate and key (PEM); with `clientCa`, only to clients presenting a
   * certificate that CA signed (mutual TLS): others are refused in the TLS handshake.
   */
  tls?: HttpsOptions;
}

export interface HttpsOptions {
  cert: string;
  key: string;
  clientCa?: string;
}

/**
 * The HTTP shell every service shares: correlation ids in and out, JSON errors for bad bodies,
 * latency metrics, and `/livez`, `/readyz`, `/metrics`.
 */
export function createHttpApp({
  log,
  metrics,
  health,
  bodyLimit = 1_048_576,
  trustProxy = false,
  serveMetrics = true,
  tls,
}: HttpAppOptions): FastifyInstance {
  const app = Fastify({
    ...(tls && {
      https: {
        cert: tls.cert,
        key: tls.key,
        minVersion: 'TLSv1.2' as const,
        ...(tls.clientCa && { ca: tls.clientCa, requestCert: true, rejectUnauthorized: true }),
      },
    }),
    loggerInstance: log,
    // Operations are logged by the GraphQL plugin with more to say than an access log.
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'requestId' }),
    bodyLimit,
    trustProxy,
    genReqId: (req) => requestIdFrom(req.headers['x-request-id']),
    forceCloseConnections: true,
    return503OnClosing: true,
  }) as unknown as FastifyInstance;

  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
    // `close` comes once per response, answered or abandoned by the client (onResponse misses those).
    metrics.httpInFlight.inc();
    reply.raw.once('close', () => metrics.httpInFlight.dec());
    const route = request.routeOptions.url;
    if (route && !UNTRACED_ROUTES.has(route)) {
      const server = startServerSpan(metrics.service, {
        method: request.method,
        route,
        headers: request.headers,
      });
      if (server) serverSpans.set(request, server);
    }
  });
  addSecurityHeaders(app);
  app.addHook('onResponse', async (request, reply) => {
    const server = serverSpans.get(request);
    if (server) endServerSpan(server, reply.statusCode);
    metrics.httpDuration.observe({
      labels: {
        method: metrics.methodLabel(request.method),
        route: request.routeOptions.url ?? 'unmatched',
        status: String(reply.statusCode),
      },
      value: reply.elapsedTime / 1000,
      exemplarLabels: exemplarOf(server?.span),
    });
  });

  // Bad bodies (malformed JSON, too large, wrong type) answer in the GraphQL error shape.
  app.setErrorHandler((error: Error & { statusCode?: number; code?: string }, request, reply) => {
    const status = error.statusCode && error.statusCode >= 400 ? error.statusCode : 500;
    if (status >= 500) request.log.error({ err: error }, 'request failed');
    const message = status >= 500 ? 'Internal error' : error.message;
    const code = status === 413 ? 'PAYLOAD_TOO_LARGE' : status >= 500 ? 'INTERNAL' : 'BAD_REQUEST';
    reply.status(status).send({ errors: [{ message, extensions: { code } }] });
  });
  app.setNotFoundHandler((request, reply) => {
    reply.status(404).send({
      errors: [
        { message: `no route for ${request.method} ${request.url}`, extensions: { code: 'NOT_FOUND' } },
      ],
    });
  });

  registerHealthRoutes(app, health);
  if (serveMetrics) registerMetricsRoute(app, metrics);
  return app;
}

function registerHealthRoutes(app: FastifyInstance, health: HealthCheck[]) {
  app.get('/livez', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const results = await Promise.all(
      health.map(async ({ name, check }) => {
        try {
          await check();
          return [name, 'ok'] as const;
        } catch (err) {
          return [name, (err as Error).message] as const;
        }
      }),
    );
    const ready = results.every(([, result]) => result === 'ok');
    reply.status(ready ? 200 : 503);
    return { status: ready ? 'ok' : 'unavailable', checks: Object.fromEntries(results) };
  });
}

function registerMetricsRoute(app: FastifyInstance, metrics: ServiceMetrics) {
  app.get('/metrics', async (request, reply) => {
    // Exemplars exist only in OpenMetrics; Prometheus text stays the default.
    if (acceptsOpenMetrics(request.headers.accept)) {
      reply.header('content-type', Registry.OPENMETRICS_CONTENT_TYPE);
      return openMetricsText(metrics.registry);
    }
    reply.header('content-type', metrics.registry.contentType);
    return metrics.registry.metrics();
  });
}

export interface OperationsServer {
  /** `http://host:port`, without a path. */
  url: string;
  port: number;
  stop(): Promise<void>;
}

/**
 * `/metrics`, `/livez` and `/readyz` on a listener apart from the public one, for Prometheus and
 * probes: bind it to loopback, or to an interface only the monitoring network reaches.
 */
export async function startOperationsServer(options: {
  log: Logger;
  metrics: ServiceMetrics;
  health: HealthCheck[];
  host: string;
  port: number;
}): Promise<OperationsServer> {
  const app = Fastify({
    loggerInstance: options.log,
    logController: new LogController({ disableRequestLogging: true }),
  }) as unknown as FastifyInstance;
  addSecurityHeaders(app);
  registerHealthRoutes(app, options.health);
  registerMetricsRoute(app, options.metrics);
  await app.listen({ host: options.host, port: options.port });
  const { port } = app.server.address() as { port: number };
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  return { url: `http://${host}:${port}`, port, stop: () => app.close() };
}

/**
 * Mounts Apollo on `/graphql`, running each request inside its correlation context and, with
 * tracing on, inside its server span (so log lines carry the exported trace id).
 */
export function mountGraphQL<Context extends BaseContext>(
  app: FastifyInstance,
  apollo: ApolloServer<Context>,
  context: (request: FastifyRequest, reply: FastifyReply) => Promise<Context>,
) {
  const handler = fastifyApolloHandler(apollo, { context });
  app.route({
    method: ['GET', 'POST', 'OPTIONS'],
    url: '/graphql',
    handler(request, reply) {
      const server = serverSpans.get(request);
      const traceparent = server?.traceparent ?? traceparentFrom(request.headers.traceparent);
      const serve = () =>
        requestContext.run({ requestId: request.id, traceparent }, () =>
          handler.call(this, request as never, reply as never),
        );
      return server ? otelContext.with(server.context, serve) : serve();
    },
  });
}

/**
 * A short plain-text answer (a file route's 404, 401 or 502): never cached, since whether a file
 * opens depends on who asks.
 */
export const plainTextReply = (reply: FastifyReply, status: number, message: string) =>
  reply
    .status(status)
    .header('content-type', 'text/plain; charset=utf-8')
    .header('cache-control', 'private, no-store')
    .send(message);
