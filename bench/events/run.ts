/**
 * Events pipeline benchmark: outbox → relay → JetStream → exactly-once consumer, against the raw
 * limits of JetStream and PostgreSQL on the same machine, in one run. `npm run bench:events`.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { ADMIN_DATABASE_URL, TEST_NATS_URL } from '@bilten/testkit';
import { connect } from '@nats-io/transport-node';
import postgres from 'postgres';
import { type CpuUsage, fmt, formatTable } from '../stats.ts';
import { type PassResult, type PipelineConfig, runPipelinePass } from './pipeline.ts';
import { rawJetStream, rawPostgres } from './raw.ts';
import { Resources } from './resources.ts';

const int = (name: string, fallback: number) => {
  const value = process.env[name];
  return value === undefined || value === '' ? fallback : Number.parseInt(value, 10);
};

// Every knob below is an option the platform already exposes; BENCH_* variables override them.
const producers = int('BENCH_PRODUCERS', 16);
const config: PipelineConfig = {
  ordered: false,
  producers,
  aggregates: int('BENCH_AGGREGATES', 200),
  events: int('BENCH_EVENTS', 20_000),
  rate: int('BENCH_RATE', 500),
  latencySeconds: int('BENCH_LATENCY_SECONDS', 20),
  producerPoolSize: producers,
  consumerPoolSize: int('BENCH_CONSUMER_POOL', 8),
  consumerConcurrency: int('BENCH_CONSUMER_CONCURRENCY', 32),
  consumerMaxBatchSize: int('BENCH_CONSUMER_BATCH', 64),
  consumerParallelBatches: int('BENCH_CONSUMER_PARALLEL_BATCHES', 2),
  split: false,
  relayBatchSize: int('BENCH_RELAY_BATCH', 500),
  relayPollIntervalMs: int('BENCH_RELAY_POLL_MS', 1_000),
  backlogEvents: int('BENCH_BACKLOG_EVENTS', 5_000),
  drainTimeoutMs: int('BENCH_DRAIN_TIMEOUT_MS', 60_000),
};
const raw = {
  jetstreamMessages: int('BENCH_RAW_MESSAGES', config.events),
  publishWindow: 256,
  postgresTransactions: int('BENCH_RAW_TRANSACTIONS', config.events),
};
const targets = { eventsPerSecond: 2_000, p99Ms: 250, atRate: 500 };
// A pass is `unordered` or `ordered`, with `-split` for the relay and consumer on their own event loop.
const passes = (process.env.BENCH_PASSES ?? 'unordered,ordered,unordered-split,ordered-split').split(',');

const log = (line: string) => process.stdout.write(`${line}\n`);

/** The commit measured (with a + when the work tree has changes), for comparing runs. */
function gitCommit(): string | undefined {
  try {
    const git = (...args: string[]) => execFileSync('git', args, { encoding: 'utf8', stdio: 'pipe' }).trim();
    return `${git('rev-parse', '--short', 'HEAD')}${git('status', '--porcelain', '--untracked-files=no') ? '+' : ''}`;
  } catch {
    return undefined;
  }
}

async function versions() {
  const sql = postgres(ADMIN_DATABASE_URL, { max: 1, onnotice: () => {} });
  const nc = await connect({ servers: TEST_NATS_URL, name: 'bench-versions' });
  try {
    const [row] = await sql<Array<{ server_version: string }>>`show server_version`;
    return {
      node: process.version,
      postgres: row?.server_version,
      nats: nc.info?.version,
      commit: gitCommit(),
    };
  } finally {
    await sql.end();
    await nc.close();
  }
}

