import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import {
  connectDatabase,
  connectJetStreamBus,
  createServiceMetrics,
  type Database,
  type DomainEvent,
  type EventBus,
  type EventConsumer,
  eventSubscription,
  type OutboxRelay,
  startOutboxRelay,
} from '@bilten/platform';
import { captureLogs, TEST_NATS_URL } from '@bilten/testkit';
import { sql as drizzleSql } from 'drizzle-orm';
import { postgresWriteCounter } from '../stats.ts';
import { benchRecorded } from './event.ts';
import { BENCH_SCHEMA, eventStore } from './event-store.ts';

/** The relay and the consumer of one pipeline pass: what runs beside (or apart from) the producers. */
export interface EventSideConfig {
  databaseUrl: string;
  stream: string;
  subjectPrefix: string;
  busName: string;
  ordered: boolean;
  consumerPoolSize: number;
  consumerConcurrency: number;
  consumerMaxBatchSize: number;
  consumerParallelBatches: number;
  relayBatchSize: number;
  relayPollIntervalMs: number;
}

export interface EventSideStats {
  consumerStatements: number;
  relayStatements: number;
  /** Socket writes to PostgreSQL from this side's own thread (0 when it shares the producers' thread). */
  postgresWrites: number;
  redeliveredDuplicates: number;
  heldBack: number;
  warnings: number;
  errors: number;
}

/** Stamps on the wall clock with sub-millisecond resolution, comparable across threads. */
export interface EventSideHooks {
  onPubAck(eventId: string, at: number): void;
  onEffects(eventIds: string[], at: number): void;
}

export interface EventSide {
  startRelay(): Promise<void>;
  stopRelay(): Promise<void>;
  stats(): Promise<EventSideStats>;
  stop(): Promise<void>;
}

export const wallClock = () => performance.timeOrigin + performance.now();

/** Runs the relay and the consumer on the calling thread's event loop. */
export async function startEventSide(
  config: EventSideConfig,
  hooks: EventSideHooks,
  options: { countWrites: boolean },
): Promise<EventSide> {
  const { log, lines } = captureLogs('bench-events');
  const metrics = createServiceMetrics('bench-events');
  const writes = options.countWrites
    ? postgresWriteCounter(Number(new URL(config.databaseUrl).port || 5432))
    : () => 0;
  const statements = { consumer: 0, relay: 0 };
  const stops: Array<() => Promise<unknown>> = [];
  const bus = await connectJetStreamBus({
    url: TEST_NATS_URL,
    stream: config.stream,
    subjectPrefix: config.subjectPrefix,
    name: config.busName,
    log,
    concurrency: config.consumerConcurrency,
  });
  stops.push(() => bus.close());
  const consumerDb = connectDatabase({
    url: config.databaseUrl,
    applicationName: 'bench-consumer',
    poolSize: config.consumerPoolSize,
    onQuery: () => statements.consumer++,
  });
  stops.push(() => consumerDb.close());
  const relayDb = connectDatabase({
    url: config.databaseUrl,
    applicationName: 'bench-relay',
    poolSize: 2,
    onQuery: () => statements.relay++,
  });
  stops.push(() => relayDb.close());

  // The handler tags its transaction with its event; the wrapper around `db.transaction` stamps
  // the events once that transaction has committed (one transaction may carry a batch).
  const effectsOf = new WeakMap<object, string[]>();
  const consumer: EventConsumer<typeof benchRecorded.payload> = {
    name: config.ordered ? 'bench-ordered' : 'bench',
    event: benchRecorded,
    ordered: config.ordered,
    groupCommit: true,
    async handle(event, tx) {
      await tx.execute(drizzleSql`insert into public.bench_effects (event_id, aggregate_id, sequence, n)
        values (${event.id}, ${event.aggregateId}, ${event.sequence}, ${event.payload.n})`);
      effectsOf.set(tx, [...(effectsOf.get(tx) ?? []), event.id]);
    },
  };
  const subscription = await bus.subscribe(
    eventSubscription(consumer, {
      service: 'bench',
      db: stampCommits(consumerDb.db, effectsOf, (ids) => hooks.onEffects(ids, wallClock())),
      tables: eventStore,
      log,
      metrics,
      maxBatchSize: config.consumerMaxBatchSize,
      parallelBatches: config.consumerParallelBatches,
    }),
  );
  stops.push(() => subscription.stop());

  // The relay's bus: the real one, stamping each PubAck.
  const relayBus: EventBus = {
    ...bus,
    async publish(event: DomainEvent) {
      const result = await bus.publish(event);
      hooks.onPubAck(event.id, wallClock());
      return result;
    },
  };
  let relay: OutboxRelay | undefined;
  const counter = async (name: string) => {
    const metric = await metrics.registry.getSingleMetric(name)?.get();
    return (metric?.values ?? []).reduce((sum, value) => sum + value.value, 0);
  };

  return {
    async startRelay() {
      relay ??= await startOutboxRelay({
        subgraph: BENCH_SCHEMA,
        db: relayDb.db,
        sql: relayDb.sql,
        tables: eventStore,
        bus: relayBus,
        log,
        metrics,
        batchSize: config.relayBatchSize,
        pollIntervalMs: config.relayPollIntervalMs,
      });
    },
    async stopRelay() {
      await relay?.stop();
      relay = undefined;
    },
    async stats() {
      return {
        consumerStatements: statements.consumer,
        relayStatements: statements.relay,
        postgresWrites: writes(),
        redeliveredDuplicates: await counter('events_redelivered_duplicates_total'),
        heldBack: await counter('events_held_back_total'),
        warnings: lines.filter((line) => Number(line.level) === 40).length,
        errors: lines.filter((line) => Number(line.level) >= 50).length,
      };
    },
    async stop() {
      await relay?.stop();
      for (const stop of stops.reverse()) await stop();
    },
  };
}

