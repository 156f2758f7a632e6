/**
 * Search benchmark: five representative searches through the gateway at a fixed concurrency,
 * beside the same work run directly against PostgreSQL (the limit), with EXPLAIN of each.
 * `npm run bench:search`; BENCH_EVENTS (100000), BENCH_CONCURRENCY (16), BENCH_SECONDS (10).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { searchEventsQuery, ticketTypesByEventIds } from '@bilten/catalog/src/db/queries.ts';
import { parseSearch, type SearchArgs, searchEventPage } from '@bilten/catalog/src/domain/search.ts';
import { ANONYMOUS, connectDatabase, createInProcessBus } from '@bilten/platform';
import { captureLogs, createTestDatabase, graphql } from '@bilten/testkit';
import { startStack } from '../../packages/stack/src/stack.ts';
import { seedCatalog } from './seed.ts';

const int = (name: string, fallback: number) => Number.parseInt(process.env[name] ?? '', 10) || fallback;
const config = {
  events: int('BENCH_EVENTS', 100_000),
  concurrency: int('BENCH_CONCURRENCY', 16),
  seconds: int('BENCH_SECONDS', 10),
};
const targets = { gatewayP95Ms: 50, sqlP95Ms: 15 };
const log = (line: string) => process.stdout.write(`${line}\n`);

// A Date, as the DateTime scalar hands it to resolvers; JSON turns it into ISO 8601 for the gateway.
const inAWeek = new Date(Date.now() + 7 * 86_400_000);
const SEARCHES: Array<{ name: string; args: SearchArgs }> = [
  { name: 'words "jazz concert", by relevance', args: { filter: { query: 'jazz concert' } } },
  { name: 'typo "cocnert" in BA', args: { filter: { query: 'cocnert', country: 'BA' } } },
  {
    name: 'music in Sarajevo from next week, by date',
    args: { filter: { city: 'Sarajevo', category: 'MUSIC', startsAfter: inAWeek }, sort: 'STARTS_AT' },
  },
  {
    name: 'within 50 km of Zagreb under 30.00, by price',
    args: {
      filter: { near: { latitude: 45.815, longitude: 15.982, radiusKm: 50 }, priceMax: 3000 },
      sort: 'PRICE',
    },
  },
  { name: 'browse: newest, second page', args: { sort: 'NEWEST' } },
];

const QUERY = `query($filter: EventFilter, $sort: EventSort, $first: Int, $after: String) {
  events(filter: $filter, sort: $sort, first: $first, after: $after) {
    edges { node { id title startsAt venue { city } ticketTypes { name price { amount currency } } } }
    pageInfo { endCursor hasNextPage }
  }
}`;

interface Summary {
  requests: number;
  perSecond: number;
  p50: number;
  p95: number;
  p99: number;
}

/** `concurrency` loops calling `once` for `seconds` (after a one-second warm-up). */
async function measure(once: () => Promise<void>): Promise<Summary> {
  const run = async (ms: number, record: boolean) => {
    const latencies: number[] = [];
    const deadline = performance.now() + ms;
    await Promise.all(
      Array.from({ length: config.concurrency }, async () => {
        while (performance.now() < deadline) {
          const started = performance.now();
          await once();
          if (record) latencies.push(performance.now() - started);
        }
      }),
    );
    return latencies;
  };
  await run(1_000, false);
  const latencies = (await run(config.seconds * 1_000, true)).sort((a, b) => a - b);
  const at = (q: number) =>
    Math.round(latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]! * 100) / 100;
  return {
    requests: latencies.length,
    perSecond: Math.round(latencies.length / config.seconds),
    p50: at(0.5),
    p95: at(0.95),
    p99: at(0.99),
  };
}

const { log: serviceLog } = captureLogs('bench-search');
const database = await createTestDatabase();
const bus = createInProcessBus(serviceLog);
const ports = { gateway: 0, identity: 0, catalog: 0, orders: 0, billing: 0, messaging: 0, branding: 0 };
const stack = await startStack({
  databaseUrl: database.url,
  databasePoolSize: config.concurrency,
  bus,
  log: serviceLog,
  host: '127.0.0.1',
  ports,
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
const direct = connectDatabase({
  url: database.url,
  poolSize: config.concurrency,
  applicationName: 'bench-search',
});
try {
  log(`seeding ${config.events} events`);
  const seeded = performance.now();
  await seedCatalog(direct.sql, { events: config.events, log });
  log(`seeded in ${Math.round((performance.now() - seeded) / 1000)} s`);

  // The browse search starts from the first page's cursor, as a client paging on would.
  const first = await searchEventPage(direct.db, ANONYMOUS, { first: 20 });
  SEARCHES[4]!.args.after = first.pageInfo.endCursor;

  const results = [];
  for (const search of SEARCHES) {
    const variables = { ...search.args, first: 20 };
    const check = await graphql<{ events: { edges: unknown[] } }, typeof variables>(
      stack.gateway.url,
      QUERY,
      variables,
    );
    if (check.body.errors) throw new Error(`${search.name}: ${JSON.stringify(check.body.errors)}`);
    const found = check.body.data!.events.edges.length;
    log(`${search.name}: ${found} results on the page`);
    const gateway = await measure(async () => {
      const { body } = await graphql(stack.gateway.url, QUERY, variables);
      if (body.errors) throw new Error(JSON.stringify(body.errors));
    });
    // The limit: what the catalog subgraph runs for this request, straight on PostgreSQL.
    const sql = await measure(async () => {
      const page = await searchEventPage(direct.db, ANONYMOUS, variables);
      await ticketTypesByEventIds(
        direct.db,
        page.edges.map((edge) => edge.node.id),
      );
    });
    const { criteria, sort, size, after } = parseSearch(ANONYMOUS, variables);
    const statement = searchEventsQuery(direct.db, criteria, sort, size + 1, after).toSQL();
    const plan = await direct.sql.begin(async (tx) => {
      await tx`select set_config('pg_trgm.strict_word_similarity_threshold', '0.3', true)`;
      return tx.unsafe(`explain (analyze, buffers, costs off) ${statement.sql}`, statement.params as never[]);
    });
    const explain = plan.map((row) => String(row['QUERY PLAN']));
    results.push({ name: search.name, variables, found, gateway, sql, explain });
  }

  log('');
  log(`${config.events} events, concurrency ${config.concurrency}, ${config.seconds} s per measurement (ms)`);
  log(
    'search                                             | gateway p50   p95   p99  req/s | SQL p50   p95   p99  req/s',
  );
  for (const r of results) {
    const cells = (s: Summary) =>
      `${String(s.p50).padStart(6)}${String(s.p95).padStart(6)}${String(s.p99).padStart(6)}${String(s.perSecond).padStart(7)}`;
    log(`${r.name.padEnd(50)} | ${cells(r.gateway)} | ${cells(r.sql)}`);
  }
  for (const r of results) {
    log('');
    log(`EXPLAIN ${r.name}`);
    for (const line of r.explain) log(`  ${line}`);
  }
  mkdirSync(new URL('../results/', import.meta.url), { recursive: true });
  const file = new URL('../results/search.json', import.meta.url);
  writeFileSync(
    file,
    `${JSON.stringify(
      {
        at: new Date().toISOString(),
        machine: {
          cpus: os.cpus().length,
          model: os.cpus()[0]?.model,
          memoryGb: Math.round(os.totalmem() / 2 ** 30),
        },
        config,
        targets,
        results,
      },
      null,
      2,
    )}\n`,
  );
  log(`\nwrote ${file.pathname}`);
} finally {
  await direct.close();
  await stack.stop();
  await bus.close();
  await database.drop();
}
