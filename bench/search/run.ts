/**
 * Search benchmark: five representative searches through the gateway at a fixed concurrency,
 * beside the same request sent straight to the catalog subgraph and the SQL it runs replayed
 * directly against PostgreSQL (the limit) in the same run, with the plan of every statement each
 * search runs. `npm run bench:search`; see bench/README.md.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { catalogSubgraph } from '@bilten/catalog';
import { createInProcessBus, startSubgraph } from '@bilten/platform';
import { captureLogs, graphql, statementsOf } from '@bilten/testkit';
import postgres from 'postgres';
import { startStack } from '../../stack/src/stack.ts';
import { Resources } from '../events/resources.ts';
import {
  type CpuUsage,
  cpuMeter,
  fmt,
  formatTable,
  type LatencySummary,
  sleep,
  summarize,
} from '../stats.ts';
import { pgbenchRequest, pgbenchVersion, runPgbench } from './pgbench.ts';
import {
  explainAsServed,
  type PlanCheck,
  roleOf,
  type Statement,
  type StatementRecorder,
  statementRecorder,
} from './plans.ts';
import { adminUrlOf, benchDatabaseUrl, prepareCatalog, printable } from './seed.ts';

const int = (name: string, fallback: number) => {
  const value = Number.parseInt(process.env[name] ?? '', 10);
  return Number.isInteger(value) && value > 0 ? value : fallback;
};
const config = {
  events: int('BENCH_EVENTS', 100_000),
  concurrency: int('BENCH_CONCURRENCY', 16),
  seconds: int('BENCH_SECONDS', 10),
  warmupSeconds: 1,
  pageSize: 20,
};
const targets = { gatewayP95Ms: 50, sqlP95Ms: 15 };
const log = (line: string) => process.stdout.write(`${line}\n`);

/** The arguments of `events`, as GraphQL variables (`EventFilter`, `EventSort`, the page). */
interface SearchArgs {
  filter?: {
    query?: string;
    country?: string;
    city?: string;
    category?: string;
    startsAfter?: Date;
    near?: { latitude: number; longitude: number; radiusKm: number };
    priceMax?: number;
  };
  sort?: 'RELEVANCE' | 'NEWEST' | 'STARTS_AT' | 'PRICE';
  first?: number;
  after?: string | null;
}

interface Search {
  name: string;
  args: SearchArgs;
  /**
   * The index(es) a statement of this search should read when it matches no text; statements
   * that match text expect the tsvector or trigram index, ticket types their event_id index.
   */
  indexes: string[];
}

// JSON turns the Date into ISO 8601 for the DateTime scalar.
const inAWeek = new Date(Date.now() + 7 * 86_400_000);
const SEARCHES: Search[] = [
  {
    name: 'words "jazz concert", by relevance',
    args: { filter: { query: 'jazz concert' } },
    indexes: ['events_search_idx'],
  },
  {
    name: 'typo "cocnert" in BA',
    args: { filter: { query: 'cocnert', country: 'BA' } },
    indexes: ['events_search_idx'],
  },
  {
    name: 'music in Sarajevo from next week, by date',
    args: { filter: { city: 'Sarajevo', category: 'MUSIC', startsAfter: inAWeek }, sort: 'STARTS_AT' },
    indexes: [
      'events_listed_city_category_starts_at_idx',
      'events_city_starts_at_idx',
      'events_listed_starts_at_idx',
    ],
  },
  {
    name: 'within 50 km of Zagreb under 30.00, by price',
    args: {
      filter: { near: { latitude: 45.815, longitude: 15.982, radiusKm: 50 }, priceMax: 3000 },
      sort: 'PRICE',
    },
    indexes: ['events_listed_venue_point_idx', 'events_venue_point_idx', 'events_min_price_idx'],
  },
  // `after` is set to the first page's end cursor before measuring.
  { name: 'browse: newest, second page', args: { sort: 'NEWEST' }, indexes: ['events_pkey'] },
];

