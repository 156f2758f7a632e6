/**
 * Checkout: signed-in buyers, 16 at a time, each reserve → checkout → pay (Sandbox, tok_visa) →
 * order read until PAID with its tickets, through the gateway; beside the platform's floor in the
 * same run (the same buyers asking `{ me { id } }`). `npm run bench:checkout`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { graphql } from '@bilten/testkit';
import { startTestStack, type TestStack } from '../../stack/test/support.ts';
import { drain } from '../onsale/rush.ts';
import { type CpuUsage, cpuMeter, fmt, formatTable, type LatencySummary } from '../stats.ts';
import { type CpuBreakdown, startCpuProfile } from './cpu-profile.ts';
import { checkoutRun, type PurchaseOptions } from './purchase.ts';
import { buyers, publishedEvent } from './setup.ts';

const int = (name: string, fallback: number) => {
  const value = process.env[name];
  return value === undefined || value === '' ? fallback : Number.parseInt(value, 10);
};
const config = {
  purchases: int('BENCH_PURCHASES', 400),
  concurrency: int('BENCH_CONCURRENCY', 16),
  /** Buyers signed in (each buys purchases ÷ buyers times); default one per purchase. */
  buyers: int('BENCH_BUYERS', int('BENCH_PURCHASES', 400)),
  /** Floor requests, before and after the purchases each. */
  floorRequests: int('BENCH_FLOOR_REQUESTS', 2_000),
  pollMs: int('BENCH_POLL_MS', 5),
  payRetryMs: int('BENCH_PAY_RETRY_MS', 5),
  timeoutMs: int('BENCH_TIMEOUT_MS', 30_000),
  loginConcurrency: int('BENCH_LOGIN_CONCURRENCY', 8),
  /** Sample the main thread during the purchases (and a floor run) and say where the time goes. */
  cpuProfile: process.env.BENCH_CPU_PROFILE === '1',
};
/** A purchase costs at most 4 floor requests: purchases/s ≥ floor requests/s ÷ 4. */
const target = { purchasesToFloorRatio: 0.25, maxSucceededPaymentsPerOrder: 1 };
const log = (line: string) => process.stdout.write(`${line}\n`);
const ME = '{ me { id } }';
const SUBGRAPHS = ['identity', 'catalog', 'orders', 'billing', 'messaging', 'branding'] as const;

/** SQL statements each subgraph sent so far, by pool (`db_queries_total` of its /metrics). */
async function statementCounts(stack: TestStack) {
  const counts: Record<string, { requests: number; background: number }> = {};
  for (const name of SUBGRAPHS) {
    const text = await fetch(new URL('/metrics', stack.subgraphs[name].url)).then((r) => r.text());
    const of = (pool: string) =>
      Number(new RegExp(`^db_queries_total\\{[^}]*pool="${pool}"[^}]*\\} (\\S+)`, 'm').exec(text)?.[1] ?? 0);
    counts[name] = { requests: of('requests'), background: of('background') };
  }
  return counts;
}

/** Statements per completed purchase, by subgraph and pool, between two counts. */
function statementsPer(
  before: Awaited<ReturnType<typeof statementCounts>>,
  after: Awaited<ReturnType<typeof statementCounts>>,
  purchases: number,
) {
  const per: Record<string, { requests: number; background: number }> = {};
  let total = 0;
  for (const name of SUBGRAPHS) {
    const requests = after[name]!.requests - before[name]!.requests;
    const background = after[name]!.background - before[name]!.background;
    total += requests + background;
    per[name] = {
      requests: Math.round((requests / purchases) * 10) / 10,
      background: Math.round((background / purchases) * 10) / 10,
    };
  }
  return { bySubgraph: per, total: Math.round((total / purchases) * 10) / 10 };
}