type Command = 'startRelay' | 'stopRelay' | 'stats' | 'stop';
export type WorkerMessage =
  | { kind: 'ready' }
  | { kind: 'failed'; message: string }
  | { kind: 'stamps'; pubAcks: Array<[string, number]>; effects: Array<[string[], number]> }
  | { kind: 'reply'; id: number; result?: unknown; error?: string };

/**
 * The same relay and consumer on a worker thread: an event loop of its own, as when they run in
 * a process (or pod) apart from the request handlers.
 */
export async function startEventSideInWorker(
  config: EventSideConfig,
  hooks: EventSideHooks,
): Promise<EventSide> {
  // The worker is TypeScript too: it registers tsx's loader before importing its entry.
  const entry = new URL('./event-worker.ts', import.meta.url).href;
  const tsx = import.meta.resolve('tsx/esm/api');
  const worker = new Worker(
    `import(${JSON.stringify(tsx)}).then(({ register }) => { register(); return import(${JSON.stringify(entry)}); });`,
    { eval: true, workerData: config },
  );
  const pending = new Map<number, { resolve(value: unknown): void; reject(err: Error): void }>();
  let nextId = 0;
  const ready = new Promise<void>((resolve, reject) => {
    worker.on('error', reject);
    worker.on('message', (message: WorkerMessage) => {
      if (message.kind === 'ready') resolve();
      else if (message.kind === 'failed') reject(new Error(message.message));
      else if (message.kind === 'stamps') {
        for (const [id, at] of message.pubAcks) hooks.onPubAck(id, at);
        for (const [ids, at] of message.effects) hooks.onEffects(ids, at);
      } else {
        const call = pending.get(message.id);
        pending.delete(message.id);
        if (message.error) call?.reject(new Error(message.error));
        else call?.resolve(message.result);
      }
    });
  });
  await ready;
  const call = <T>(command: Command) =>
    new Promise<T>((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      worker.postMessage({ id, command });
    });
  return {
    startRelay: () => call('startRelay'),
    stopRelay: () => call('stopRelay'),
    stats: () => call('stats'),
    async stop() {
      await call('stop');
      await worker.terminate();
    },
  };
}

/** The database with `transaction` wrapped: after a commit, `onCommit` gets the events its handlers tagged. */
function stampCommits(
  db: Database,
  effectsOf: WeakMap<object, string[]>,
  onCommit: (eventIds: string[]) => void,
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
    const eventIds = handle && effectsOf.get(handle);
    if (eventIds) onCommit(eventIds);
    return result;
  };
  return new Proxy(db, {
    get: (target, property) => (property === 'transaction' ? transaction : Reflect.get(target, property)),
  });
}
