/**
 * The cost of tracing (issue 19): GraphQL throughput through the gateway with tracing off, on at
 * 100 % sampling and on at 10 %, in one run. Tracing is per process, so three copies of the whole
 * stack (`npm start`, stack/src/main.ts) run as child processes, each on a database of its own (on
 * a PostgreSQL server the benchmark starts, see postgres.ts) and a private stream; the traced ones export OTLP to discarding receivers this process starts. A fixed
 * query mix (a public events page, an authenticated `me`) is sent by 16 concurrent clients to each
 * in turn, interleaved in short rounds (off, 100 %, 10 %, off, …) so the machine's drift hits all
 * three alike. `npm run bench:overhead`; see bench/README.md.
 */
import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { graphql, type SignedInUser, signUp, TEST_NATS_URL, waitFor } from '@bilten/testkit';
import postgres from 'postgres';
import { startOtlpReceiver } from '../../packages/testkit/src/otlp.ts';
import { freePort, type ServiceProcess, spawnServiceProcess } from '../../stack/src/supervisor.ts';
import { eventInput } from '../../stack/test/support.ts';
import { Resources } from '../events/resources.ts';
import { fmt, formatTable, type LatencySummary, now, summarize } from '../stats.ts';
import { type PrivatePostgres, privatePostgres } from './postgres.ts';

const int = (name: string, fallback: number) => {
  const value = Number.parseInt(process.env[name] ?? '', 10);
  return Number.isInteger(value) && value > 0 ? value : fallback;
};
const config = {
  concurrency: int('BENCH_CONCURRENCY', 16),
  rounds: int('BENCH_ROUNDS', 5),
  seconds: int('BENCH_SECONDS', 5),
  warmupSeconds: 3,
  events: int('BENCH_EVENTS', 10),
  pageSize: 10,
};
/** At most this share of throughput lost with tracing on at 10 % sampling. */
const target = { maxLossAt10Percent: 0.1 };
const log = (line: string) => process.stdout.write(`${line}\n`);
/** What the three stacks write (warnings and errors), apart from the report. */
const STACK_LOG = new URL('../results/overhead-stacks.log', import.meta.url);

/** The public read: a page of events from catalog, with orders' availability (a two-subgraph plan). */
const EVENTS_PAGE = `query EventsPage($first: Int) {
  events(first: $first) {
    edges { node { id title startsAt ticketTypes { name price { amount currency } } availability { remaining } } }
    pageInfo { hasNextPage endCursor }
  }
}`;
/** The authenticated read: the signed-in user from identity, their unread count from messaging. */
const ME = 'query Me { me { id email displayName emailVerified unreadNotificationCount } }';

interface Variant {
  name: 'off' | '100 %' | '10 %';
  /** Names its database. */
  slug: string;
  /** OTEL_TRACES_SAMPLER_ARG, or undefined for tracing off (no endpoint set). */
  sampling?: number;
}
const VARIANTS: Variant[] = [
  { name: 'off', slug: 'off' },
  { name: '100 %', slug: 'all', sampling: 1 },
  { name: '10 %', slug: 'tenth', sampling: 0.1 },
];

interface Copy {
  variant: Variant;
  url: string;
  databaseUrl: string;
  process: ServiceProcess;
  /** The OTLP export requests its receiver got, when traced. */
  exports(): number;
  user: SignedInUser;
}

interface Round {
  variant: Variant['name'];
  round: number;
  requests: number;
  failures: number;
  firstError?: string;
  perSecond: number;
  latencyMs: LatencySummary;
  /** CPU of the stack's process (gateway and subgraphs) per request. */
  stackCpuMsPerRequest: number;
}