/** Charges per order: billing's SUCCEEDED payments (at most 1 each), and orders' tickets. */
async function charges(stack: TestStack, orderIds: string[]) {
  const [billing] = await stack.sql<Array<{ orders: number; succeeded: number; max: number }>>`
    select count(*)::int as orders, coalesce(sum(n), 0)::int as succeeded, coalesce(max(n), 0)::int as max
    from (select order_id, count(*) filter (where status = 'SUCCEEDED') as n from billing.payments
          where order_id = any(${stack.sql.array(orderIds)}::uuid[]) group by order_id) per_order`;
  const [orders] = await stack.sql<Array<{ paid: number; tickets: number }>>`
    select count(*) filter (where o.status = 'PAID')::int as paid,
      (select count(*)::int from orders.tickets t where t.order_id = any(${stack.sql.array(orderIds)}::uuid[])) as tickets
    from orders.orders o where o.id = any(${stack.sql.array(orderIds)}::uuid[])`;
  return {
    ordersWithPayments: billing!.orders,
    succeededPayments: billing!.succeeded,
    maxSucceededPerOrder: billing!.max,
    doubleCharged: billing!.max > 1 ? billing!.succeeded - billing!.orders : 0,
    ordersPaid: orders!.paid,
    tickets: orders!.tickets,
  };
}

