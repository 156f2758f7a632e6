import type { Database, Transaction } from '@bilten/platform';
import { sql } from 'drizzle-orm';
import { throttles } from './schema.ts';

type Db = Database | Transaction;

/**
 * Counts one hit on each of `keys` in their current window (the same for all), in one statement
 * (so replicas agree), and tells whether each is locked: checking the lock in the same statement
 * leaves no gap for a burst of requests to slip through between a check and the count.
 */
export async function hitThrottles(
  db: Db,
  keys: string[],
  windowMs: number,
): Promise<Array<{ hits: number; lockedUntil: Date | null }>> {
  const window = `${windowMs} milliseconds`;
  const rows = (await db.execute(sql`
    insert into ${throttles} as t (key, hits, window_started_at)
    select key, 1, now() from (values ${sql.join(
      keys.map((key) => sql`(${key})`),
      sql`, `,
    )}) as given (key)
    on conflict (key) do update set
      hits = case when t.window_started_at < now() - ${window}::interval then 1 else t.hits + 1 end,
      window_started_at = case when t.window_started_at < now() - ${window}::interval
        then now() else t.window_started_at end
    returning key, hits, case when locked_until > now() then locked_until end as locked_until`)) as unknown as Array<{
    key: string;
    hits: number;
    locked_until: string | Date | null;
  }>;
  return keys.map((key) => {
    const row = rows.find((candidate) => candidate.key === key)!;
    return { hits: row.hits, lockedUntil: row.locked_until ? new Date(row.locked_until) : null };
  });
}

/** Locks `key` for `lockMs`, doubled for each earlier lockout up to `maxLockMs`, and starts its count afresh. */
export async function lockThrottle(
  db: Db,
  key: string,
  duration: { lockMs: number; maxLockMs: number },
): Promise<{ until: Date; lockouts: number }> {
  const [row] = (await db.execute(sql`
    update ${throttles} set
      locked_until = now() + least(${duration.lockMs}::float8 * 2 ^ lockouts, ${duration.maxLockMs}::float8)
        * interval '1 millisecond',
      lockouts = lockouts + 1, hits = 0, window_started_at = now()
    where key = ${key}
    returning locked_until, lockouts`)) as unknown as Array<{ locked_until: string; lockouts: number }>;
  return { until: new Date(row!.locked_until), lockouts: row!.lockouts };
}

/**
 * Counts one hit on `key` only when it may: in a new window, under `limit`, when `proven`, or when
 * `expected` is exactly the count now (a challenge issued for that count serves one attempt, and
 * of parallel ones only the first). Answers whether it counted and the count it saw, in one
 * statement, so no burst slips in between a check and the count.
 */
export async function claimThrottle(
  db: Db,
  key: string,
  rule: { limit: number; windowMs: number },
  proof: { proven: boolean; expected: number | null },
): Promise<{ claimed: boolean; hits: number }> {
  const expired = sql`t.window_started_at < now() - ${`${rule.windowMs} milliseconds`}::interval`;
  const [row] = (await db.execute(sql`
    with claimed as (
      insert into ${throttles} as t (key, hits, window_started_at) values (${key}, 1, now())
      on conflict (key) do update set
        hits = case when ${expired} then 1 else t.hits + 1 end,
        window_started_at = case when ${expired} then now() else t.window_started_at end
      where ${expired} or t.hits < ${rule.limit} or ${proof.proven}::boolean or t.hits = ${proof.expected}::int
      returning hits
    )
    select (select hits from claimed) as claimed,
      (select hits from ${throttles} where key = ${key}) as seen`)) as unknown as Array<{
    claimed: number | null;
    seen: number | null;
  }>;
  return row!.claimed === null
    ? { claimed: false, hits: row!.seen ?? 0 }
    : { claimed: true, hits: row!.claimed };
}

/** In one statement: `forget` starts afresh (its lockout history too), each of `release` gets one hit back. */
export async function settleThrottles(db: Db, keys: { forget: string; release: string[] }) {
  await db.execute(sql`
    with forgotten as (delete from ${throttles} where key = ${keys.forget})
    update ${throttles} set hits = greatest(hits - 1, 0)
    where key in (${sql.join(
      keys.release.map((key) => sql`${key}`),
      sql`, `,
    )})`);
}

/** The keys start afresh, their lockout history too: `key` and every key starting with `prefix`. */
export async function deleteThrottles(db: Db, keys: { key: string; prefix: string }) {
  await db.execute(sql`delete from ${throttles} where key = ${keys.key} or starts_with(key, ${keys.prefix})`);
}
