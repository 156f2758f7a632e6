/**
 * The reservation's own SQL run by pgbench (PostgreSQL's C load generator): the server's limit
 * for one hold, without Node, drizzle, postgres.js, HTTP or the gateway. It runs on a scratch copy
 * of orders' inventory tables in a schema of its own, so it can never touch a real sale.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type postgres from 'postgres';
import { type LatencySummary, summarize } from '../stats.ts';

const execFileAsync = promisify(execFile);
export const BENCH_SCHEMA = 'bench_onsale';

/** `pgbench` on the PATH, or undefined (Debian: package postgresql-client). */
export async function pgbenchVersion(): Promise<string | undefined> {
  try {
    const { stdout } = await execFileAsync('pgbench', ['--version']);
    return stdout.trim();
  } catch {
    return undefined;
  }
}

const TABLES = ['offers', 'offer_ticket_types', 'reservations', 'reservation_items'] as const;

/**
 * Copies the rush's offer, its ticket types and its holds (500 live ones once the rush is over:
 * the most a hold ever counts in this benchmark) into `bench_onsale`, with orders' indexes,
 * checks and foreign keys, which every insert checks as the real one does.
 */
export async function copyInventory(sql: postgres.Sql, eventId: string): Promise<void> {
  await sql.unsafe(`drop schema if exists ${BENCH_SCHEMA} cascade; create schema ${BENCH_SCHEMA}`);
  for (const table of TABLES)
    await sql.unsafe(`create table ${BENCH_SCHEMA}.${table} (like orders.${table} including all)`);
  await sql.unsafe(`
    alter table ${BENCH_SCHEMA}.offer_ticket_types add foreign key (event_id) references ${BENCH_SCHEMA}.offers (event_id);
    alter table ${BENCH_SCHEMA}.reservations add foreign key (event_id) references ${BENCH_SCHEMA}.offers (event_id);
    alter table ${BENCH_SCHEMA}.reservation_items
      add foreign key (reservation_id) references ${BENCH_SCHEMA}.reservations (id) on delete cascade,
      add foreign key (ticket_type_id) references ${BENCH_SCHEMA}.offer_ticket_types (id)`);
  await sql.unsafe(
    `insert into ${BENCH_SCHEMA}.offers select * from orders.offers where event_id = $1;
     `.trim(),
    [eventId],
  );
  await sql.unsafe(
    `insert into ${BENCH_SCHEMA}.offer_ticket_types select * from orders.offer_ticket_types where event_id = $1`,
    [eventId],
  );
  await sql.unsafe(
    `insert into ${BENCH_SCHEMA}.reservations select * from orders.reservations where event_id = $1`,
    [eventId],
  );
  await sql.unsafe(
    `insert into ${BENCH_SCHEMA}.reservation_items select i.* from orders.reservation_items i
       join orders.reservations r on r.id = i.reservation_id where r.event_id = $1`,
    [eventId],
  );
  await sql.unsafe(`analyze ${BENCH_SCHEMA}.reservations; analyze ${BENCH_SCHEMA}.reservation_items`);
}

export async function dropInventoryCopy(sql: postgres.Sql): Promise<void> {
  await sql.unsafe(`drop schema if exists ${BENCH_SCHEMA} cascade`);
}

/**
 * One hold as reserveTickets runs it (src/domain/reservations.ts with db/offers.ts and
 * db/reservations.ts), statement for statement: lock the offer, mark lapsed holds EXPIRED, read
 * the ticket types, count the live holds (and the buyer's), insert the reservation and its item.
 * Two differences keep the copy a pure throughput measurement: the new reservation is inserted
 * RELEASED, so the count stays at the rush's 500 live holds however many transactions run (and
 * no capacity check is needed: nothing here can sell anything), and the buyer is a random one.
 * `housekeeping: false` leaves out the UPDATE of lapsed holds (the lever tried in bench/README.md).
 */
export function reservationScript(housekeeping: boolean): string {
  const s = BENCH_SCHEMA;
  return `\\set buyer random(1, 1000000000)
BEGIN;
select "event_id", "organization_id", "title", "status", "starts_at", "ends_at", "timezone", "currency", "capacity", "refund_policy", "updated_at" from ${s}.offers where "event_id" = :event for update;
${
  housekeeping
    ? `update ${s}.reservations set "status" = 'EXPIRED' where ("event_id" = :event and "status" = 'HELD' and "expires_at" <= statement_timestamp());\n`
    : ''
}select * from ${s}.offer_ticket_types where "event_id" = :event;
select i."ticket_type_id", sum(i."quantity")::int, coalesce(sum(i."quantity") filter (where r."buyer_id" = lpad(to_hex(:buyer::bigint), 32, '0')::uuid), 0)::int from ${s}.reservation_items i inner join ${s}.reservations r on r."id" = i."reservation_id" where (r."event_id" = :event and r."status" in ('HELD', 'CHECKED_OUT') and r."expires_at" > statement_timestamp()) group by i."ticket_type_id";
insert into ${s}.reservations ("id", "buyer_id", "event_id", "status", "currency", "expires_at") values (gen_random_uuid(), lpad(to_hex(:buyer::bigint), 32, '0')::uuid, :event, 'RELEASED', 'EUR', statement_timestamp() + make_interval(secs => 600)) returning "id" as reservation \\gset
insert into ${s}.reservation_items ("reservation_id", "ticket_type_id", "quantity", "unit_price_amount") values (:reservation, :ticket_type, 1, 2500);
COMMIT;
`;
}

export interface PgbenchMeasurement {
  transactions: number;
  failures: number;
  perSecond: number;
  latencyMs: LatencySummary;
  firstError?: string;
}

/** Runs `script` (`-c clients -j threads -T seconds -n`, prepared statements like postgres.js), logging each transaction. */
export async function runPgbench(
  url: string,
  script: string,
  variables: Record<string, string>,
  { clients, threads, seconds }: { clients: number; threads: number; seconds: number },
): Promise<PgbenchMeasurement> {
  const folder = mkdtempSync(path.join(os.tmpdir(), 'bench-onsale-pgbench-'));
  try {
    const file = path.join(folder, 'reserve.sql');
    writeFileSync(file, script);
    const { stdout } = await execFileAsync(
      'pgbench',
      [
        '-n',
        '--protocol=prepared',
        ...Object.entries(variables).map(([name, value]) => `--define=${name}=${value}`),
        `--file=${file}`,
        `-c${clients}`,
        `-j${threads}`,
        `-T${seconds}`,
        '--log',
        `--log-prefix=${path.join(folder, 'log')}`,
        url,
      ],
      { maxBuffer: 16 * 1024 * 1024 },
    );
    // Each log line: client, transaction number, latency in µs, script, epoch s, µs.
    const samples = readdirSync(folder)
      .filter((name) => name.startsWith('log'))
      .flatMap((name) => readFileSync(path.join(folder, name), 'utf8').trim().split('\n'))
      .filter(Boolean)
      .map((line) => Number(line.split(' ')[2]) / 1_000);
    return {
      transactions: samples.length,
      failures: Number(/number of failed transactions: (\d+)/.exec(stdout)?.[1] ?? 0),
      perSecond: Math.round((samples.length / seconds) * 10) / 10,
      latencyMs: summarize(samples),
    };
  } catch (err) {
    return {
      transactions: 0,
      failures: 1,
      perSecond: 0,
      latencyMs: summarize([]),
      firstError: (err as Error).message.slice(0, 2_000),
    };
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}