// What a results page shows. A first page also asks for totalCount, as clients do; later pages do not.
const PAGE = `edges { node { id title startsAt venue { city } ticketTypes { name price { amount currency } } } }
    pageInfo { endCursor hasNextPage }`;
const FIRST_PAGE = `query SearchFirstPage($filter: EventFilter, $sort: EventSort, $first: Int) {
  events(filter: $filter, sort: $sort, first: $first) {
    totalCount
    ${PAGE}
  }
}`;
const NEXT_PAGE = `query SearchNextPage($filter: EventFilter, $sort: EventSort, $first: Int, $after: String) {
  events(filter: $filter, sort: $sort, first: $first, after: $after) {
    ${PAGE}
  }
}`;
// The total alone, on a page after the first: no page statement counts there, so catalog counts
// the matches in a statement of its own, the one `totalCount` of a first page runs when its page
// does not count (see `countStatement`).
const TOTAL_ONLY = `query SearchTotal($filter: EventFilter, $sort: EventSort, $first: Int, $after: String) {
  events(filter: $filter, sort: $sort, first: $first, after: $after) { totalCount }
}`;
// Where browsing goes on from: the end of the newest events' first page.
const NEWEST_END = `query NewestEnd($first: Int) {
  events(sort: NEWEST, first: $first) { pageInfo { endCursor } }
}`;
type Connection = {
  totalCount?: number;
  edges?: Array<{ node: { id: string } }>;
  pageInfo?: { endCursor: string | null; hasNextPage?: boolean };
};

/** `events` from the GraphQL service at `url` (the gateway or a subgraph); errors throw. */
async function events(url: string, document: string, variables: SearchArgs): Promise<Connection> {
  const response = await graphql<{ events: Connection }, SearchArgs>(url, document, variables);
  if (response.body.errors) throw new Error(JSON.stringify(response.body.errors));
  return response.body.data!.events;
}

interface Measurement {
  requests: number;
  failures: number;
  firstError?: string;
  perSecond: number;
  latencyMs: LatencySummary;
  cpu: CpuUsage;
}

/** `concurrency` loops calling `once` for `seconds`, after a warm-up that is not recorded. */
async function closedLoop(once: () => Promise<unknown>): Promise<Measurement> {
  let failures = 0;
  let firstError: string | undefined;
  const run = async (seconds: number, samples?: number[]) => {
    const deadline = performance.now() + seconds * 1_000;
    await Promise.all(
      Array.from({ length: config.concurrency }, async () => {
        while (performance.now() < deadline) {
          const started = performance.now();
          try {
            await once();
            samples?.push(performance.now() - started);
          } catch (err) {
            if (!samples) continue;
            failures++;
            firstError ??= err instanceof Error ? err.message : String(err);
          }
        }
      }),
    );
  };
  await run(config.warmupSeconds);
  const samples: number[] = [];
  const cpu = cpuMeter();
  const began = performance.now();
  await run(config.seconds, samples);
  const elapsed = performance.now() - began;
  return {
    requests: samples.length,
    failures,
    firstError,
    perSecond: Math.round((samples.length / elapsed) * 1_000 * 10) / 10,
    latencyMs: summarize(samples),
    cpu: cpu(),
  };
}

/**
 * The statement `totalCount` runs on its own for this search (typo correction included), as
 * catalog runs it: recorded while catalog serves the total of the page after `endCursor`, where
 * no page statement counts. It has the search's conditions and no cursor, so it is the statement
 * of the first page's total when the page does not count (`count(*)` alone, `countEvents`).
 */
async function countStatement(
  recorder: StatementRecorder,
  catalogUrl: string,
  args: SearchArgs,
  endCursor: string,
): Promise<Statement> {
  const { statements } = await recorder.record(() =>
    events(catalogUrl, TOTAL_ONLY, { ...args, after: endCursor }),
  );
  const counts = statements.filter((statement) => roleOf(statement).startsWith('count'));
  if (counts.length !== 1) {
    throw new Error(`expected one count statement for the total, catalog ran ${counts.length}`);
  }
  return counts[0]!;
}

