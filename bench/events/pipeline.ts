import { eventStore } from '@bilten/orders/src/db/schema.ts';
import {
  applyMigrations,
  connectDatabase,
  connectJetStreamBus,
  createOutbox,
  createServiceMetrics,
  type Database,
  type DomainEvent,
  defineEvent,
  type EventBus,
  type EventConsumer,
  eventSubscription,
  type OutboxRelay,
  startOutboxRelay,
} from '@bilten/platform';
import { captureLogs, TEST_NATS_URL } from '@bilten/testkit';
import { sql as drizzleSql } from 'drizzle-orm';
import postgres from 'postgres';
import { z } from 'zod';
import { Resources } from './resources.ts';
import {
  type CpuUsage,
  cpuMeter,
  deltas,
  type LatencySummary,
  maxOf,
  minOf,
  now,
  postgresWriteCounter,
  sleep,
  summarize,
} from './stats.ts';

/** A stand-in domain event of the orders subgraph (its outbox, inbox and position tables). */
export const benchRecorded = defineEvent({
  type: 'bilten.orders.bench.recorded',
  aggregateType: 'bench',
  payload: z.object({ n: z.number().int(), note: z.string() }),
});

export interface PipelineConfig {
  ordered: boolean;
  /** Concurrent producer loops; each transaction = one state change + one event. */
  producers: number;
  aggregates: number;
  /** Events of the max-throughput phase. */
  events: number;
  /** Paced rate and duration of the latency phase. */
  rate: number;
  latencySeconds: number;
  producerPoolSize: number;
  consumerPoolSize: number;
  /** `connectJetStreamBus({ concurrency })`: messages handled at once by the subscription. */
  consumerConcurrency: number;
  relayBatchSize: number;
  relayPollIntervalMs: number;
  /** Events of the split phase (producers alone, then relay + consumer alone). */
  backlogEvents: number;
  /** Gives up waiting for the effects of a phase after this long. */
  drainTimeoutMs: number;
}

export interface ThroughputResult {
  events: number;
  /** First producer commit → last effect commit. */
  seconds: number;
  eventsPerSecond: number;
  /** Producer commits/s while the relay and the consumer ran alongside. */
  producerCommitsPerSecond: number;
  /** First commit → last PubAck seen by the relay. */
  relayEventsPerSecond: number;
  exactlyOnce: ExactlyOnceCheck;
  commitToEffectMs: LatencySummary;
  cpu: CpuUsage;
}

export interface LatencyResult {
  targetRate: number;
  achievedRate: number;
  events: number;
  seconds: number;
  exactlyOnce: ExactlyOnceCheck;
  /** Producer commit → consumer's effect transaction committed. */
  commitToEffectMs: LatencySummary;
  /** Producer commit → PubAck received by the relay (relay wake-up, claim, publish). */
  commitToPubAckMs: LatencySummary;
  /** PubAck → effect committed (delivery, inbox + effect transaction). */
  pubAckToEffectMs: LatencySummary;
  cpu: CpuUsage;
}

export interface ExactlyOnceCheck {
  ok: boolean;
  expected: number;
  effects: number;
  distinctEventIds: number;
  inboxRows: number;
  unsentOutboxRows: number;
  /** Deliveries the inbox recognised as applied already (redeliveries). */
  redeliveredDuplicates: number;
}

export interface SplitResult {
  events: number;
  /** SQL statements the producer pool sent per event (`connectDatabase({ onQuery })`). */
  producerStatementsPerEvent: number;
  /** Socket writes to PostgreSQL per event while producing alone: round trips. */
  producerRoundTripsPerEvent: number;
  consumerStatementsPerEvent: number;
  relayStatementsPerEvent: number;
  /** Socket writes to PostgreSQL per event while the relay and the consumer drained. */
  drainRoundTripsPerEvent: number;
  /** Producer transactions with the relay stopped and the consumer idle. */
  producersAloneCommitsPerSecond: number;
  producersAloneCpu: CpuUsage;
  /** Relay start → last effect, draining the backlog with the producers idle. */
  drainEventsPerSecond: number;
  drainRelayPubAcksPerSecond: number;
  drainCpu: CpuUsage;
  exactlyOnce: ExactlyOnceCheck;
}

export interface PassResult {
  ordered: boolean;
  throughput: ThroughputResult;
  latency: LatencyResult;
  split: SplitResult;
  /** Effects applied before an earlier event of their aggregate (only the ordered consumer must keep this at 0). */
  outOfOrderEffects: number;
  heldBack: number;
  warnings: number;
  errors: number;
}

