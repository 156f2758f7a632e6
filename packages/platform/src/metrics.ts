import type { ApolloServerPlugin } from '@apollo/server';
import { trace } from '@opentelemetry/api';
import type { GraphQLError } from 'graphql';
import {
  Counter,
  collectDefaultMetrics,
  Gauge,
  Histogram,
  type HistogramConfiguration,
  type MetricObject,
  Registry,
} from 'prom-client';
import { DomainError } from './errors.ts';
import { sampledTraceId } from './tracing.ts';

export interface ServiceMetrics {
  /** Whose metrics these are: also the service its spans are attributed to. */
  service: string;
  registry: Registry;
  /** Operation names as labels: client-chosen, so bounded (`boundedLabelValues`). */
  operationLabel: (name: string) => string;
  /** `extensions.code` values as labels, bounded the same way. */
  errorCodeLabel: (code: string) => string;
  /** HTTP methods as labels, bounded the same way. */
  methodLabel: (method: string) => string;
  httpDuration: Histogram<'method' | 'route' | 'status'>;
  /** Requests received and not yet answered: what the HPAs scale on besides CPU (k8s/autoscaling). */
  httpInFlight: Gauge;
  graphqlDuration: Histogram<'operation' | 'type'>;
  graphqlErrors: Counter<'operation' | 'code'>;
  dbQueries: Counter<'pool'>;
  events: ReturnType<typeof createEventMetrics>;
}

/** Reuses one call's result for a second, long enough for the gauges of one scrape. */
function sharedForOneScrape<T>(read: () => Promise<T>): () => Promise<T> {
  let cached: { at: number; value: Promise<T> } | undefined;
  return () => {
    if (!cached || Date.now() - cached.at > 1_000) cached = { at: Date.now(), value: read() };
    return cached.value;
  };
}

/** Outbox, relay and consumer health: what the Prometheus rules in k8s/monitoring alert on. */
function createEventMetrics(registry: Registry) {
  const registers = [registry];
  const byType = ['type'] as const;
  const byConsumer = ['consumer', 'type'] as const;
  /** Read at scrape time; set by the outbox relay and the subgraph's consumers when they start. */
  const sources: {
    outbox?: () => Promise<{ backlog: number; oldestAgeSeconds: number }>;
    consumers?: () => Promise<
      Array<{ durableName: string; numPending: number; numAckPending: number; numRedelivered: number }>
    >;
  } = {};
  // Several gauges read one source; one scrape then costs one query, not one per gauge.
  const outboxNow = sharedForOneScrape(() => sources.outbox!());
  const consumersNow = sharedForOneScrape(async () => (await sources.consumers?.()) ?? []);
  return {
    sources,
    outboxBacklog: new Gauge({
      name: 'outbox_backlog',
      help: 'Outbox rows not yet published',
      registers,
      async collect() {
        if (sources.outbox) this.set((await outboxNow()).backlog);
      },
    }),
    outboxOldestAge: new Gauge({
      name: 'outbox_oldest_unsent_age_seconds',
      help: 'Age of the oldest outbox row not yet published',
      registers,
      async collect() {
        if (sources.outbox) this.set((await outboxNow()).oldestAgeSeconds);
      },
    }),
    published: new Counter({
      name: 'events_published_total',
      help: 'Events stored by the broker',
      labelNames: byType,
      registers,
    }),
    publishDuplicates: new Counter({
      name: 'events_publish_duplicates_total',
      help: 'Publishes the broker recognised as already stored (PubAck duplicate)',
      labelNames: byType,
      registers,
    }),
    publishFailures: new Counter({
      name: 'events_publish_failures_total',
      help: 'Publishes that failed and stay in the outbox',
      labelNames: byType,
      registers,
    }),
    consumed: new Counter({
      name: 'events_consumed_total',
      help: 'Events applied by a consumer',
      labelNames: byConsumer,
      registers,
    }),
    duplicates: new Counter({
      name: 'events_redelivered_duplicates_total',
      help: 'Deliveries skipped because the consumer had applied the event already',
      labelNames: byConsumer,
      registers,
    }),
    failed: new Counter({
      name: 'events_failed_total',
      help: 'Handler failures',
      labelNames: byConsumer,
      registers,
    }),
    retried: new Counter({
      name: 'events_retried_total',
      help: 'Failed events scheduled for redelivery',
      labelNames: byConsumer,
      registers,
    }),
    heldBack: new Counter({
      name: 'events_held_back_total',
      help: 'Events redelivered later because an earlier event of their aggregate was missing',
      labelNames: byConsumer,
      registers,
    }),
    deadLettered: new Counter({
      name: 'events_dead_lettered_total',
      help: 'Events given up and stored in the dead-letter stream',
      labelNames: byConsumer,
      registers,
    }),
    handlerDuration: exemplarHistogram(registry, {
      name: 'event_handler_duration_seconds',
      help: 'Time to apply one event, transaction included',
      labelNames: ['consumer'],
      buckets: LATENCY_BUCKETS,
    }),
    consumerPending: new Gauge({
      name: 'event_consumer_pending',
      help: 'Messages in the stream not yet delivered to the consumer (num_pending)',
      labelNames: ['consumer'],
      registers,
      async collect() {
        for (const stats of await consumersNow()) this.set({ consumer: stats.durableName }, stats.numPending);
      },
    }),
    consumerAckPending: new Gauge({
      name: 'event_consumer_ack_pending',
      help: 'Messages delivered and not yet acknowledged (num_ack_pending)',
      labelNames: ['consumer'],
      registers,
      async collect() {
        for (const stats of await consumersNow())
          this.set({ consumer: stats.durableName }, stats.numAckPending);
      },
    }),
    consumerRedelivered: new Gauge({
      name: 'event_consumer_redelivered',
      help: 'Messages redelivered at least once and not yet acknowledged (num_redelivered)',
      labelNames: ['consumer'],
      registers,
      async collect() {
        for (const stats of await consumersNow())
          this.set({ consumer: stats.durableName }, stats.numRedelivered);
      },
    }),
  };
}