/** utime + stime of a process, in ms (from /proc; clock ticks are 100 a second on Linux). */
function cpuMsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** One copy of the stack on its own database, stream and ports; stopped and removed on release. */
async function startCopy(
  resources: Resources,
  server: PrivatePostgres,
  variant: Variant,
): Promise<Omit<Copy, 'user'>> {
  const databaseUrl = await server.database(`bench_overhead_${variant.slug}`);
  const { stream, subjectPrefix } = resources.streamNames('overhead');
  const ports = {
    GATEWAY_PORT: await freePort(),
    IDENTITY_PORT: await freePort(),
    CATALOG_PORT: await freePort(),
    ORDERS_PORT: await freePort(),
    BILLING_PORT: await freePort(),
    MESSAGING_PORT: await freePort(),
    BRANDING_PORT: await freePort(),
  };
  let exports = () => 0;
  const tracing: Record<string, string> = {};
  if (variant.sampling !== undefined) {
    const receiver = await startOtlpReceiver({ discard: true });
    resources.defer(`OTLP receiver of ${variant.name}`, () => receiver.close());
    exports = () => receiver.requests;
    Object.assign(tracing, {
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_TRACES_SAMPLER_ARG: String(variant.sampling),
    });
  }
  const url = `http://127.0.0.1:${ports.GATEWAY_PORT}`;
  const child = spawnServiceProcess({
    name: `stack ${variant.name}`,
    script: 'stack/src/main.ts',
    env: {
      PATH: process.env.PATH,
      DATABASE_URL: databaseUrl,
      DATABASE_POOL_SIZE: '4',
      NATS_URL: TEST_NATS_URL,
      NATS_STREAM: stream,
      NATS_SUBJECT_PREFIX: subjectPrefix,
      HOST: '127.0.0.1',
      ...Object.fromEntries(Object.entries(ports).map(([key, port]) => [key, String(port)])),
      LOG_LEVEL: 'warn',
      // One client (this process) sends everything: the per-client limits would refuse it.
      AUTH_REGISTRATIONS_PER_IP_PER_HOUR: '1000000',
      RATE_LIMIT_SIGN_UP: 'off',
      RATE_LIMIT_SEARCH: 'off',
      GATEWAY_RATE_LIMIT: 'off',
      ...tracing,
    },
    readyUrl: `${url}/readyz`,
    readyTimeoutMs: 120_000,
    write: (line) => appendFileSync(STACK_LOG, `${line}\n`),
  });
  // Deferred before it is ready: it runs in a process group of its own, so a Ctrl-C meanwhile does not reach it.
  resources.defer(`stack ${variant.name}`, () => child.stop());
  await child.ready;
  return { variant, url, databaseUrl, process: child, exports };
}

/** One GraphQL call that must not fail: its data. */
async function call<T>(
  url: string,
  query: string,
  variables: Record<string, unknown>,
  headers: Record<string, string> = {},
): Promise<T> {
  const { body } = await graphql<T, unknown>(`${url}/graphql`, query, variables, headers);
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  return body.data!;
}

/**
 * `config.events` published events of one organization, each with a ticket type, and a signed-in
 * user; done once the public list shows a full page (it is fed by events, through JetStream).
 */
async function seed(resources: Resources, copy: Omit<Copy, 'user'>): Promise<SignedInUser> {
  const sql = postgres(copy.databaseUrl, { max: 1, onnotice: () => {} });
  resources.defer(`seed connection of ${copy.variant.name}`, () => sql.end());
  const graphqlUrl = `${copy.url}/graphql`;
  const owner = await signUp(graphqlUrl, sql);
  const { createOrganization } = await call<{ createOrganization: { organization: { id: string } } }>(
    copy.url,
    'mutation($input: CreateOrganizationInput!) { createOrganization(input: $input) { organization { id } } }',
    { input: { name: 'Overhead Bench', slug: `overhead-${Date.now()}` } },
    owner.headers,
  );
  const organizationId = createOrganization.organization.id;
  for (let i = 0; i < config.events; i++) {
    const { createEvent } = await call<{ createEvent: { event: { id: string } } }>(
      copy.url,
      'mutation($input: CreateEventInput!) { createEvent(input: $input) { event { id } } }',
      { input: eventInput(organizationId, `Overhead Night ${i + 1}`) },
      owner.headers,
    );
    const eventId = createEvent.event.id;
    await call(
      copy.url,
      'mutation($input: AddTicketTypeInput!) { addTicketType(input: $input) { ticketType { id } } }',
      { input: { eventId, name: 'Regular', price: { amount: 1500, currency: 'EUR' }, capacity: 50 } },
      owner.headers,
    );
    await call(
      copy.url,
      'mutation($input: EventIdInput!) { publishEvent(input: $input) { errors { code } } }',
      { input: { id: eventId } },
      owner.headers,
    );
  }
  const user = await signUp(graphqlUrl, sql);
  await waitFor(async () => {
    const data = await call<{ events: { edges: unknown[] } }>(copy.url, EVENTS_PAGE, {
      first: config.pageSize,
    });
    return data.events.edges.length === config.pageSize;
  }, 60_000);
  return user;
}