async function main() {
  const began = Date.now();
  log(`bench:events on ${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'unknown cpu'})`);
  const loadAtStart = os.loadavg();
  log(`load average before the run: ${loadAtStart.map((value) => value.toFixed(2)).join(', ')}`);
  const software = await versions();
  log(`measuring commit ${software.commit ?? 'unknown'}`);

  log('limit B: raw PostgreSQL commits');
  const rawPg = await rawPostgres({
    transactions: raw.postgresTransactions,
    concurrency: config.producers,
    aggregates: config.aggregates,
  });
  log(`  ${fmt(rawPg.commitsPerSecond)} commits/s`);

  log('limit A: raw JetStream publish + consume');
  const rawJs = await rawJetStream({
    messages: raw.jetstreamMessages,
    publishWindow: raw.publishWindow,
    ackAckConcurrency: config.consumerConcurrency,
  });
  log(`  ${fmt(rawJs.msgsPerSecond)} msgs/s`);

  const results: Record<string, PassResult> = {};
  for (const name of passes) {
    const ordered = name.startsWith('ordered');
    const split = name.endsWith('-split');
    log(
      `pipeline ${name} (ordered: ${ordered}, relay and consumer ${split ? 'on their own event loop' : 'beside the producers'})`,
    );
    const result = await runPipelinePass({ ...config, ordered, split }, log);
    results[name] = result;
    log(
      `  ${fmt(result.throughput.eventsPerSecond)} events/s, p99 ${fmt(result.latency.commitToEffectMs.p99, 1)} ms at ${result.latency.achievedRate}/s`,
    );
  }

  const ratio = (value: number, limit: number) => Math.round((value / limit) * 1_000) / 1_000;
  const verdicts = Object.fromEntries(
    Object.entries(results).map(([name, result]) => [
      name,
      {
        throughput:
          result.throughput.eventsPerSecond >= targets.eventsPerSecond && result.throughput.exactlyOnce.ok,
        latency:
          result.latency.commitToEffectMs.p99 < targets.p99Ms &&
          result.latency.exactlyOnce.ok &&
          result.latency.achievedRate >= targets.atRate * 0.95,
        ratioToJetStream: ratio(result.throughput.eventsPerSecond, rawJs.msgsPerSecond),
        ratioToPostgres: ratio(result.throughput.eventsPerSecond, rawPg.commitsPerSecond),
      },
    ]),
  );

  const pass = (ok: boolean) => (ok ? 'PASS' : 'FAIL');
  const all = Object.entries(results);
  const column = (cell: (result: PassResult, verdict: (typeof verdicts)[string]) => string) =>
    all.map(([name, result]) => cell(result, verdicts[name]!));
  const ms = (value: number) => fmt(value, 1);
  const rows: string[][] = [
    [
      `sustained events/s, N=${fmt(config.events)} (first commit -> last effect)`,
      ...column((r, v) => `${fmt(r.throughput.eventsPerSecond)}/s ${pass(v.throughput)}`),
      `>= ${fmt(targets.eventsPerSecond)}/s`,
    ],
    [
      'exactly-once: effects / distinct event ids',
      ...column(
        (r) =>
          `${fmt(r.throughput.exactlyOnce.effects)} / ${fmt(r.throughput.exactlyOnce.distinctEventIds)} ${pass(
            r.throughput.exactlyOnce.ok && r.latency.exactlyOnce.ok && r.split.exactlyOnce.ok,
          )}`,
      ),
      `${fmt(config.events)} / ${fmt(config.events)}`,
    ],
    [
      `commit -> effect p50 / p95 / p99 ms at ${fmt(config.rate)}/s`,
      ...column(
        (r, v) =>
          `${ms(r.latency.commitToEffectMs.p50)} / ${ms(r.latency.commitToEffectMs.p95)} / ${ms(r.latency.commitToEffectMs.p99)} ${pass(v.latency)}`,
      ),
      `p99 < ${targets.p99Ms} ms`,
    ],
    ['  achieved rate in the latency phase', ...column((r) => `${fmt(r.latency.achievedRate)}/s`), ''],
    [
      `÷ raw JetStream (${fmt(rawJs.msgsPerSecond)} msgs/s)`,
      ...column((_, v) => fmt(v.ratioToJetStream, 3)),
      '',
    ],
    [
      `÷ raw PostgreSQL (${fmt(rawPg.commitsPerSecond)} commits/s)`,
      ...column((_, v) => fmt(v.ratioToPostgres, 3)),
      '',
    ],
  ];
  const table = formatTable(['pipeline', ...all.map(([name]) => name), 'target'], rows);
  log('');
  log(table);

  type Row = [string, (r: PassResult) => string];
  const details = formatTable(
    [
      'detail (CPU: event loop / node / postgres / nats / other processes, % of one core; machine, % of all cores)',
      ...Object.keys(results),
    ],
    (
      [
        [
          'throughput: producer commits/s (relay + consumer running)',
          (r) => fmt(r.throughput.producerCommitsPerSecond),
        ],
        ['throughput: relay PubAcks/s', (r) => fmt(r.throughput.relayEventsPerSecond)],
        ['throughput: CPU', (r) => cpuLine(r.throughput.cpu)],
        [
          'throughput: per event, event-loop ms / postgres CPU ms',
          (r) => perEvent(r.throughput.cpu, r.throughput.events),
        ],
        ['split: producers alone, commits/s', (r) => fmt(r.split.producersAloneCommitsPerSecond)],
        ['split: producers alone, CPU', (r) => cpuLine(r.split.producersAloneCpu)],
        [
          'split: producers alone, SQL statements / round trips per event',
          (r) =>
            `${fmt(r.split.producerStatementsPerEvent, 2)} / ${fmt(r.split.producerRoundTripsPerEvent, 2)}`,
        ],
        [
          'split: producers alone, per event loop ms / pg ms',
          (r) => perEvent(r.split.producersAloneCpu, r.split.events),
        ],
        ['split: relay + consumer draining the backlog, events/s', (r) => fmt(r.split.drainEventsPerSecond)],
        ['split: relay PubAcks/s while draining', (r) => fmt(r.split.drainRelayPubAcksPerSecond)],
        ['split: draining, CPU', (r) => cpuLine(r.split.drainCpu)],
        [
          'split: draining, statements (consumer + relay) / round trips per event',
          (r) =>
            `${fmt(r.split.consumerStatementsPerEvent, 2)} + ${fmt(r.split.relayStatementsPerEvent, 2)} / ${fmt(r.split.drainRoundTripsPerEvent, 2)}`,
        ],
        ['split: draining, per event loop ms / pg ms', (r) => perEvent(r.split.drainCpu, r.split.events)],
        ['latency: commit->PubAck p50 / p99 ms', (r) => pair(r.latency.commitToPubAckMs)],
        ['latency: PubAck->effect p50 / p99 ms', (r) => pair(r.latency.pubAckToEffectMs)],
        ['latency: commit->effect max ms', (r) => fmt(r.latency.commitToEffectMs.max, 1)],
        ['latency: CPU', (r) => cpuLine(r.latency.cpu)],
        [
          'exactly-once, split phase (effects / distinct ids)',
          (r) => `${fmt(r.split.exactlyOnce.effects)} / ${fmt(r.split.exactlyOnce.distinctEventIds)}`,
        ],
        ['effects applied out of aggregate order', (r) => fmt(r.outOfOrderEffects)],
        ['held back / redelivered duplicates', (r) => `${fmt(r.heldBack)} / ${fmt(redelivered(r))}`],
        ['logged warnings / errors', (r) => `${fmt(r.warnings)} / ${fmt(r.errors)}`],
      ] as Row[]
    ).map(([label, value]) => [label, ...Object.values(results).map(value)]),
  );
  log('');
  log(details);
  const limits = formatTable(
    ['raw limit', 'rate', 'CPU', 'loop ms / pg ms per unit'],
    [
      [
        `PostgreSQL: BEGIN; INSERT 1 row; COMMIT, ${rawPg.concurrency} loops`,
        `${fmt(rawPg.commitsPerSecond)} commits/s`,
        cpuLine(rawPg.cpu),
        perEvent(rawPg.cpu, rawPg.transactions),
      ],
      [
        `JetStream: publish (window ${rawJs.publishWindow}) + pull consume/ack, ${rawJs.messageBytes} B`,
        `${fmt(rawJs.msgsPerSecond)} msgs/s`,
        cpuLine(rawJs.cpu),
        perEvent(rawJs.cpu, rawJs.messages),
      ],
      ['JetStream: publish side alone', `${fmt(rawJs.publishMsgsPerSecond)} msgs/s`, '', ''],
      [
        `JetStream: consume with double ack, ${rawJs.ackAckConcurrency} in flight`,
        `${fmt(rawJs.ackAckConsumeMsgsPerSecond)} msgs/s`,
        '',
        '',
      ],
    ],
  );
  log('');
  log(limits);

  const output = {
    benchmark: 'events',
    generatedAt: new Date().toISOString(),
    durationSeconds: Math.round((Date.now() - began) / 1_000),
    machine: {
      loadAverageAtStart: loadAtStart,
      loadAverageAtEnd: os.loadavg(),
      cores: os.cpus().length,
      cpu: os.cpus()[0]?.model,
      memoryMb: Math.round(os.totalmem() / 2 ** 20),
    },
    software,
    config: { pipeline: config, raw, passes },
    targets,
    pipeline: results,
    rawJetStream: rawJs,
    rawPostgres: rawPg,
    verdicts,
    table,
    details,
    limits,
  };
  const folder = new URL('../results/', import.meta.url);
  mkdirSync(folder, { recursive: true });
  writeFileSync(new URL('events.json', folder), `${JSON.stringify(output, null, 2)}\n`);
  log(`\nresults written to bench/results/events.json (${output.durationSeconds} s)`);
}

