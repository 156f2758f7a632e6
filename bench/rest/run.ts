/**
 * REST facade benchmark: the same read, a page of 20 published events (each with ticket types),
 * through `GET /api/v1/events?limit=20` and through the equivalent GraphQL query, at a fixed
 * concurrency against one started stack, in interleaved rounds (REST, GraphQL, REST, …) so that
 * the machine's drift hits both alike. Reports medians over the rounds and the cost ratio
 * (REST cost ÷ GraphQL cost per request, cost = 1 / throughput). `npm run bench:rest`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { waitFor } from '@bilten/testkit';
import { eventInput, gatewayCall, startTestStack, type TestStack } from '../../stack/test/support.ts';
import { fmt, formatTable, type LatencySummary, now, summarize } from '../stats.ts';

const int = (name: string, fallback: number) => {
  const value = process.env[name];
  return value === undefined || value === '' ? fallback : Number.parseInt(value, 10);
};
const config = {
  concurrency: int('BENCH_CONCURRENCY', 16),
  rounds: int('BENCH_ROUNDS', 6),
  seconds: int('BENCH_SECONDS', 5),
  events: int('BENCH_EVENTS', 24),
  ticketTypesPerEvent: 3,
  pageSize: 20,
};
const target = { maxCostRatio: 1.15 };
const log = (line: string) => process.stdout.write(`${line}\n`);

/** The REST route's operation (gateway/rest/v1 ListEvents) as a GraphQL client would write it. */
const LIST_EVENTS = `query ListEvents($first: Int) {
  events(filter: {}, first: $first) {
    edges { node {
      id title category tags startsAt endsAt timezone
      venue { name address city country latitude longitude }
      onlineUrl currency capacity visibility status version publishedAt createdAt updatedAt
    } }
    pageInfo { hasNextPage endCursor }
    totalCount
  }
}`;

type Side = 'rest' | 'graphql';

interface Round {
  side: Side;
  requests: number;
  failures: number;
  perSecond: number;
  latencyMs: LatencySummary;
  /** CPU of this process (gateway, subgraphs and load generator alike) per request. */
  cpuMsPerRequest: number;
}

/** `request` in `concurrency` loops for `seconds`: requests per second, latency, CPU per request. */
async function closedLoop(side: Side, request: () => Promise<boolean>, seconds: number): Promise<Round> {
  const samples: number[] = [];
  let failures = 0;
  const cpuStart = process.cpuUsage();
  const start = now();
  const end = start + seconds * 1_000;
  await Promise.all(
    Array.from({ length: config.concurrency }, async () => {
      while (now() < end) {
        const began = now();
        const ok = await request().catch(() => false);
        samples.push(now() - began);
        if (!ok) failures++;
      }
    }),
  );
  const elapsed = now() - start;
  const cpu = process.cpuUsage(cpuStart);
  return {
    side,
    requests: samples.length,
    failures,
    perSecond: Math.round((samples.length / elapsed) * 1_000 * 10) / 10,
    latencyMs: summarize(samples),
    cpuMsPerRequest: Math.round(((cpu.user + cpu.system) / 1_000 / samples.length) * 1_000) / 1_000,
  };
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};

/** `config.events` published events of one organization, each with its ticket types, visible in the public list. */
async function seed(stack: TestStack) {
  const { organizationId, owner } = await stack.organizationOwner(`bench-rest-${Date.now()}`);
  for (let i = 0; i < config.events; i++) {
    const { createEvent } = await gatewayCall<{ createEvent: { event: { id: string } } }>(
      stack,
      'mutation($input: CreateEventInput!) { createEvent(input: $input) { event { id } } }',
      {
        input: eventInput(organizationId, `Bench Night ${i + 1}`, {
          description: 'An evening of music for the REST benchmark.',
          tags: ['music', 'bench'],
        }),
      },
      owner.headers,
    );
    const eventId = createEvent.event.id;
    for (let t = 0; t < config.ticketTypesPerEvent; t++) {
      await gatewayCall(
        stack,
        'mutation($input: AddTicketTypeInput!) { addTicketType(input: $input) { ticketType { id } } }',
        {
          input: {
            eventId,
            name: `Tier ${t + 1}`,
            price: { amount: 1000 * (t + 1), currency: 'EUR' },
            capacity: 30,
          },
        },
        owner.headers,
      );
    }
    await gatewayCall(
      stack,
      'mutation($input: EventIdInput!) { publishEvent(input: $input) { errors { code } } }',
      { input: { id: eventId } },
      owner.headers,
    );
  }
}