/** One request of the mix: the events page on even turns, `me` on odd ones; throws unless it answered fully. */
async function request(copy: Copy, turn: number): Promise<void> {
  const me = turn % 2 === 1;
  const response = await fetch(`${copy.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(me ? copy.user.headers : {}) },
    body: me
      ? JSON.stringify({ query: ME, operationName: 'Me' })
      : JSON.stringify({
          query: EVENTS_PAGE,
          operationName: 'EventsPage',
          variables: { first: config.pageSize },
        }),
  });
  const body = (await response.json()) as {
    data?: { me?: { id: string } | null; events?: { edges: unknown[] } };
    errors?: unknown[];
  };
  if (response.status !== 200 || body.errors)
    throw new Error(`${response.status} ${JSON.stringify(body.errors)}`);
  if (me ? body.data?.me?.id !== copy.user.userId : body.data?.events?.edges.length !== config.pageSize)
    throw new Error(`incomplete answer: ${JSON.stringify(body.data)}`);
}

/** `config.concurrency` loops sending the mix to `copy` for `seconds`. */
async function closedLoop(copy: Copy, seconds: number, round: number): Promise<Round> {
  const samples: number[] = [];
  let failures = 0;
  let firstError: string | undefined;
  const pid = copy.process.child.pid!;
  const cpuStart = cpuMsOf(pid);
  const start = now();
  const end = start + seconds * 1_000;
  await Promise.all(
    Array.from({ length: config.concurrency }, async (_, worker) => {
      for (let turn = worker; now() < end; turn++) {
        const began = now();
        try {
          await request(copy, turn);
          samples.push(now() - began);
        } catch (err) {
          failures++;
          firstError ??= (err as Error).message;
        }
      }
    }),
  );
  const elapsed = now() - start;
  const cpuMs = cpuMsOf(pid) - cpuStart;
  return {
    variant: copy.variant.name,
    round,
    requests: samples.length,
    failures,
    firstError,
    perSecond: Math.round((samples.length / elapsed) * 1_000 * 10) / 10,
    latencyMs: summarize(samples),
    stackCpuMsPerRequest: Math.round((cpuMs / Math.max(1, samples.length)) * 100) / 100,
  };
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};
const ratio = (value: number, base: number) => Math.round((value / base) * 1_000) / 1_000;

async function main() {
  const load = () =>
    os
      .loadavg()
      .map((value) => value.toFixed(2))
      .join(', ');
  log(`bench:overhead on ${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'unknown cpu'})`);
  log(`load average before the run: ${load()}`);
  log(
    `concurrency ${config.concurrency}, ${config.rounds} rounds of ${config.seconds} s per copy, interleaved ${VARIANTS.map((variant) => variant.name).join(', ')}`,
  );
  const resources = new Resources();
  try {
    mkdirSync(new URL('.', STACK_LOG), { recursive: true });
    writeFileSync(STACK_LOG, '');
    const server = await privatePostgres(resources, 300);
    log(`a private PostgreSQL for the three stacks: ${server.url}`);
    log('starting three copies of the stack (tracing off, 100 %, 10 %)');
    const started = now();
    const bare = await Promise.all(VARIANTS.map((variant) => startCopy(resources, server, variant)));
    log(`  up in ${fmt((now() - started) / 1_000, 1)} s`);
    log(`seeding ${config.events} published events and a signed-in user in each`);
    const users = await Promise.all(bare.map((copy) => seed(resources, copy)));
    const copies: Copy[] = bare.map((copy, i) => ({ ...copy, user: users[i]! }));

    log(`warm-up, ${config.warmupSeconds} s each (JIT, pools, plan and document caches)`);
    for (const copy of copies) await closedLoop(copy, config.warmupSeconds, 0);

    const rounds: Round[] = [];
    for (let round = 1; round <= config.rounds; round++) {
      for (const copy of copies) {
        const result = await closedLoop(copy, config.seconds, round);
        rounds.push(result);
        log(
          `  round ${round} ${copy.variant.name.padEnd(5)} ${fmt(result.perSecond, 1)} req/s, p50 ${fmt(result.latencyMs.p50, 1)} ms, p99 ${fmt(result.latencyMs.p99, 1)} ms, ${fmt(result.stackCpuMsPerRequest, 2)} stack CPU ms/req, ${result.failures} failures${result.firstError ? ` (${result.firstError.slice(0, 120)})` : ''}`,
        );
      }
    }

    const summaries = Object.fromEntries(
      copies.map((copy) => {
        const of = rounds.filter((round) => round.variant === copy.variant.name);
        return [
          copy.variant.name,
          {
            sampling: copy.variant.sampling ?? null,
            perSecond: median(of.map((round) => round.perSecond)),
            p50: median(of.map((round) => round.latencyMs.p50)),
            p99: median(of.map((round) => round.latencyMs.p99)),
            stackCpuMsPerRequest: median(of.map((round) => round.stackCpuMsPerRequest)),
            requests: of.reduce((sum, round) => sum + round.requests, 0),
            failures: of.reduce((sum, round) => sum + round.failures, 0),
            otlpExports: copy.exports(),
          },
        ];
      }),
    ) as Record<Variant['name'], Summary>;
    const off = summaries.off;
    const versus = (name: Variant['name']) => ({
      throughput: ratio(summaries[name].perSecond, off.perSecond),
      p50: ratio(summaries[name].p50, off.p50),
      p99: ratio(summaries[name].p99, off.p99),
      stackCpuPerRequest: ratio(summaries[name].stackCpuMsPerRequest, off.stackCpuMsPerRequest),
      // Each round against the off round next to it, then the median: the drift between rounds cancels.
      throughputByRound: ratio(
        median(
          rounds
            .filter((round) => round.variant === name)
            .map((round) => {
              const offRound = rounds.find(
                (other) => other.variant === 'off' && other.round === round.round,
              )!;
              return round.perSecond / offRound.perSecond;
            }),
        ),
        1,
      ),
    });
    const ratios = { '100 %': versus('100 %'), '10 %': versus('10 %') };
    const lostAt10Percent = Math.round((1 - ratios['10 %'].throughput) * 1_000) / 1_000;
    const failures = Object.values(summaries).reduce((sum, summary) => sum + summary.failures, 0);
    // Tracing really on: the traced copies must have exported something.
    if (summaries['100 %'].otlpExports === 0 || summaries['10 %'].otlpExports === 0)
      throw new Error('a traced copy exported no spans: tracing did not start');
    const pass = lostAt10Percent <= target.maxLossAt10Percent && failures === 0;

    log('');
    log(
      formatTable(
        [
          'medians of the rounds',
          'req/s',
          'p50 ms',
          'p99 ms',
          'stack CPU ms/req',
          'failures',
          'OTLP exports',
        ],
        VARIANTS.map((variant) => {
          const summary = summaries[variant.name];
          return [
            variant.sampling === undefined ? 'tracing off' : `tracing on, ${variant.name} sampled`,
            fmt(summary.perSecond, 1),
            fmt(summary.p50, 1),
            fmt(summary.p99, 1),
            fmt(summary.stackCpuMsPerRequest, 2),
            fmt(summary.failures),
            fmt(summary.otlpExports),
          ];
        }),
      ),
    );
    log('');
    for (const name of ['100 %', '10 %'] as const)
      log(
        `${name.padEnd(5)} vs off: throughput ×${fmt(ratios[name].throughput, 3)} (round by round ×${fmt(ratios[name].throughputByRound, 3)}), p50 ×${fmt(ratios[name].p50, 3)}, p99 ×${fmt(ratios[name].p99, 3)}, stack CPU per request ×${fmt(ratios[name].stackCpuPerRequest, 3)}`,
      );
    log(
      `lost at 10 % sampling: ${fmt(lostAt10Percent * 100, 1)} % ${pass ? 'PASS' : 'FAIL'} (target <= ${target.maxLossAt10Percent * 100} %, no failures)`,
    );
    log(`load average after the run: ${load()}`);

    const file = new URL('../results/overhead.json', import.meta.url);
    mkdirSync(new URL('.', file), { recursive: true });
    writeFileSync(
      file,
      `${JSON.stringify(
        {
          at: new Date().toISOString(),
          machine: { cores: os.cpus().length, cpu: os.cpus()[0]?.model, loadAverage: os.loadavg() },
          node: process.version,
          config,
          target,
          summaries,
          ratios,
          lostAt10Percent,
          pass,
          rounds,
        },
        null,
        2,
      )}\n`,
    );
    log('results written to bench/results/overhead.json');
  } finally {
    await resources.release();
  }
}

interface Summary {
  sampling: number | null;
  perSecond: number;
  p50: number;
  p99: number;
  stackCpuMsPerRequest: number;
  requests: number;
  failures: number;
  otlpExports: number;
}

// Ctrl-C reaches both tsx and this process: the first signal cleans up, repeats are ignored.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (Resources.interrupted) return;
    Resources.interrupted = true;
    process.stderr.write(`\nbench: ${signal}, cleaning up\n`);
    setTimeout(() => process.exit(130), 30_000).unref();
    void Resources.releaseAll().finally(() => process.exit(130));
  });
}

main()
  .then(() => process.exit(0))
  .catch(async (err) => {
    await Resources.releaseAll();
    if (Resources.interrupted) return;
    process.stderr.write(
      `bench:overhead failed: ${err instanceof Error ? (err.stack ?? err.message) : err}\n`,
    );
    process.exit(1);
  });