/** event loop / node / postgres / nats-server / everything else, in % of one core; then the machine's %. */
const cpuLine = (cpu: CpuUsage) => {
  const other =
    cpu.machinePercent * os.cpus().length -
    cpu.nodePercentOfOneCore -
    cpu.postgresPercentOfOneCore -
    cpu.natsPercentOfOneCore;
  return `${cpu.eventLoopPercent} / ${cpu.nodePercentOfOneCore} / ${cpu.postgresPercentOfOneCore} / ${cpu.natsPercentOfOneCore} / ${Math.max(0, Math.round(other))}; ${cpu.machinePercent}`;
};
const perEvent = (cpu: CpuUsage, events: number) =>
  `${fmt(cpu.eventLoopBusyMs / events, 3)} / ${fmt(cpu.postgresCpuMs / events, 3)}`;
const pair = (summary: { p50: number; p99: number }) => `${fmt(summary.p50, 1)} / ${fmt(summary.p99, 1)}`;
// The counter covers the whole pass; the latency phase reads it last.
const redelivered = (result: PassResult) => result.latency.exactlyOnce.redeliveredDuplicates;

// Ctrl-C reaches both tsx and this process: the first signal cleans up, repeats are ignored.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (Resources.interrupted) return;
    Resources.interrupted = true;
    process.stderr.write(`\nbench: ${signal}, cleaning up\n`);
    setTimeout(() => process.exit(130), 20_000).unref();
    void Resources.releaseAll().finally(() => process.exit(130));
  });
}

main()
  .then(() => process.exit(0))
  .catch(async (err) => {
    await Resources.releaseAll();
    // After a signal, the failure is only the clean-up closing connections under the run.
    if (Resources.interrupted) return;
    process.stderr.write(`bench:events failed: ${err instanceof Error ? (err.stack ?? err.message) : err}\n`);
    process.exit(1);
  });
