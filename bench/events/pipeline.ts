import { performance } from 'node:perf_hooks';
import { connectDatabase, createOutbox } from '@bilten/platform';
import { sql as drizzleSql } from 'drizzle-orm';
import postgres from 'postgres';
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
} from '../stats.ts';
import { benchRecorded } from './event.ts';
import {
  type EventSide,
  type EventSideConfig,
  type EventSideHooks,
  startEventSide,
  startEventSideInWorker,
} from './event-side.ts';
import { BENCH_SCHEMA, createEventStore, eventStore } from './event-store.ts';
import { Resources } from './resources.ts';

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
  /** `eventSubscription({ maxBatchSize, parallelBatches })`: the consumer's group commit. */
  consumerMaxBatchSize: number;
  consumerParallelBatches: number;
  /** Relay and consumer on an event loop of their own (a worker thread) instead of the producers' one. */
  split: boolean;
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
  const database = await resources.database();
  const admin = postgres(database.url, { max: 1, onnotice: () => {} });
  resources.defer('admin connection', () => admin.end({ timeout: 5 }));
  await createEventStore(admin);
  await admin`create table public.bench_aggregates (
    id text primary key, version bigint not null, updated_at timestamptz not null)`;
  await admin`create table public.bench_effects (
    id bigserial primary key, event_id uuid not null, aggregate_id text not null, sequence bigint not null,
    n int not null, handled_at timestamptz not null default clock_timestamp())`;

  const names = resources.streamNames(config.ordered ? 'ordered' : 'unordered');

  // Stamps of one phase, keyed by event id, all on this thread's monotonic clock.
  const committedAt = new Map<string, number>();
  const publishedAt = new Map<string, number>();
  const effectAt = new Map<string, number>();
  const local = (wallClockAt: number) => wallClockAt - performance.timeOrigin;
  const hooks: EventSideHooks = {
    onPubAck: (id, at) => publishedAt.set(id, local(at)),
    onEffects: (ids, at) => {
      for (const id of ids) effectAt.set(id, local(at));
    },
  };
  const sideConfig: EventSideConfig = {
    databaseUrl: database.url,
    stream: names.stream,
    subjectPrefix: names.subjectPrefix,
    busName: `bench-events-${names.suffix}`,
    ordered: config.ordered,
    consumerPoolSize: config.consumerPoolSize,
    consumerConcurrency: config.consumerConcurrency,
    consumerMaxBatchSize: config.consumerMaxBatchSize,
    consumerParallelBatches: config.consumerParallelBatches,
    relayBatchSize: config.relayBatchSize,
    relayPollIntervalMs: config.relayPollIntervalMs,
  };
  const side: EventSide = config.split
    ? await startEventSideInWorker(sideConfig, hooks)
    : await startEventSide(sideConfig, hooks, { countWrites: false });
  resources.defer('relay and consumer', () => side.stop());

  // SQL statements sent per pool (`onQuery`) and socket writes to PostgreSQL (round trips), on
  // both threads when the relay and consumer run apart.
  let producerStatements = 0;
  const postgresWrites = postgresWriteCounter(Number(new URL(database.url).port || 5432));
  const wire = async () => {
    const stats = await side.stats();
    return {
      producers: producerStatements,
      consumer: stats.consumerStatements,
      relay: stats.relayStatements,
      writes: postgresWrites() + stats.postgresWrites,
    };
  };
  const producerDb = connectDatabase({
    url: database.url,
    applicationName: 'bench-producers',
    poolSize: config.producerPoolSize,
    onQuery: () => producerStatements++,
  });
  resources.defer('producer pool', () => producerDb.close());
  await side.startRelay();

  const outbox = createOutbox(eventStore, BENCH_SCHEMA);
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
        (select count(*)::int from bench_events.inbox) as inbox,
        (select count(*)::int from bench_events.outbox where sent_at is null) as unsent`;
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
      redeliveredDuplicates: (await side.stats()).redeliveredDuplicates,
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
  await side.stopRelay();
  cpu = cpuMeter();
  const beforeProducing = await wire();
  const produceStart = now();
  next = 0;
  await Promise.all(
    Array.from({ length: config.producers }, async () => {
      for (let i = next++; i < backlog; i = next++) await produce(config.events + total + i);
    }),
  );
  const producedIn = now() - produceStart;
  const producerCpu = cpu();
  const afterProducing = await wire();
  cpu = cpuMeter();
  const drainStart = now();
  await side.startRelay();
  await drain(backlog, 'backlog');
  const drainCpu = cpu();
  const afterDraining = await wire();
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
  const stats = await side.stats();
  return {
    ordered: config.ordered,
    throughput,
    latency,
    split,
    outOfOrderEffects: order?.out_of_order ?? -1,
    heldBack: stats.heldBack,
    warnings: stats.warnings,
    errors: stats.errors,
  };
}