async function main() {
  log(`bench:rest on ${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'unknown cpu'})`);
  log(
    `load average before the run: ${os
      .loadavg()
      .map((value) => value.toFixed(2))
      .join(', ')}`,
  );
  log(
    `concurrency ${config.concurrency}, ${config.rounds} rounds of ${config.seconds} s per side, ${config.events} events`,
  );
  let stack: TestStack | undefined;
  const stop = async () => {
    await stack?.dispose();
    stack = undefined;
  };
  process.once('SIGINT', () => void stop().finally(() => process.exit(130)));
  try {
    stack = await startTestStack('jetstream');
    const origin = new URL(stack.url).origin;
    log(`seeding ${config.events} published events with ${config.ticketTypesPerEvent} ticket types each`);
    await seed(stack);
    const restUrl = `${origin}/api/v1/events?limit=${config.pageSize}`;
    const graphqlBody = JSON.stringify({
      query: LIST_EVENTS,
      operationName: 'ListEvents',
      variables: { first: config.pageSize },
    });
    const rest = async () => {
      const response = await fetch(restUrl);
      const body = (await response.json()) as { data?: unknown[] };
      return response.status === 200 && body.data?.length === config.pageSize;
    };
    const graphql = async () => {
      const response = await fetch(stack!.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: graphqlBody,
      });
      const body = (await response.json()) as { data?: { events: { edges: unknown[] } } };
      return response.status === 200 && body.data?.events.edges.length === config.pageSize;
    };

    // The search list is fed by events: wait until the page is full, and check both sides read the same.
    await waitFor(rest, 60_000);
    const restPage = (await (await fetch(restUrl)).json()) as { data: Array<{ id: string }> };
    const graphqlPage = (await (
      await fetch(stack.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: graphqlBody,
      })
    ).json()) as { data: { events: { edges: Array<{ node: { id: string } }> } } };
    const ids = (events: Array<{ id: string }>) => events.map((event) => event.id).join();
    if (ids(restPage.data) !== ids(graphqlPage.data.events.edges.map((edge) => edge.node)))
      throw new Error('REST and GraphQL do not answer the same page');
    log(
      `one page: REST ${JSON.stringify(restPage).length} B, GraphQL ${JSON.stringify(graphqlPage).length} B`,
    );

    log('warm-up (JIT, pools, plan and document caches)');
    await closedLoop('rest', rest, 2);
    await closedLoop('graphql', graphql, 2);

    const rounds: Round[] = [];
    for (let round = 1; round <= config.rounds; round++) {
      for (const [side, request] of [
        ['rest', rest],
        ['graphql', graphql],
      ] as const) {
        const result = await closedLoop(side, request, config.seconds);
        rounds.push(result);
        log(
          `  round ${round} ${side.padEnd(7)} ${fmt(result.perSecond, 1)} req/s, p50 ${fmt(result.latencyMs.p50, 1)} ms, p99 ${fmt(result.latencyMs.p99, 1)} ms, ${fmt(result.cpuMsPerRequest, 2)} CPU ms/req, ${result.failures} failures`,
        );
      }
    }

    const sideSummary = (side: Side) => {
      const of = rounds.filter((round) => round.side === side);
      return {
        perSecond: median(of.map((round) => round.perSecond)),
        p50: median(of.map((round) => round.latencyMs.p50)),
        p99: median(of.map((round) => round.latencyMs.p99)),
        cpuMsPerRequest: median(of.map((round) => round.cpuMsPerRequest)),
        failures: of.reduce((sum, round) => sum + round.failures, 0),
      };
    };
    const restSummary = sideSummary('rest');
    const graphqlSummary = sideSummary('graphql');
    // Cost per request is 1 / throughput: REST's over GraphQL's.
    const costRatio = Math.round((graphqlSummary.perSecond / restSummary.perSecond) * 1_000) / 1_000;
    const cpuRatio =
      Math.round((restSummary.cpuMsPerRequest / graphqlSummary.cpuMsPerRequest) * 1_000) / 1_000;
    const pass = costRatio <= target.maxCostRatio && restSummary.failures + graphqlSummary.failures === 0;

    log('');
    log(
      formatTable(
        ['medians of the rounds', 'req/s', 'p50 ms', 'p99 ms', 'CPU ms/req', 'failures'],
        [
          [`GET /api/v1/events?limit=${config.pageSize}`, restSummary, 'REST'] as const,
          ['POST /graphql events(first: 20)', graphqlSummary, 'GraphQL'] as const,
        ].map(([label, summary]) => [
          label,
          fmt(summary.perSecond, 1),
          fmt(summary.p50, 1),
          fmt(summary.p99, 1),
          fmt(summary.cpuMsPerRequest, 2),
          fmt(summary.failures),
        ]),
      ),
    );
    log('');
    log(
      `REST cost ÷ GraphQL cost per request: ${fmt(costRatio, 3)} (CPU: ${fmt(cpuRatio, 3)}) ${pass ? 'PASS' : 'FAIL'} (target <= ${target.maxCostRatio}, no failures)`,
    );

    const file = new URL('../results/rest.json', import.meta.url);
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
          rest: restSummary,
          graphql: graphqlSummary,
          costRatio,
          cpuRatio,
          pass,
          rounds,
        },
        null,
        2,
      )}\n`,
    );
    log('results written to bench/results/rest.json');
  } finally {
    await stop();
  }
}

main().catch((err) => {
  process.stderr.write(`bench:rest failed: ${(err as Error).stack ?? err}\n`);
  process.exitCode = 1;
});
