import {
  type Context,
  context,
  createContextKey,
  type Link,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  type SpanOptions,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api';
import type { PlatformEnv } from './config.ts';
import type { Logger } from './logger.ts';

export { type Span, SpanKind };

export type TracingEnv = Pick<
  PlatformEnv,
  | 'OTEL_EXPORTER_OTLP_ENDPOINT'
  | 'OTEL_EXPORTER_OTLP_PROTOCOL'
  | 'OTEL_TRACES_SAMPLER_ARG'
  | 'OTEL_SERVICE_NAME'
>;

export interface Tracing {
  enabled: boolean;
  /** Exports every finished span now (tests, before reading the receiver). */
  flush(): Promise<void>;
  /** Exports what is left and unregisters the SDK, so the process is as if tracing never started. */
  stop(): Promise<void>;
}

let enabled = false;

/** Whether spans are made in this process; every hook checks it first, so tracing off costs one test. */
export const tracingEnabled = (): boolean => enabled;

/**
 * Which Bilten service the work in a context belongs to: several share a process in `npm start`,
 * so the process's `service.name` cannot tell them apart; every span gets `bilten.service` from it.
 */
const SERVICE = createContextKey('bilten.service');

/**
 * Starts the OpenTelemetry SDK when OTEL_EXPORTER_OTLP_ENDPOINT is set; otherwise nothing is
 * loaded. One per process: spans go over OTLP/HTTP, sampled parent-based at
 * OTEL_TRACES_SAMPLER_ARG, with W3C trace context in and out.
 */
export async function startTracing(env: TracingEnv, serviceName: string, log?: Logger): Promise<Tracing> {
  const endpoint = env.OTEL_EXPORTER_OTLP_ENDPOINT;
  if (!endpoint) return { enabled: false, flush: async () => {}, stop: async () => {} };
  if (enabled) throw new Error('tracing is already started in this process');
  const [node, base, resources, core, instrumentation, undici, exporters] = await Promise.all([
    import('@opentelemetry/sdk-trace-node'),
    import('@opentelemetry/sdk-trace-base'),
    import('@opentelemetry/resources'),
    import('@opentelemetry/core'),
    import('@opentelemetry/instrumentation'),
    import('@opentelemetry/instrumentation-undici'),
    env.OTEL_EXPORTER_OTLP_PROTOCOL === 'http/json'
      ? import('@opentelemetry/exporter-trace-otlp-http')
      : import('@opentelemetry/exporter-trace-otlp-proto'),
  ]);
  // The standard variable names the base URL; traces go to its /v1/traces.
  const exporter = new exporters.OTLPTraceExporter({ url: `${endpoint.replace(/\/+$/, '')}/v1/traces` });
  const provider = new node.NodeTracerProvider({
    resource: resources.resourceFromAttributes({ 'service.name': env.OTEL_SERVICE_NAME ?? serviceName }),
    sampler: new base.ParentBasedSampler({
      root: new base.TraceIdRatioBasedSampler(env.OTEL_TRACES_SAMPLER_ARG),
    }),
    spanProcessors: [
      {
        onStart(span, parent) {
          const service = parent.getValue(SERVICE);
          if (typeof service === 'string') span.setAttribute('bilten.service', service);
        },
        onEnd() {},
        forceFlush: async () => {},
        shutdown: async () => {},
      },
      new base.BatchSpanProcessor(exporter),
    ],
  });
  provider.register({ propagator: new core.W3CTraceContextPropagator() });
  // fetch (undici) calls made while serving something: the gateway's subgraph fetches, providers'
  // HTTP APIs. Background polling outside any span makes none.
  const unregister = instrumentation.registerInstrumentations({
    tracerProvider: provider,
    instrumentations: [new undici.UndiciInstrumentation({ requireParentforSpans: true })],
  });
  enabled = true;
  log?.info(
    { endpoint, protocol: env.OTEL_EXPORTER_OTLP_PROTOCOL, sampling: env.OTEL_TRACES_SAMPLER_ARG },
    'tracing on',
  );
  return {
    enabled: true,
    flush: () => provider.forceFlush(),
    async stop() {
      enabled = false;
      unregister();
      await provider.shutdown();
      trace.disable();
      context.disable();
      propagation.disable();
    },
  };
}

const tracerOf = (service: string) => trace.getTracer(`bilten.${service}`);

/** `parent` (default: the active context) marked as `service`'s work. */
export const inService = (service: string, parent: Context = context.active()): Context =>
  parent.setValue(SERVICE, service);

/** The W3C `traceparent` of a span: what logs, events and outgoing calls carry. */
export function traceparentOf(span: Span): string {
  const { traceId, spanId, traceFlags } = span.spanContext();
  return `00-${traceId}-${spanId}-${traceFlags.toString(16).padStart(2, '0')}`;
}

/** The trace id of a span that is exported (sampled), for exemplars; undefined otherwise. */
export function sampledTraceId(span: Span | undefined): string | undefined {
  if (!span?.isRecording()) return undefined;
  return span.spanContext().traceId;
}

/** The context a `traceparent` header describes (a remote parent), or the root when it is absent or invalid. */
export function contextOf(traceparent: string | undefined): Context {
  return traceparent ? propagation.extract(ROOT_CONTEXT, { traceparent }) : ROOT_CONTEXT;
}

export interface ServerSpan {
  span: Span;
  /** The context to serve the request in: the span active, marked as the service's. */
  context: Context;
  traceparent: string;
}

/** A SERVER span for an incoming HTTP request, child of the caller's `traceparent`; undefined when tracing is off. */
export function startServerSpan(
  service: string,
  request: { method: string; route: string; headers: Record<string, unknown> },
): ServerSpan | undefined {
  if (!enabled) return undefined;
  const parent = inService(service, propagation.extract(ROOT_CONTEXT, request.headers));
  const span = tracerOf(service).startSpan(
    `${request.method} ${request.route}`,
    {
      kind: SpanKind.SERVER,
      attributes: { 'http.request.method': request.method, 'http.route': request.route },
    },
    parent,
  );
  return { span, context: trace.setSpan(parent, span), traceparent: traceparentOf(span) };
}

/** Ends a server span with the response's status (5xx is an error, as the HTTP conventions say). */
export function endServerSpan(server: ServerSpan, status: number) {
  server.span.setAttribute('http.response.status_code', status);
  if (status >= 500) server.span.setStatus({ code: SpanStatusCode.ERROR });
  server.span.end();
}

export interface SpanOf extends SpanOptions {
  /** The parent (default: the active context). */
  parent?: Context;
}

/**
 * Runs `work` in a span of `service` (active while it runs, ended when it settles, an error
 * recorded); with tracing off, runs it as it is.
 */
export function inSpan<T>(
  service: string,
  name: string,
  options: SpanOf,
  work: (span: Span | undefined) => Promise<T>,
): Promise<T> {
  if (!enabled) return work(undefined);
  const { parent, ...spanOptions } = options;
  return tracerOf(service).startActiveSpan(
    name,
    spanOptions,
    inService(service, parent ?? context.active()),
    async (span) => {
      try {
        return await work(span);
      } catch (err) {
        span.recordException(err as Error);
        span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
        throw err;
      } finally {
        span.end();
      }
    },
  );
}

/**
 * A CLIENT span for one SQL statement (its text, never its parameters), child of the active span;
 * none outside a traced request or event, so a background poll does not make a trace of its own.
 */
export function startStatementSpan(query: string): Span | undefined {
  if (!enabled) return undefined;
  const active = context.active();
  if (!trace.getSpan(active)?.isRecording()) return undefined;
  const service = active.getValue(SERVICE);
  const operation = /^\s*(\w+)/.exec(query)?.[1]?.toUpperCase() ?? 'SQL';
  return tracerOf(typeof service === 'string' ? service : 'db').startSpan(
    operation,
    {
      kind: SpanKind.CLIENT,
      attributes: { 'db.system.name': 'postgresql', 'db.operation.name': operation, 'db.query.text': query },
    },
    active,
  );
}

/** Ends a statement's span once its query settles; the query's own outcome is left as it is. */
export function endWhenSettled(span: Span, query: PromiseLike<unknown>) {
  query.then(
    () => span.end(),
    (err: Error) => {
      span.recordException(err);
      span.setStatus({ code: SpanStatusCode.ERROR, message: err.message });
      span.end();
    },
  );
}

/**
 * A message's producer context as a link (OTel messaging conventions: a consumer's span links to
 * the context the message was created in) and as the parent, so the whole flow stays one trace.
 */
export function consumerSpanOptions(traceparent: string | undefined, subject: string): SpanOf {
  if (!enabled) return {};
  const producer = contextOf(traceparent);
  const producerSpan = trace.getSpanContext(producer);
  const links: Link[] = producerSpan ? [{ context: producerSpan }] : [];
  return {
    kind: SpanKind.CONSUMER,
    parent: producer,
    links,
    attributes: {
      'messaging.system': 'nats',
      'messaging.operation.type': 'process',
      'messaging.destination.name': subject,
    },
  };
}