const quoted = (identifier: string) => `"${identifier.replaceAll('"', '""')}"`;

/**
 * A copy of the seeded database for this run (`create database … template`, a file copy with the
 * statistics and the vacuumed state): the stack migrates its other schemas into it and it is
 * dropped at the end, so the seeded database only ever holds the catalog.
 */
async function copyOfDatabase(
  sourceUrl: string,
  resources: Resources,
): Promise<{ name: string; url: string }> {
  const source = decodeURIComponent(new URL(sourceUrl).pathname.slice(1));
  const name = `${source.slice(0, 40)}_run_${randomBytes(4).toString('hex')}`;
  const admin = () => postgres(adminUrlOf(sourceUrl), { max: 1, onnotice: () => {} });
  resources.defer(`database ${name}`, async () => {
    const sql = admin();
    try {
      await sql.unsafe(`drop database if exists ${quoted(name)} with (force)`);
    } finally {
      await sql.end();
    }
  });
  const sql = admin();
  try {
    for (let attempt = 1; ; attempt++) {
      try {
        await sql.unsafe(`create database ${quoted(name)} template ${quoted(source)}`);
        break;
      } catch (err) {
        // 55006: someone else is connected to the source (psql, an autovacuum that has not yet left).
        if ((err as { code?: string }).code !== '55006' || attempt === 5) {
          throw new Error(
            `could not copy ${source} (close other connections to it): ${(err as Error).message}`,
          );
        }
        await sleep(2_000);
      }
    }
  } finally {
    await sql.end();
  }
  const url = new URL(sourceUrl);
  url.pathname = `/${name}`;
  return { name, url: url.toString() };
}

/** The commit measured (with a + when the work tree has changes), for comparing runs. */
function gitCommit(): string | undefined {
  try {
    const git = (...args: string[]) => execFileSync('git', args, { encoding: 'utf8', stdio: 'pipe' }).trim();
    return `${git('rev-parse', '--short', 'HEAD')}${git('status', '--porcelain', '--untracked-files=no') ? '+' : ''}`;
  } catch {
    return undefined;
  }
}

const round = (value: number, digits: number) => Math.round(value * 10 ** digits) / 10 ** digits;
const pass = (ok: boolean) => (ok ? 'PASS' : 'FAIL');
const ms = (summary: LatencySummary) =>
  `${fmt(summary.p50, 1)} / ${fmt(summary.p95, 1)} / ${fmt(summary.p99, 1)}`;
const cpuCell = (cpu: CpuUsage) =>
  `${cpu.nodePercentOfOneCore} / ${cpu.postgresPercentOfOneCore}; ${cpu.machinePercent}`;