/**
 * One pass of the real pipeline on a fresh database and private stream: producers commit a state
 * change and an outbox row, `startOutboxRelay` publishes to JetStream, `eventSubscription`
 * applies an effect row with its inbox row. Phases: as fast as possible, paced, then split (each
 * side alone).
 */
export async function runPipelinePass(config: PipelineConfig, progress: (line: string) => void) {
  const resources = new Resources();
  try {
    return await pass(config, resources, progress);
  } finally {
    await resources.release();
  }
}

async function pass(
  config: PipelineConfig,
  resources: Resources,
  progress: (line: string) => void,
): Promise<PassResult> {
  const { log, lines } = captureLogs('bench-events');
  const database = await resources.database();
  await applyMigrations(database.url, 'orders', new URL('../../subgraphs/orders/drizzle/', import.meta.url));
  const admin = postgres(database.url, { max: 1, onnotice: () => {} });
  resources.defer('admin connection', () => admin.end({ timeout: 5 }));
  await admin`create table public.bench_aggregates (
    id text primary key, version bigint not null, updated_at timestamptz not null)`;
  await admin`create table public.bench_effects (
    id bigserial primary key, event_id uuid not null, aggregate_id text not null, sequence bigint not null,
    n int not null, handled_at timestamptz not null default clock_timestamp())`;

  const metrics = createServiceMetrics('bench-events');
  const names = resources.streamNames(config.ordered ? 'ordered' : 'unordered');
  const bus = await connectJetStreamBus({
    url: TEST_NATS_URL,
    stream: names.stream,
    subjectPrefix: names.subjectPrefix,
    name: `bench-events-${names.suffix}`,
    log,
    concurrency: config.consumerConcurrency,
  });
  resources.defer('bus', () => bus.close());

  // SQL statements sent per pool (`onQuery`) and socket writes to PostgreSQL (round trips).
  const statements = { producers: 0, consumer: 0, relay: 0 };
  const postgresWrites = postgresWriteCounter(Number(new URL(database.url).port || 5432));
  const wire = () => ({ ...statements, writes: postgresWrites() });
  const producerDb = connectDatabase({
    url: database.url,
    applicationName: 'bench-producers',
    poolSize: config.producerPoolSize,
    onQuery: () => statements.producers++,
  });
  resources.defer('producer pool', () => producerDb.close());
  const consumerDb = connectDatabase({
    url: database.url,
    applicationName: 'bench-consumer',
    poolSize: config.consumerPoolSize,
    onQuery: () => statements.consumer++,
  });
  resources.defer('consumer pool', () => consumerDb.close());
  const relayDb = connectDatabase({
    url: database.url,
    applicationName: 'bench-relay',
    poolSize: 2,
    onQuery: () => statements.relay++,
  });
  resources.defer('relay pool', () => relayDb.close());

  // Stamps of one phase, keyed by event id, all on the same monotonic clock.
  const committedAt = new Map<string, number>();
  const publishedAt = new Map<string, number>();
  const effectAt = new Map<string, number>();

  // The consumer's effect transaction: the handler tags it with its event, and the wrapper around
  // `db.transaction` stamps the event once that transaction has committed.
  const effectOf = new WeakMap<object, string>();
  const consumer: EventConsumer<typeof benchRecorded.payload> = {
    name: config.ordered ? 'bench-ordered' : 'bench',
    event: benchRecorded,
    ordered: config.ordered,
    async handle(event, tx) {
      await tx.execute(drizzleSql`insert into public.bench_effects (event_id, aggregate_id, sequence, n)
        values (${event.id}, ${event.aggregateId}, ${event.sequence}, ${event.payload.n})`);
      effectOf.set(tx, event.id);
    },
  };
  const subscription = await bus.subscribe(
    eventSubscription(consumer, {
      service: 'bench',
      db: stampCommits(consumerDb.db, effectOf, (id) => effectAt.set(id, now())),
      tables: eventStore,
      log,
      metrics,
    }),
  );
  resources.defer('subscription', () => subscription.stop());

  // The relay's bus: the real one, stamping each PubAck.
  const relayBus: EventBus = {
    ...bus,
    async publish(event: DomainEvent) {
      const result = await bus.publish(event);
      publishedAt.set(event.id, now());
      return result;
    },
  };
  const startRelay = () =>
    startOutboxRelay({
      subgraph: 'orders',
      db: relayDb.db,
      sql: relayDb.sql,
      tables: eventStore,
      bus: relayBus,
      log,
      metrics,
      batchSize: config.relayBatchSize,
      pollIntervalMs: config.relayPollIntervalMs,
    });
  let relay: OutboxRelay | undefined = await startRelay();
  resources.defer('relay', async () => relay?.stop());

  const outbox = createOutbox(eventStore, 'orders');
  const producerDatabase = producerDb.db;
  const note = 'x'.repeat(64);
  async function produce(n: number) {
    const aggregateId = `agg-${Math.floor(Math.random() * config.aggregates)}`;
    const event = await producerDatabase.transaction(async (tx) => {
      await tx.execute(drizzleSql`insert into public.bench_aggregates (id, version, updated_at)
        values (${aggregateId}, 1, now())
        on conflict (id) do update set version = bench_aggregates.version + 1, updated_at = now()`);
      return outbox.publish(tx, benchRecorded, aggregateId, { n, note });
    });
    committedAt.set(event.id, now());
  }

  /** Waits for the phase's effects; `settle` then gives a late duplicate the time to show. */
  async function drain(expected: number, label: string) {
    const deadline = now() + config.drainTimeoutMs;
    let lastReport = now();
    while (effectAt.size < expected && now() < deadline) {
      await sleep(10);
      if (now() - lastReport > 5_000) {
        progress(`  ${label}: ${effectAt.size}/${expected} effects`);
        lastReport = now();
      }
    }
  }
  const settle = () => sleep(500);

  async function checkExactlyOnce(from: number, to: number): Promise<ExactlyOnceCheck> {
    const [row] = await admin<
      Array<{ effects: number; distinct_ids: number; inbox: number; unsent: number }>
    >`select
        (select count(*)::int from public.bench_effects where n >= ${from} and n < ${to}) as effects,
        (select count(distinct event_id)::int from public.bench_effects where n >= ${from} and n < ${to}) as distinct_ids,
        (select count(*)::int from orders.inbox) as inbox,
        (select count(*)::int from orders.outbox where sent_at is null) as unsent`;
    const expected = to - from;
    const effects = row?.effects ?? 0;
    const distinctEventIds = row?.distinct_ids ?? 0;
    return {
      ok: effects === expected && distinctEventIds === expected && (row?.unsent ?? -1) === 0,
      expected,
      effects,
      distinctEventIds,
      inboxRows: row?.inbox ?? 0,
      unsentOutboxRows: row?.unsent ?? -1,
      redeliveredDuplicates: await counter(metrics.registry, 'events_redelivered_duplicates_total'),
    };
  }

  const clearStamps = () => {
    committedAt.clear();
    publishedAt.clear();
    effectAt.clear();
  };

  // Warm-up: connections, JIT, the consumer's first pull.
  for (let i = 0; i < 50; i++) await produce(-1 - i);
  await drain(50, 'warm-up');
  await settle();
  clearStamps();

  // (a) Max sustained throughput.
  progress(`  throughput: ${config.events} events, ${config.producers} producers`);
  let cpu = cpuMeter();
  let next = 0;
  await Promise.all(
    Array.from({ length: config.producers }, async () => {
      for (let n = next++; n < config.events; n = next++) await produce(n);
    }),
  );
  await drain(config.events, 'throughput');
  const throughputCpu = cpu();
  await settle();
  const firstCommit = minOf(committedAt.values());
  const lastCommit = maxOf(committedAt.values());
  const lastPubAck = maxOf(publishedAt.values());
  const lastEffect = maxOf(effectAt.values());
  const seconds = (lastEffect - firstCommit) / 1_000;
  const throughput: ThroughputResult = {
    events: config.events,
    seconds: Math.round(seconds * 100) / 100,
    eventsPerSecond: Math.round(effectAt.size / seconds),
    producerCommitsPerSecond: Math.round((committedAt.size / (lastCommit - firstCommit)) * 1_000),
    relayEventsPerSecond: Math.round((publishedAt.size / (lastPubAck - firstCommit)) * 1_000),
    exactlyOnce: await checkExactlyOnce(0, config.events),
    commitToEffectMs: summarize(deltas(committedAt, effectAt)),
    cpu: throughputCpu,
  };
  clearStamps();

  // (b) Commit-to-effect latency at a fixed rate.
  const total = Math.round(config.rate * config.latencySeconds);
  progress(`  latency: ${total} events at ${config.rate}/s`);
  cpu = cpuMeter();
  const start = now() + 20;
  const interval = 1_000 / config.rate;
  next = 0;
  await Promise.all(
    Array.from({ length: config.producers }, async () => {
      for (let i = next++; i < total; i = next++) {
        const wait = start + i * interval - now();
        if (wait > 0) await sleep(wait);
        await produce(config.events + i);
      }
    }),
  );
  await drain(total, 'latency');
  const latencyCpu = cpu();
  await settle();
  const producedFor = (maxOf(committedAt.values()) - minOf(committedAt.values())) / 1_000;
  const latency: LatencyResult = {
    targetRate: config.rate,
    achievedRate: Math.round((committedAt.size - 1) / producedFor),
    events: total,
    seconds: Math.round(producedFor * 100) / 100,
    exactlyOnce: await checkExactlyOnce(config.events, config.events + total),
    commitToEffectMs: summarize(deltas(committedAt, effectAt)),
    commitToPubAckMs: summarize(deltas(committedAt, publishedAt)),
    pubAckToEffectMs: summarize(deltas(publishedAt, effectAt)),
    cpu: latencyCpu,
  };

  clearStamps();

  // (c) Split: the producers alone fill a backlog with the relay stopped, then the relay and the
  // consumer drain it alone: what each side can do without the other on the same machine.
  const backlog = config.backlogEvents;
  progress(`  split: ${backlog} events produced with the relay stopped, then drained`);
  await relay.stop();
  relay = undefined;
  cpu = cpuMeter();
  const beforeProducing = wire();
  const produceStart = now();
  next = 0;
  await Promise.all(
    Array.from({ length: config.producers }, async () => {
      for (let i = next++; i < backlog; i = next++) await produce(config.events + total + i);
    }),
  );
  const producedIn = now() - produceStart;
  const producerCpu = cpu();
  const afterProducing = wire();
  cpu = cpuMeter();
  const drainStart = now();
  relay = await startRelay();
  await drain(backlog, 'backlog');
  const drainCpu = cpu();
  const afterDraining = wire();
  await settle();
  const drainedIn = maxOf(effectAt.values()) - drainStart;
  const perEvent = (value: number) => Math.round((value / backlog) * 100) / 100;
  const split: SplitResult = {
    events: backlog,
    producerStatementsPerEvent: perEvent(afterProducing.producers - beforeProducing.producers),
    producerRoundTripsPerEvent: perEvent(afterProducing.writes - beforeProducing.writes),
    consumerStatementsPerEvent: perEvent(afterDraining.consumer - afterProducing.consumer),
    relayStatementsPerEvent: perEvent(afterDraining.relay - afterProducing.relay),
    drainRoundTripsPerEvent: perEvent(afterDraining.writes - afterProducing.writes),
    producersAloneCommitsPerSecond: Math.round((backlog / producedIn) * 1_000),
    producersAloneCpu: producerCpu,
    drainEventsPerSecond: Math.round((effectAt.size / drainedIn) * 1_000),
    drainRelayPubAcksPerSecond: Math.round(
      (publishedAt.size / (maxOf(publishedAt.values()) - drainStart)) * 1_000,
    ),
    drainCpu,
    exactlyOnce: await checkExactlyOnce(config.events + total, config.events + total + backlog),
  };

  // Per aggregate, the n-th effect applied should be the aggregate's n-th event.
  const [order] = await admin<Array<{ out_of_order: number }>>`
    select count(*)::int as out_of_order from (
      select sequence, row_number() over (partition by aggregate_id order by id) as position
      from public.bench_effects) applied
    where sequence <> position`;
  return {
    ordered: config.ordered,
    throughput,
    latency,
    split,
    outOfOrderEffects: order?.out_of_order ?? -1,
    heldBack: await counter(metrics.registry, 'events_held_back_total'),
    warnings: lines.filter((line) => Number(line.level) === 40).length,
    errors: lines.filter((line) => Number(line.level) >= 50).length,
  };
}

/** The database with `transaction` wrapped: after a commit, `onCommit` gets the event its handler tagged. */
function stampCommits(
  db: Database,
  effectOf: WeakMap<object, string>,
  onCommit: (eventId: string) => void,
): Database {
  const transaction = async (
    work: (tx: object) => Promise<unknown>,
    ...rest: unknown[]
  ): Promise<unknown> => {
    let handle: object | undefined;
    const result = await (db.transaction as (...args: unknown[]) => Promise<unknown>)(
      async (tx: object) => {
        handle = tx;
        return work(tx);
      },
      ...rest,
    );
    const eventId = handle && effectOf.get(handle);
    if (eventId) onCommit(eventId);
    return result;
  };
  return new Proxy(db, {
    get: (target, property) => (property === 'transaction' ? transaction : Reflect.get(target, property)),
  });
}

async function counter(registry: ReturnType<typeof createServiceMetrics>['registry'], name: string) {
  const metric = await registry.getSingleMetric(name)?.get();
  return (metric?.values ?? []).reduce((sum, value) => sum + value.value, 0);
}
