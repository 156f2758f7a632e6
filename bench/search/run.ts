/**
 * Search benchmark: five representative searches through the gateway at a fixed concurrency,
 * beside the same SQL run directly against PostgreSQL (the limit) in the same run, with the plan
 * of every statement each search runs. `npm run bench:search`; see bench/README.md.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { ticketTypesByEventIds } from '@bilten/catalog/src/db/queries.ts';
import { type SearchArgs, searchEventPage } from '@bilten/catalog/src/domain/search.ts';
import { ANONYMOUS, connectDatabase, createInProcessBus, type Database, type Sql } from '@bilten/platform';
import { captureLogs, graphql, statementsOf } from '@bilten/testkit';
import postgres from 'postgres';
import { startStack } from '../../packages/stack/src/stack.ts';
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
import { explainAsServed, type PlanCheck, recordingDatabase, type Statement } from './plans.ts';
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

interface Search {
  name: string;
  args: SearchArgs;
  /**
   * The index(es) a statement of this search should read when it matches no text; statements
   * that match text expect the tsvector or trigram index, ticket types their event_id index.
   */
  indexes: string[];
}

// A Date, as the DateTime scalar hands it to resolvers; JSON turns it into ISO 8601 for the gateway.
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
type PageData = { events: { totalCount?: number; edges: Array<{ node: { id: string } }> } };

/**
 * What the catalog subgraph runs for one of these requests, with the same functions: the page
 * (`searchEventPage`, with its typo correction when the words find nothing, told that
 * `totalCount` is wanted as the resolver tells it), then, as the resolvers do at the same time,
 * `totalCount` (`page.count()`, which may be known already) and the ticket types of the page's
 * events (the loader's `ticketTypesByEventIds`).
 */