async function main() {
  log(`bench:checkout on ${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'unknown cpu'})`);
  log(
    `load average before the run: ${os
      .loadavg()
      .map((value) => value.toFixed(2))
      .join(', ')}`,
  );
  log(
    `${config.purchases} purchases by ${config.buyers} buyers, concurrency ${config.concurrency}; poll every ${config.pollMs} ms, payOrder retry after ${config.payRetryMs} ms`,
  );

  let stack: TestStack | undefined;
  const stop = async () => {
    await stack?.dispose();
    stack = undefined;
  };
  process.once('SIGINT', () => void stop().finally(() => process.exit(130)));
  try {
    stack = await startTestStack('jetstream');
    const started = stack;
    const { organizationId, owner } = await started.organizationOwner('checkout');
    log('publishing the events through catalog');
    const warmUpEvent = await publishedEvent(started, owner.headers, organizationId, 10 * config.concurrency);
    const event = await publishedEvent(started, owner.headers, organizationId, 2 * config.purchases);
    log(`signing in ${config.buyers} buyers`);
    const signedIn = await buyers(
      started,
      Math.max(config.buyers, 2 * config.concurrency),
      config.loginConcurrency,
    );

    const me = async (i: number) => {
      const { body } = await graphql<{ me: { id: string } | null }, unknown>(
        started.url,
        ME,
        {},
        signedIn[i % signedIn.length]!.headers,
      );
      return Boolean(body.data?.me?.id);
    };
    const options = (on: { eventId: string; ticketTypeId: string }): PurchaseOptions => ({
      url: started.url,
      ...on,
      pollMs: config.pollMs,
      payRetryMs: config.payRetryMs,
      timeoutMs: config.timeoutMs,
    });
    const runId = Date.now().toString(36);

    log('warm-up (JIT, pools, JWKS) on another event');
    await drain(4 * config.concurrency, config.concurrency, me);
    const warmUp = await checkoutRun(
      options(warmUpEvent),
      signedIn,
      4 * config.concurrency,
      config.concurrency,
      `warm-${runId}`,
    );
    if (warmUp.completed === 0)
      throw new Error(`no purchase completed in the warm-up: ${JSON.stringify(warmUp.errors)}`);

    // The floor is measured before and after the purchases; its mean smooths the machine's noise.
    log('floor: { me { id } } through the gateway');
    const floorBeforeCpu = cpuMeter();
    const floorBefore = await drain(config.floorRequests, config.concurrency, me);
    const floorBeforeUsage = floorBeforeCpu();
    log(`  ${fmt(floorBefore.perSecond, 1)} requests/s, p99 ${fmt(floorBefore.latencyMs.p99, 1)} ms`);

    log('purchases: reserve → checkout → pay → PAID with tickets');
    const statementsBefore = await statementCounts(started);
    const stopProfile = config.cpuProfile ? await startCpuProfile() : undefined;
    const purchaseCpu = cpuMeter();
    const run = await checkoutRun(
      options(event),
      signedIn,
      config.purchases,
      config.concurrency,
      `bench-${runId}`,
    );
    const purchaseUsage = purchaseCpu();
    const purchaseProfile: CpuBreakdown | undefined = await stopProfile?.();
    const statementsAfter = await statementCounts(started);
    log(
      `  ${fmt(run.perSecond, 1)} purchases/s, p50 ${fmt(run.latencyMs.p50, 1)} / p99 ${fmt(run.latencyMs.p99, 1)} ms`,
    );

    log('floor again');
    const floorAfterCpu = cpuMeter();
    const floorStatementsBefore = await statementCounts(started);
    const stopFloorProfile = config.cpuProfile ? await startCpuProfile() : undefined;
    const floorAfter = await drain(config.floorRequests, config.concurrency, me);
    const floorAfterUsage = floorAfterCpu();
    const floorStatements = statementsPer(
      floorStatementsBefore,
      await statementCounts(started),
      floorAfter.requests,
    );
    const floorProfile: CpuBreakdown | undefined = await stopFloorProfile?.();
    log(`  ${fmt(floorAfter.perSecond, 1)} requests/s`);

    const charged = await charges(started, run.orderIds);
    // Statements per purchase include what the polls cost (orders' reads) and the mails messaging sends.
    const statements = statementsPer(statementsBefore, statementsAfter, Math.max(1, run.completed));
    await stop();

    const floorRate = (floorBefore.perSecond + floorAfter.perSecond) / 2;
    const ratio = Math.round((run.perSecond / floorRate) * 1_000) / 1_000;
    const unexpected = Object.values(run.errors).reduce((sum, n) => sum + n, 0);
    const pass =
      ratio >= target.purchasesToFloorRatio &&
      charged.maxSucceededPerOrder <= target.maxSucceededPaymentsPerOrder &&
      unexpected === 0;
    const ms = (summary: LatencySummary) =>
      `${fmt(summary.p50, 1)} / ${fmt(summary.p95, 1)} / ${fmt(summary.p99, 1)}`;
    const cpu = (usage: CpuUsage) =>
      `${fmt(usage.eventLoopPercent)} / ${fmt(usage.nodePercentOfOneCore)} / ${fmt(usage.postgresPercentOfOneCore)} / ${fmt(usage.natsPercentOfOneCore)}; ${fmt(usage.machinePercent)}`;
    log('');
    log(
      formatTable(
        ['', 'per second', 'p50 / p95 / p99 ms', 'errors', 'CPU loop / node / postgres / nats; machine %'],
        [
          [
            'floor: { me { id } } (before)',
            fmt(floorBefore.perSecond, 1),
            ms(floorBefore.latencyMs),
            fmt(floorBefore.failures),
            cpu(floorBeforeUsage),
          ],
          [
            `purchases: PAID with tickets (${run.completed})`,
            fmt(run.perSecond, 1),
            ms(run.latencyMs),
            fmt(unexpected),
            cpu(purchaseUsage),
          ],
          ['  reserveTickets', '', ms(run.stagesMs.reserve), '', ''],
          ['  checkout', '', ms(run.stagesMs.checkout), '', ''],
          ['  payOrder (with NOT_FOUND retries)', '', ms(run.stagesMs.pay), '', ''],
          ['  payOrder answered → order reads PAID', '', ms(run.stagesMs.untilPaid), '', ''],
          [
            'floor: { me { id } } (after)',
            fmt(floorAfter.perSecond, 1),
            ms(floorAfter.latencyMs),
            fmt(floorAfter.failures),
            cpu(floorAfterUsage),
          ],
        ],
      ),
    );
    log('');
    log(
      `gateway requests per purchase: ${run.requestsPerPurchase} (3 + ${run.polls.perPurchase} order reads + payOrder NOT_FOUND retries)`,
    );
    log(
      `payOrder NOT_FOUND retries: ${run.payRetries.total} in ${run.payRetries.purchasesThatRetried} purchases (at most ${run.payRetries.max} in one)`,
    );
    log(
      `SQL statements per floor request: ${floorStatements.total}; per purchase: ${statements.total} — ${SUBGRAPHS.map((name) => `${name} ${statements.bySubgraph[name]!.requests} + ${statements.bySubgraph[name]!.background} events`).join(', ')}`,
    );
    log(
      `charges: ${charged.succeededPayments} SUCCEEDED payments for ${charged.ordersWithPayments} orders (at most ${charged.maxSucceededPerOrder} per order, double charges ${charged.doubleCharged}); orders PAID ${charged.ordersPaid}, tickets ${charged.tickets}`,
    );
    log("the Sandbox's own charge count is not reachable from here (its ledger is in billing's module)");
    // This process's own CPU per operation: the machine's other load inflates it less than rates.
    const nodeMsPerPurchase = purchaseUsage.nodeCpuMs / Math.max(1, run.completed);
    const nodeMsPerFloorRequest =
      (floorBeforeUsage.nodeCpuMs + floorAfterUsage.nodeCpuMs) / (floorBefore.requests + floorAfter.requests);
    log(
      `Node CPU per purchase ${fmt(nodeMsPerPurchase, 1)} ms, per floor request ${fmt(nodeMsPerFloorRequest, 2)} ms: ${fmt(nodeMsPerPurchase / nodeMsPerFloorRequest, 1)} floor requests' CPU`,
    );
    for (const [name, profile] of [
      ['purchases', purchaseProfile],
      ['floor (after)', floorProfile],
    ] as const)
      if (profile)
        log(
          `main thread self time, ${name} (${fmt(profile.sampledMs)} ms sampled): ${profile.top
            .slice(0, 14)
            .map((row) => `${row.bucket} ${fmt(row.percent, 1)} %`)
            .join(', ')}`,
        );
    if (unexpected) log(`failed purchases: ${JSON.stringify(run.errors)}`);
    log(
      `purchases/s ÷ floor requests/s (${fmt(floorRate, 1)}/s): ${fmt(ratio, 3)} — a purchase costs ${fmt(floorRate / Math.max(run.perSecond, 0.001), 2)} floor requests; ${pass ? 'PASS' : 'MISS'} (target >= ${target.purchasesToFloorRatio}, i.e. <= 4 floor requests; at most 1 charge per order; 0 failed purchases)`,
    );

    const { orderIds: _orderIds, ...runWithoutIds } = run;
    const file = new URL('../results/checkout.json', import.meta.url);
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
          floorBefore: { ...floorBefore, cpu: floorBeforeUsage },
          purchases: { ...runWithoutIds, cpu: purchaseUsage },
          floorAfter: { ...floorAfter, cpu: floorAfterUsage },
          statementsPerPurchase: statements,
          statementsPerFloorRequest: floorStatements,
          charges: charged,
          sandboxCharges: null,
          nodeCpuMsPerPurchase: Math.round(nodeMsPerPurchase * 10) / 10,
          nodeCpuMsPerFloorRequest: Math.round(nodeMsPerFloorRequest * 100) / 100,
          cpuProfile: purchaseProfile ? { purchases: purchaseProfile, floorAfter: floorProfile } : null,
          floorRate,
          ratio,
          floorRequestsPerPurchase: Math.round((floorRate / Math.max(run.perSecond, 0.001)) * 100) / 100,
          pass,
        },
        null,
        2,
      )}\n`,
    );
    log('results written to bench/results/checkout.json');
  } finally {
    await stop();
  }
}

main().catch((err) => {
  process.stderr.write(`bench:checkout failed: ${(err as Error).stack ?? err}\n`);
  process.exitCode = 1;
});