async function main() {
  const began = Date.now();
  log(`bench:search on ${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'unknown cpu'})`);
  const loadAtStart = os.loadavg();
  log(`load average before the run: ${loadAtStart.map((value) => value.toFixed(2)).join(', ')}`);
  const commit = gitCommit();
  log(`measuring commit ${commit ?? 'unknown'}`);

  const sourceUrl = benchDatabaseUrl();
  log(`catalog data: ${printable(sourceUrl)}, ${config.events} events asked`);
  const data = await prepareCatalog(sourceUrl, config.events, log);
  if (data.events > config.events) {
    log(`  it has ${data.events} events, more than asked: the run measures all of them`);
  }

  const resources = new Resources();
  try {
    const database = await copyOfDatabase(sourceUrl, resources);
    log(`running on a copy, ${database.name}`);
    const { log: serviceLog, lines: serviceLines } = captureLogs('bench-search');
    const bus = createInProcessBus(serviceLog);
    resources.defer('bus', () => bus.close());
    const stack = await startStack({
      databaseUrl: database.url,
      databasePoolSize: config.concurrency,
      bus,
      log: serviceLog,
      host: '127.0.0.1',
      ports: { gateway: 0, identity: 0, catalog: 0, orders: 0, billing: 0, messaging: 0, branding: 0 },
      gateway: {
        limits: {
          maxDepth: 12,
          maxAliases: 30,
          maxCost: 5_000,
          maxTokens: 2_000,
          bodyLimitBytes: 1_048_576,
          subgraphTimeoutMs: 5_000,
        },
        blockFieldSuggestions: true,
      },
      // The load comes from one client: no per-client search limit (RATE_LIMIT_SEARCH).
      env: { RATE_LIMIT_SEARCH: 'off' },
    });
    resources.defer('stack', () => stack.stop());
    // Catalog called directly: one more catalog subgraph on the copy, started as the stack starts
    // its own (same pool size, keys from identity) but without the event work, whose request pool
    // reports every statement: what one request runs is recorded as catalog runs it.
    const recorder = statementRecorder();
    const catalog = await startSubgraph(catalogSubgraph, {
      databaseUrl: database.url,
      databasePoolSize: config.concurrency,
      bus,
      log: serviceLog,
      auth: { jwksUrl: new URL('/.well-known/jwks.json', stack.subgraphs.identity.url).toString() },
      host: '127.0.0.1',
      port: 0,
      processEvents: false,
      env: { RATE_LIMIT_SEARCH: 'off' },
      onStatement: recorder.onStatement,
    });
    resources.defer('catalog called directly', () => catalog.stop());
    // For the plans and the server's version.
    const direct = postgres(database.url, { max: 1, onnotice: () => {} });
    resources.defer('direct connection', () => direct.end({ timeout: 5 }));
    const [version] = await direct<Array<{ server_version: string }>>`show server_version`;
    const pgbench = await pgbenchVersion();
    const pgbenchOptions = {
      clients: config.concurrency,
      threads: os.cpus().length,
      seconds: config.seconds,
      warmupSeconds: config.warmupSeconds,
    };
    log(
      pgbench
        ? `SQL limit: ${pgbench}`
        : 'pgbench not found: the SQL limit falls back to catalog called directly',
    );

    // The browse search starts from the first page's cursor, as a client paging on would.
    const newest = await events(stack.gateway.url, NEWEST_END, { first: config.pageSize });
    SEARCHES[4]!.args.after = newest.pageInfo?.endCursor;

    const results = [];
    for (const search of SEARCHES) {
      const firstPage = !search.args.after;
      const document = firstPage ? FIRST_PAGE : NEXT_PAGE;
      const variables = { ...search.args, first: config.pageSize };
      const viaGateway = () => events(stack.gateway.url, document, variables);
      const viaCatalog = () => events(catalog.url, document, variables);
      log(`${search.name}`);

      // Once each way, to check both do the same work: the same events and total, as many statements.
      const answer = await viaGateway();
      const directAnswer = await viaCatalog();
      const idsOf = (connection: Connection) => JSON.stringify(connection.edges?.map((edge) => edge.node.id));
      const sameResults =
        idsOf(answer) === idsOf(directAnswer) && answer.totalCount === directAnswer.totalCount;
      const gatewayStatements = await statementsOf(stack.subgraphs.catalog.url, viaGateway);
      const catalogStatements = await statementsOf(catalog.url, viaCatalog);
      // The SQL limit replays what catalog ran for this request, text and parameters.
      const { statements: recorded } = await recorder.record(viaCatalog);
      const match = recorded.some((statement) => statement.sql.includes('"search_words"'))
        ? 'typos'
        : 'words';
      log(
        `  ${answer.edges?.length} on the page${firstPage ? `, ${answer.totalCount} in all` : ''}; ` +
          `${gatewayStatements} statements in catalog through the gateway, ${catalogStatements} called directly` +
          `${recorded.length === catalogStatements ? '' : `, ${recorded.length} RECORDED`}` +
          `${sameResults ? '' : '; DIFFERENT RESULTS'}`,
      );

      const gateway = await closedLoop(viaGateway);
      log(`  gateway p50 / p95 / p99 ${ms(gateway.latencyMs)} ms, ${fmt(gateway.perSecond, 1)}/s`);
      const catalogDirect = await closedLoop(viaCatalog);
      log(
        `  catalog directly (HTTP) p50 / p95 / p99 ${ms(catalogDirect.latencyMs)} ms, ${fmt(catalogDirect.perSecond, 1)}/s`,
      );
      const sql = pgbench
        ? await runPgbench(database.url, pgbenchRequest(recorded), pgbenchOptions)
        : catalogDirect;
      log(
        `  SQL (${pgbench ? 'pgbench' : 'no pgbench: catalog directly'}) p50 / p95 / p99 ${ms(sql.latencyMs)} ms, ${fmt(sql.perSecond, 1)}/s`,
      );
      const plans = await explainAsServed(direct, recorded, search.indexes);
      // The floor of a first page: counting its matches alone, as `totalCount` must, with no page,
      // no ranking and no ticket types. When that alone misses the SQL target, no page can meet it.
      const endCursor = answer.pageInfo?.endCursor;
      const countAlone =
        firstPage && pgbench && endCursor
          ? await runPgbench(
              database.url,
              pgbenchRequest([await countStatement(recorder, catalog.url, variables, endCursor)]),
              pgbenchOptions,
            )
          : undefined;
      if (countAlone) {
        log(
          `  count alone (pgbench) p50 / p95 / p99 ${ms(countAlone.latencyMs)} ms, ${fmt(countAlone.perSecond, 1)}/s`,
        );
      } else if (firstPage && pgbench) {
        log('  count alone: not measured, the first page is empty');
      }

      results.push({
        name: search.name,
        variables,
        totalCountAsked: firstPage,
        onPage: answer.edges?.length ?? 0,
        totalCount: answer.totalCount,
        textMatch: search.args.filter?.query ? match : undefined,
        sameResults,
        statementsPerRequest: {
          gateway: gatewayStatements,
          catalogDirect: catalogStatements,
          recorded: recorded.length,
        },
        gateway,
        catalogDirect,
        sql,
        countAlone,
        ratio: {
          p50: round(gateway.latencyMs.p50 / sql.latencyMs.p50, 2),
          p95: round(gateway.latencyMs.p95 / sql.latencyMs.p95, 2),
        },
        verdict: {
          gatewayP95: pass(gateway.latencyMs.p95 < targets.gatewayP95Ms && gateway.failures === 0),
          sqlP95: pass(sql.latencyMs.p95 < targets.sqlP95Ms && sql.failures === 0),
          plans: pass(plans.every((plan) => plan.ok)),
        },
        plans,
      });
    }
    const serviceWarnings = serviceLines.filter((line) => Number(line.level) === 40).length;
    const serviceErrors = serviceLines.filter((line) => Number(line.level) >= 50).length;
    const serviceMessages = [
      ...new Set(
        serviceLines
          .filter((line) => Number(line.level) >= 40)
          .map((line) => `${line.service ?? ''} ${line.level}: ${line.msg}`),
      ),
    ];

    log('');
    log(
      `${fmt(data.events)} events, concurrency ${config.concurrency}, ${config.seconds} s per measurement ` +
        `after ${config.warmupSeconds} s of warm-up; latency in ms`,
    );
    log(
      formatTable(
        [
          'search',
          'gateway p50 / p95 / p99',
          'req/s',
          'catalog directly (HTTP) p50 / p95 / p99',
          'req/s',
          'SQL (pgbench) p50 / p95 / p99',
          'req/s',
          'count alone (pgbench) p50 / p95 / p99',
          'req/s',
          'gateway ÷ SQL p95',
          `gateway p95 < ${targets.gatewayP95Ms}`,
          `SQL p95 < ${targets.sqlP95Ms}`,
          'plans',
        ],
        results.map((r) => [
          r.name,
          ms(r.gateway.latencyMs),
          fmt(r.gateway.perSecond, 1),
          ms(r.catalogDirect.latencyMs),
          fmt(r.catalogDirect.perSecond, 1),
          ms(r.sql.latencyMs),
          fmt(r.sql.perSecond, 1),
          r.countAlone ? ms(r.countAlone.latencyMs) : 'no count',
          r.countAlone ? fmt(r.countAlone.perSecond, 1) : '',
          fmt(r.ratio.p95, 2),
          r.verdict.gatewayP95,
          r.verdict.sqlP95,
          r.verdict.plans,
        ]),
      ),
    );
    log('');
    log(
      formatTable(
        [
          'search',
          'on page / total',
          'statements gateway / catalog directly',
          'same results',
          'failures gateway / catalog directly / SQL',
          'CPU gateway: node / pg; machine %',
          'CPU catalog directly: node / pg; machine %',
        ],
        results.map((r) => [
          r.name,
          `${r.onPage} / ${r.totalCountAsked ? fmt(r.totalCount ?? Number.NaN) : 'not asked'}`,
          `${r.statementsPerRequest.gateway} / ${r.statementsPerRequest.catalogDirect}`,
          r.sameResults ? 'yes' : 'NO',
          `${r.gateway.failures} / ${r.catalogDirect.failures} / ${r.sql.failures}`,
          cpuCell(r.gateway.cpu),
          cpuCell(r.catalogDirect.cpu),
        ]),
      ),
    );
    log('');
    log(
      formatTable(
        ['search: statement', 'expected index', 'indexes used', 'seq scan on events', 'plan', 'ms', 'check'],
        results.flatMap((r) =>
          r.plans.map((plan: PlanCheck) => [
            `${r.name}: ${plan.role}`,
            plan.expectedIndexes.join(' or '),
            plan.indexesUsed.join(', ') || 'none',
            plan.seqScanOnEvents ? 'YES' : 'no',
            plan.genericPlan ? 'generic' : 'custom',
            fmt(plan.executionMs, 2),
            pass(plan.ok),
          ]),
        ),
      ),
    );
    for (const r of results) {
      for (const plan of r.plans) {
        log('');
        log(`EXPLAIN (ANALYZE, BUFFERS) ${r.name}: ${plan.role}`);
        log(`  ${plan.sql}`);
        log(`  parameters: ${JSON.stringify(plan.params)}`);
        for (const line of plan.plan) log(`    ${line}`);
      }
    }
    const failures = results.flatMap((r) => [r.gateway, r.catalogDirect, r.sql]).filter((m) => m.failures);
    for (const failure of failures) log(`\nfailed requests, the first: ${failure.firstError}`);
    log(`\nlogged service warnings / errors: ${serviceWarnings} / ${serviceErrors}`);
    for (const message of serviceMessages) log(`  ${message}`);

    const output = {
      at: new Date().toISOString(),
      durationSeconds: Math.round((Date.now() - began) / 1_000),
      machine: {
        cores: os.cpus().length,
        cpu: os.cpus()[0]?.model,
        memoryGb: Math.round(os.totalmem() / 2 ** 30),
        loadAverageAtStart: loadAtStart,
        loadAverageAtEnd: os.loadavg(),
      },
      versions: { node: process.version, postgres: version?.server_version, pgbench, commit },
      config,
      targets,
      data: { database: printable(sourceUrl), events: data.events, seededThisRun: data.seeded },
      summary: {
        gatewayP95: `${results.filter((r) => r.verdict.gatewayP95 === 'PASS').length} / ${results.length} PASS`,
        sqlP95: `${results.filter((r) => r.verdict.sqlP95 === 'PASS').length} / ${results.length} PASS`,
        plans: `${results.filter((r) => r.verdict.plans === 'PASS').length} / ${results.length} PASS`,
        sameResults: results.every((r) => r.sameResults),
        serviceWarnings,
        serviceErrors,
        serviceMessages,
      },
      results,
    };
    const folder = new URL('../results/', import.meta.url);
    mkdirSync(folder, { recursive: true });
    writeFileSync(new URL('search.json', folder), `${JSON.stringify(output, null, 2)}\n`);
    log(`results written to bench/results/search.json (${output.durationSeconds} s)`);
  } finally {
    await resources.release();
  }
}

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
    process.stderr.write(`bench:search failed: ${err instanceof Error ? (err.stack ?? err.message) : err}\n`);
    process.exit(1);
  });
