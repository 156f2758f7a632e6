/**
 * On-sale rush: 2,000 signed-in buyers at concurrency 64 race through the gateway for the 500
 * tickets of one event, beside the limits measured in the same run: the same buyers asking
 * `{ me { id } }` (the platform's floor per authenticated request) and pgbench running the
 * reservation's own SQL. `npm run bench:onsale`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { copyAccounts, graphql } from '@bilten/testkit';
import { v7 as uuidv7 } from 'uuid';
import { eventInput, startTestStack, type TestStack } from '../../stack/test/support.ts';
import { type CpuUsage, cpuMeter, fmt, formatTable, type LatencySummary } from '../stats.ts';
import {
  copyInventory,
  dropInventoryCopy,
  pgbenchVersion,
  reservationScript,
  runPgbench,
} from './pgbench.ts';
import { type Profile, profileOrders } from './profile.ts';
import { drain, type Outcome, RESERVE, rush } from './rush.ts';

const int = (name: string, fallback: number) => {
  const value = process.env[name];
  return value === undefined || value === '' ? fallback : Number.parseInt(value, 10);
};
const config = {
  buyers: int('BENCH_BUYERS', 2_000),
  tickets: int('BENCH_TICKETS', 500),
  concurrency: int('BENCH_CONCURRENCY', 64),
  pgbenchSeconds: int('BENCH_PGBENCH_SECONDS', 10),
  pgbenchClients: int('BENCH_PGBENCH_CLIENTS', 64),
  pgbenchThreads: int('BENCH_PGBENCH_THREADS', 2),
  /** Logins run this many at a time (argon2id: more only queue). */
  loginConcurrency: int('BENCH_LOGIN_CONCURRENCY', 8),
  profile: process.env.BENCH_PROFILE !== '0',
};
const target = { holdsToFloorRatio: 0.7 };
const log = (line: string) => process.stdout.write(`${line}\n`);

const CREATE_EVENT = `mutation($input: CreateEventInput!) { createEvent(input: $input) { event { id } errors { code message } } }`;
const ADD_TICKET_TYPE = `mutation($input: AddTicketTypeInput!) { addTicketType(input: $input) { ticketType { id } errors { code message } } }`;
const PUBLISH = `mutation($input: EventIdInput!) { publishEvent(input: $input) { errors { code message } } }`;
const LOGIN = `mutation($input: LoginInput!) { login(input: $input) { accessToken errors { code message } } }`;
const ME = '{ me { id } }';

type Headers = Record<string, string>;

async function mutate<T>(stack: TestStack, query: string, input: unknown, headers: Headers, field: string) {
  const { body } = await graphql<Record<string, T & { errors: unknown[] }>, unknown>(
    stack.url,
    query,
    { input },
    headers,
  );
  const payload = body.data?.[field];
  if (!payload || payload.errors.length) throw new Error(`${field}: ${JSON.stringify(body)}`);
  return payload;
}

/**
 * An event published through catalog with two ticket types sharing its quota; resolves once
 * orders' copy (catalog's outbox → JetStream → orders' consumer) has it.
 */