async function searchDirectly(db: Database, args: SearchArgs, withCount: boolean) {
  const page = await searchEventPage(db, ANONYMOUS, args, { withTotal: withCount });
  const ids = page.edges.map((edge) => edge.node.id);
  const [totalCount] = await Promise.all([
    withCount ? page.count() : undefined,
    ids.length ? ticketTypesByEventIds(db, ids) : undefined,
  ]);
  return { ids, totalCount };
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

/** The statement `totalCount` runs on its own for this search (typo correction included). */
async function countStatement(sql: Sql, args: SearchArgs): Promise<Statement> {
  const recorder = recordingDatabase(sql);
  const page = await searchEventPage(recorder.db, ANONYMOUS, args);
  await page.count();
  return recorder.statements.at(-1)!;
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
    });
    resources.defer('stack', () => stack.stop());
    // The limit's pool: as catalog's (same size, statements prepared), counting its statements.
    let directStatements = 0;
    const direct = connectDatabase({
      url: database.url,
      poolSize: config.concurrency,
      applicationName: 'bench-search',
      onQuery: () => directStatements++,
    });
    resources.defer('direct pool', () => direct.close());
    const [version] = await direct.sql<Array<{ server_version: string }>>`show server_version`;
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
        : 'pgbench not found: the SQL limit falls back to catalog functions in Node',
    );

    // The browse search starts from the first page's cursor, as a client paging on would.
    const first = await searchEventPage(direct.db, ANONYMOUS, { sort: 'NEWEST', first: config.pageSize });
    SEARCHES[4]!.args.after = first.pageInfo.endCursor;

    const results = [];
    for (const search of SEARCHES) {
      const firstPage = !search.args.after;
      const variables = { ...search.args, first: config.pageSize };
      const viaGateway = async () => {
        const response = await graphql<PageData, typeof variables>(
          stack.gateway.url,
          firstPage ? FIRST_PAGE : NEXT_PAGE,
          variables,
        );
        if (response.body.errors) throw new Error(JSON.stringify(response.body.errors));
        return response.body.data!.events;
      };
      const viaSql = () => searchDirectly(direct.db, variables, firstPage);
      log(`${search.name}`);

      // Once each way, to check both do the same work: the same events and total, as many statements.
      const answer = await viaGateway();
      const recorder = recordingDatabase(direct.sql);
      const recorded = await searchDirectly(recorder.db, variables, firstPage);
      const sameResults =
        JSON.stringify(answer.edges.map((edge) => edge.node.id)) === JSON.stringify(recorded.ids) &&
        answer.totalCount === recorded.totalCount;
      const gatewayStatements = await statementsOf(stack.subgraphs.catalog.url, viaGateway);
      await viaSql();
      const before = directStatements;
      await viaSql();
      const sqlStatements = directStatements - before;
      const match = recorder.statements.some((statement) => statement.sql.includes('"search_words"'))
        ? 'typos'
        : 'words';
      log(
        `  ${answer.edges.length} on the page${firstPage ? `, ${answer.totalCount} in all` : ''}; ` +
          `${gatewayStatements} statements in catalog, ${sqlStatements} direct` +
          `${sameResults ? '' : '; DIFFERENT RESULTS'}`,
      );

      const gateway = await closedLoop(viaGateway);
      log(`  gateway p50 / p95 / p99 ${ms(gateway.latencyMs)} ms, ${fmt(gateway.perSecond, 1)}/s`);
      const functions = await closedLoop(viaSql);
      log(
        `  catalog functions p50 / p95 / p99 ${ms(functions.latencyMs)} ms, ${fmt(functions.perSecond, 1)}/s`,
      );
      const sql = pgbench
        ? await runPgbench(database.url, pgbenchRequest(recorder.statements), pgbenchOptions)
        : functions;
      log(
        `  SQL (${pgbench ? 'pgbench' : 'no pgbench: catalog functions'}) p50 / p95 / p99 ${ms(sql.latencyMs)} ms, ${fmt(sql.perSecond, 1)}/s`,
      );
      const plans = await explainAsServed(direct.sql, recorder.statements, search.indexes);
      // The floor of a first page: counting its matches alone, as `totalCount` must, with no page,
      // no ranking and no ticket types. When that alone misses the SQL target, no page can meet it.
      const countAlone =
        firstPage && pgbench
          ? await runPgbench(
              database.url,
              pgbenchRequest([await countStatement(direct.sql, variables)]),
              pgbenchOptions,
            )
          : undefined;
      if (countAlone) {
        log(
          `  count alone (pgbench) p50 / p95 / p99 ${ms(countAlone.latencyMs)} ms, ${fmt(countAlone.perSecond, 1)}/s`,
        );
      }

      results.push({
        name: search.name,
        variables,
        totalCountAsked: firstPage,
        onPage: answer.edges.length,
        totalCount: answer.totalCount,
        textMatch: search.args.filter?.query ? match : undefined,
        sameResults,
        statementsPerRequest: { gateway: gatewayStatements, sql: sqlStatements },
        gateway,
        functions,
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
          'catalog functions p50 / p95 / p99',
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
          ms(r.functions.latencyMs),
          fmt(r.functions.perSecond, 1),
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
          'statements gateway / SQL',
          'same results',
          'failures gateway / functions / SQL',
          'CPU gateway: node / pg; machine %',
          'CPU functions: node / pg; machine %',
        ],
        results.map((r) => [
          r.name,
          `${r.onPage} / ${r.totalCountAsked ? fmt(r.totalCount ?? Number.NaN) : 'not asked'}`,
          `${r.statementsPerRequest.gateway} / ${r.statementsPerRequest.sql}`,
          r.sameResults ? 'yes' : 'NO',
          `${r.gateway.failures} / ${r.functions.failures} / ${r.sql.failures}`,
          cpuCell(r.gateway.cpu),
          cpuCell(r.functions.cpu),
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
    const failures = results.flatMap((r) => [r.gateway, r.functions, r.sql]).filter((m) => m.failures);
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