/** The label value that stands for every value over a label's bounds. */
export const OTHER_LABEL = 'other';
/** Distinct operation names a service labels its GraphQL metrics with; later ones count as `other`. */
export const MAX_OPERATION_LABELS = 100;

/**
 * A label whose values clients choose (operation names, error codes, methods). prom-client keeps
 * every series it has seen until restart, and each is printed on every scrape, so an unbounded
 * value is a memory leak anyone can drive: values longer than `maxLength`, and new values once
 * `maxValues` are known, become `other`. The first values seen keep their series.
 */
export function boundedLabelValues({
  maxValues,
  maxLength = 100,
}: {
  maxValues: number;
  maxLength?: number;
}) {
  const known = new Set<string>();
  return (value: string): string => {
    if (value.length > maxLength) return OTHER_LABEL;
    if (known.has(value)) return value;
    if (known.size >= maxValues) return OTHER_LABEL;
    known.add(value);
    return value;
  };
}

/**
 * A latency histogram that keeps the trace id of an observation as its bucket's exemplar.
 * prom-client refuses exemplars on a Prometheus-text registry when a metric is made, though it
 * renders them only in OpenMetrics anyway (`openMetricsText`): so it is registered afterwards.
 */
function exemplarHistogram<L extends string>(
  registry: Registry,
  configuration: HistogramConfiguration<L>,
): Histogram<L> {
  const histogram = new Histogram({ ...configuration, enableExemplars: true, registers: [] });
  registry.registerMetric(histogram);
  return histogram;
}