async function publishedEvent(
  stack: TestStack,
  organizer: Headers,
  organizationId: string,
  capacity: number,
) {
  const { event } = await mutate<{ event: { id: string } }>(
    stack,
    CREATE_EVENT,
    eventInput(organizationId, `On-sale ${capacity}`, { capacity }),
    organizer,
    'createEvent',
  );
  const ticketTypeIds: string[] = [];
  for (const name of ['Floor', 'Balcony']) {
    const { ticketType } = await mutate<{ ticketType: { id: string } }>(
      stack,
      ADD_TICKET_TYPE,
      // Each type alone could take 60 % of the event: the shared quota is what runs out.
      {
        eventId: event.id,
        name,
        price: { amount: 2500, currency: 'EUR' },
        capacity: Math.ceil(capacity * 0.6),
      },
      organizer,
      'addTicketType',
    );
    ticketTypeIds.push(ticketType.id);
  }
  await mutate(stack, PUBLISH, { id: event.id }, organizer, 'publishEvent');
  const deadline = Date.now() + 30_000;
  for (;;) {
    const [copy] = await stack.sql<Array<{ types: number }>>`
      select count(t.id)::int as types from orders.offers o join orders.offer_ticket_types t on t.event_id = o.event_id
      where o.event_id = ${event.id} and o.status = 'PUBLISHED'`;
    if (copy?.types === 2) break;
    if (Date.now() > deadline) throw new Error(`orders never got the offer of ${event.id}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { eventId: event.id, ticketTypeIds };
}

/**
 * `count` verified accounts with access tokens from identity's own login. One is registered
 * through the gateway; the others are copies of its row (same password hash) made in SQL, as
 * registering 2,000 accounts would only measure argon2id; each then signs in through the gateway.
 */
async function buyers(stack: TestStack, count: number): Promise<Headers[]> {
  const template = await stack.signUp();
  const ids = Array.from({ length: count - 1 }, () => uuidv7());
  const emails = ids.map((_, i) => `onsale-buyer-${i}-${template.userId.slice(-8)}@example.com`);
  await copyAccounts(
    stack.sql,
    template.userId,
    ids.map((id, i) => ({ id, email: emails[i]!, displayName: 'On-sale buyer' })),
  );
  const logins = await Promise.all(
    Array.from({ length: config.loginConcurrency }, async (_, loop) => {
      const tokens: Headers[] = [];
      for (let i = loop; i < emails.length; i += config.loginConcurrency) {
        const { body } = await graphql<{ login: { accessToken: string | null } }, unknown>(stack.url, LOGIN, {
          input: { email: emails[i], password: template.password },
        });
        const token = body.data?.login.accessToken;
        if (!token) throw new Error(`login failed: ${JSON.stringify(body)}`);
        tokens.push({ authorization: `Bearer ${token}` });
      }
      return tokens;
    }),
  );
  return [template.headers, ...logins.flat()];
}

/** What orders' tables hold for the event: sold and live holds against capacity. */
async function stockOf(stack: TestStack, eventId: string) {
  const [row] = await stack.sql<Array<{ capacity: number; sold: number; held: number; holds: number }>>`
    select o.capacity,
      (select coalesce(sum(t.sold), 0)::int from orders.offer_ticket_types t where t.event_id = o.event_id) as sold,
      (select coalesce(sum(i.quantity), 0)::int from orders.reservation_items i
         join orders.reservations r on r.id = i.reservation_id
       where r.event_id = o.event_id and r.status in ('HELD', 'CHECKED_OUT') and r.expires_at > clock_timestamp()) as held,
      (select count(*)::int from orders.reservations r where r.event_id = o.event_id) as holds
    from orders.offers o where o.event_id = ${eventId}`;
  return row!;
}

async function main() {
  log(`bench:onsale on ${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'unknown cpu'})`);
  log(
    `load average before the run: ${os
      .loadavg()
      .map((value) => value.toFixed(2))
      .join(', ')}`,
  );
  log(
    `${config.buyers} buyers, ${config.tickets} tickets, concurrency ${config.concurrency}; pgbench -c ${config.pgbenchClients} -j ${config.pgbenchThreads} -T ${config.pgbenchSeconds}`,
  );
  const pgbench = await pgbenchVersion();

  let stack: TestStack | undefined;
  const stop = async () => {
    if (stack) await dropInventoryCopy(stack.sql).catch(() => {});
    await stack?.dispose();
    stack = undefined;
  };
  process.once('SIGINT', () => void stop().finally(() => process.exit(130)));
  try {
    stack = await startTestStack('jetstream');
    const started = stack;
    const { organizationId, owner } = await started.organizationOwner('onsale');
    log('publishing the events through catalog');
    const warmUpEvent = await publishedEvent(started, owner.headers, organizationId, 1_000);
    const event = await publishedEvent(started, owner.headers, organizationId, config.tickets);
    log(`signing in ${config.buyers} buyers`);
    const tokens = await buyers(started, config.buyers);

    const me = async (i: number) => {
      const { body } = await graphql<{ me: { id: string } | null }, unknown>(
        started.url,
        ME,
        {},
        tokens[i % tokens.length],
      );
      return Boolean(body.data?.me?.id);
    };
    const reserveOn =
      (on: { eventId: string; ticketTypeIds: string[] }) =>
      async (i: number): Promise<Outcome> => {
        const { status, body } = await graphql<
          { reserveTickets: { reservation: { id: string } | null; errors: Array<{ code: string }> } },
          unknown
        >(
          started.url,
          RESERVE,
          {
            input: {
              eventId: on.eventId,
              items: [{ ticketTypeId: on.ticketTypeIds[i % 2], quantity: 1 }],
            },
          },
          tokens[i % tokens.length],
        );
        const payload = body.data?.reserveTickets;
        if (payload?.reservation) return 'held';
        if (payload?.errors.length === 1 && payload.errors[0]!.code === 'SOLD_OUT') return 'soldOut';
        return `error: ${payload?.errors[0]?.code ?? body.errors?.[0]?.message ?? `HTTP ${status}`}`;
      };

    log('warm-up (JIT, pools, JWKS) on another event');
    await drain(2 * config.concurrency, config.concurrency, me);
    await rush(4 * config.concurrency, config.concurrency, reserveOn(warmUpEvent));

    // The floor is measured before and after the rush; its mean smooths the machine's noise.
    log('floor: { me { id } } through the gateway');
    const floorCpu = cpuMeter();
    const floorBefore = await drain(config.buyers, config.concurrency, me);
    const floorBeforeCpu = floorCpu();
    log(`  ${fmt(floorBefore.perSecond, 1)} requests/s, p99 ${fmt(floorBefore.latencyMs.p99, 1)} ms`);
    log('the rush: reserveTickets for 1 ticket through the gateway');
    const rushCpu = cpuMeter();
    const result = await rush(config.buyers, config.concurrency, reserveOn(event));
    const rushUsage = rushCpu();
    log(
      `  ${fmt(result.holdsPerSecond, 1)} holds/s, ${fmt(result.answersPerSecond, 1)} answers/s, holds p50 ${fmt(result.holdLatencyMs.p50, 1)} / p99 ${fmt(result.holdLatencyMs.p99, 1)} ms`,
    );
    const stock = await stockOf(started, event.eventId);
    const oversold = Math.max(0, stock.sold + stock.held - stock.capacity);
    log('floor again');
    const floorAfterCpu = cpuMeter();
    const floorAfter = await drain(config.buyers, config.concurrency, me);
    const floorAfterUsage = floorAfterCpu();
    log(`  ${fmt(floorAfter.perSecond, 1)} requests/s`);

    let sqlLimit: Awaited<ReturnType<typeof runPgbench>> | undefined;
    let sqlLimitWithoutHousekeeping: Awaited<ReturnType<typeof runPgbench>> | undefined;
    if (!pgbench) {
      log('pgbench not found (Debian: apt-get install postgresql-client): the SQL limit is skipped');
    } else {
      log(`limit: the reservation's SQL in pgbench (${pgbench}) on a copy of the rush's tables`);
      await copyInventory(started.sql, event.eventId);
      const variables = { event: event.eventId, ticket_type: event.ticketTypeIds[0]! };
      const options = {
        clients: config.pgbenchClients,
        threads: config.pgbenchThreads,
        seconds: config.pgbenchSeconds,
      };
      sqlLimit = await runPgbench(started.databaseUrl, reservationScript(true), variables, options);
      log(
        `  ${fmt(sqlLimit.perSecond, 1)} transactions/s${sqlLimit.firstError ? ` ${sqlLimit.firstError}` : ''}`,
      );
      await copyInventory(started.sql, event.eventId);
      sqlLimitWithoutHousekeeping = await runPgbench(
        started.databaseUrl,
        reservationScript(false),
        variables,
        options,
      );
      log(`  without marking lapsed holds: ${fmt(sqlLimitWithoutHousekeeping.perSecond, 1)} transactions/s`);
      await dropInventoryCopy(started.sql);
    }
    await stop();

    let profile: Profile | undefined;
    if (config.profile) {
      log('orders alone: statements per reservation, and the rush on the subgraph directly');
      profile = await profileOrders(config);
      log(
        `  ${profile.statementsPerHold} statements per hold, ${profile.statementsPerSoldOut} per SOLD_OUT; direct ${fmt(profile.direct.holdsPerSecond, 1)} holds/s`,
      );
    }

    const floorRate = (floorBefore.perSecond + floorAfter.perSecond) / 2;
    const ratio = Math.round((result.holdsPerSecond / floorRate) * 1_000) / 1_000;
    const unexpected = Object.values(result.errors).reduce((sum, n) => sum + n, 0);
    const pass = ratio >= target.holdsToFloorRatio && oversold === 0 && unexpected === 0;
    const ms = (summary: LatencySummary) =>
      `${fmt(summary.p50, 1)} / ${fmt(summary.p95, 1)} / ${fmt(summary.p99, 1)}`;
    const cpu = (usage: CpuUsage) =>
      `${fmt(usage.eventLoopPercent)} / ${fmt(usage.nodePercentOfOneCore)} / ${fmt(usage.postgresPercentOfOneCore)}; ${fmt(usage.machinePercent)}`;
    const rows = [
      [
        `floor: { me { id } } (before)`,
        fmt(floorBefore.perSecond, 1),
        ms(floorBefore.latencyMs),
        fmt(floorBefore.failures),
        cpu(floorBeforeCpu),
      ],
      [
        `rush: holds/s (${result.holds} holds)`,
        fmt(result.holdsPerSecond, 1),
        ms(result.holdLatencyMs),
        fmt(unexpected),
        cpu(rushUsage),
      ],
      [
        `rush: all ${result.requests} answers/s`,
        fmt(result.answersPerSecond, 1),
        ms(result.latencyMs),
        '',
        '',
      ],
      [
        `floor: { me { id } } (after)`,
        fmt(floorAfter.perSecond, 1),
        ms(floorAfter.latencyMs),
        fmt(floorAfter.failures),
        cpu(floorAfterUsage),
      ],
    ];
    if (sqlLimit && sqlLimitWithoutHousekeeping)
      rows.push(
        [
          `SQL limit: pgbench, -c ${config.pgbenchClients}`,
          fmt(sqlLimit.perSecond, 1),
          ms(sqlLimit.latencyMs),
          fmt(sqlLimit.failures),
          '',
        ],
        [
          '  … without the UPDATE of lapsed holds',
          fmt(sqlLimitWithoutHousekeeping.perSecond, 1),
          ms(sqlLimitWithoutHousekeeping.latencyMs),
          fmt(sqlLimitWithoutHousekeeping.failures),
          '',
        ],
      );
    if (profile)
      rows.push([
        'orders directly (no gateway): holds/s',
        fmt(profile.direct.holdsPerSecond, 1),
        ms(profile.direct.holdLatencyMs),
        fmt(Object.values(profile.direct.errors).reduce((sum, n) => sum + n, 0)),
        cpu(profile.direct.cpu),
      ]);
    log('');
    log(
      formatTable(
        ['', 'per second', 'p50 / p95 / p99 ms', 'errors', 'CPU loop / node / postgres; machine %'],
        rows,
      ),
    );
    log('');
    log(
      `stock after the rush: capacity ${stock.capacity}, held ${stock.held}, sold ${stock.sold}; oversold ${oversold}; SOLD_OUT ${result.soldOut}; other errors ${unexpected}${unexpected ? ` ${JSON.stringify(result.errors)}` : ''}`,
    );
    // A request the gateway gave up on may still have committed its hold: it holds until it expires.
    if (stock.held !== result.holds)
      log(`holds stored but not answered as holds (the caller saw an error): ${stock.held - result.holds}`);
    if (profile) {
      log(
        `statements per hold (postgres.js): ${profile.statementsPerHold}; per SOLD_OUT: ${profile.statementsPerSoldOut}`,
      );
      for (const statement of profile.holdStatements) log(`  ${statement.slice(0, 160)}`);
    }
    log(
      `holds/s ÷ floor requests/s (${fmt(floorRate, 1)}/s): ${fmt(ratio, 3)} ${pass ? 'PASS' : 'MISS'} (target >= ${target.holdsToFloorRatio}, 0 oversold, 0 other errors)`,
    );

    const file = new URL('../results/onsale.json', import.meta.url);
    mkdirSync(new URL('.', file), { recursive: true });
    writeFileSync(
      file,
      `${JSON.stringify(
        {
          at: new Date().toISOString(),
          machine: { cores: os.cpus().length, cpu: os.cpus()[0]?.model, loadAverage: os.loadavg() },
          node: process.version,
          pgbench: pgbench ?? null,
          config,
          target,
          floorBefore: { ...floorBefore, cpu: floorBeforeCpu },
          rush: { ...result, cpu: rushUsage },
          floorAfter: { ...floorAfter, cpu: floorAfterUsage },
          stock,
          oversold,
          holdsStoredButAnsweredWithAnError: stock.held - result.holds,
          sqlLimit: sqlLimit ?? null,
          sqlLimitWithoutHousekeeping: sqlLimitWithoutHousekeeping ?? null,
          profile: profile ?? null,
          floorRate,
          ratio,
          pass,
        },
        null,
        2,
      )}\n`,
    );
    log('results written to bench/results/onsale.json');
  } finally {
    await stop();
  }
}

main().catch((err) => {
  process.stderr.write(`bench:onsale failed: ${(err as Error).stack ?? err}\n`);
  process.exitCode = 1;
});