const LATENCY_BUCKETS = [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** One registry per service, so services sharing a process keep separate /metrics. */
export function createServiceMetrics(service: string, options: { events?: boolean } = {}): ServiceMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });
  return {
    service,
    registry,
    operationLabel: boundedLabelValues({ maxValues: MAX_OPERATION_LABELS }),
    errorCodeLabel: boundedLabelValues({ maxValues: 50, maxLength: 64 }),
    methodLabel: boundedLabelValues({ maxValues: 20, maxLength: 16 }),
    httpDuration: exemplarHistogram(registry, {
      name: 'http_request_duration_seconds',
      help: 'HTTP request latency',
      labelNames: ['method', 'route', 'status'],
      buckets: LATENCY_BUCKETS,
    }),
    httpInFlight: new Gauge({
      name: 'http_requests_in_flight',
      help: 'HTTP requests received and not yet answered',
      registers: [registry],
    }),
    graphqlDuration: exemplarHistogram(registry, {
      name: 'graphql_operation_duration_seconds',
      help: 'GraphQL operation latency, from parse to response',
      labelNames: ['operation', 'type'],
      buckets: LATENCY_BUCKETS,
    }),
    graphqlErrors: new Counter({
      name: 'graphql_errors_total',
      help: 'GraphQL errors returned, by extensions.code',
      labelNames: ['operation', 'code'],
      registers: [registry],
    }),
    dbQueries: new Counter({
      name: 'db_queries_total',
      help: 'SQL statements sent to PostgreSQL, by pool: requests (an N+1 shows up here) or background (events)',
      labelNames: ['pool'],
      registers: [registry],
    }),
    // A service without an outbox or consumers (the gateway) keeps them off its /metrics.
    events: createEventMetrics(options.events === false ? new Registry() : registry),
  };
}

function clientCode(error: GraphQLError): string {
  if (error.originalError instanceof DomainError) return error.originalError.code;
  const code = error.extensions?.code;
  return typeof code === 'string' && code !== 'INTERNAL_SERVER_ERROR' ? code : 'INTERNAL';
}

/** Times every operation and counts its errors by code. */
export function graphqlMetricsPlugin(metrics: ServiceMetrics): ApolloServerPlugin {
  return {
    async requestDidStart() {
      const stop = metrics.graphqlDuration.startTimer({}, {});
      return {
        async willSendResponse({ operationName, operation, errors }) {
          const labels = {
            operation: metrics.operationLabel(operationName ?? 'anonymous'),
            type: operation?.operation ?? 'unknown',
          };
          stop(labels, exemplarOf());
          // Runs before formatError: read the code the client will see, not Apollo's raw one.
          for (const error of errors ?? [])
            metrics.graphqlErrors.inc({
              operation: labels.operation,
              code: metrics.errorCodeLabel(clientCode(error)),
            });
        },
      };
    },
  };
}

/** The exemplar of an observation made in the active span: its trace id, when that trace is exported. */
export function exemplarOf(span = trace.getActiveSpan()): Record<string, string> {
  const traceId = sampledTraceId(span);
  return traceId ? { traceId } : {};
}

/**
 * The registry's metrics as OpenMetrics text, exemplars included, for scrapers that ask for it;
 * the registry itself stays in Prometheus text. (prom-client renders a registry in one format
 * only, and turning a registry to OpenMetrics renames its counters for good.)
 */
export async function openMetricsText(registry: Registry): Promise<string> {
  const view = Object.create(registry, {
    contentType: { value: Registry.OPENMETRICS_CONTENT_TYPE },
  }) as Registry & { getMetricsAsString(metric: { get(): Promise<MetricObject> }): Promise<string> };
  const metrics = registry.getMetricsAsArray() as unknown as Array<{ get(): Promise<MetricObject> }>;
  const texts = await Promise.all(
    metrics.map(async (metric) => {
      const data = await metric.get();
      // OpenMetrics names a counter without `_total` and adds it to the sample.
      const name = String(data.type) === 'counter' ? data.name.replace(/_total$/, '') : data.name;
      return view.getMetricsAsString({ get: async () => ({ ...data, name }) });
    }),
  );
  return `${texts.join('\n')}\n# EOF\n`;
}

/** Whether a scrape's Accept header asks for OpenMetrics (Prometheus does, when it stores exemplars). */
export const acceptsOpenMetrics = (accept: unknown): boolean =>
  typeof accept === 'string' && accept.includes('application/openmetrics-text');
