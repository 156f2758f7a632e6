import { type Database, DomainError, type Transaction } from '@bilten/platform';
import { sql } from 'drizzle-orm';
import { throttles } from '../db/schema.ts';
import { tokenHash } from './secrets.ts';

type Db = Database | Transaction;

export interface ThrottleRule {
  /** Hits allowed per window… */
  limit: number;
  windowMs: number;
  /** …after which the key is locked this long, doubling with each lockout (sign-in only). */
  lockMs?: number;
  maxLockMs?: number;
}

type LockingRule = ThrottleRule & { lockMs: number };

/** The window both sign-in rules count in, so one statement can count both. */
export const LOGIN_WINDOW_MS = 15 * 60_000;

/** Sign-in failures per address (known or not, so a lock tells nothing about accounts). */
export const LOGIN_PER_EMAIL: LockingRule = {
  limit: 5,
  windowMs: LOGIN_WINDOW_MS,
  lockMs: 15 * 60_000,
  maxLockMs: 24 * 60 * 60_000,
};
/** Sign-in failures per client address: many accounts tried from one place. */
export const LOGIN_PER_IP: LockingRule = {
  limit: 50,
  windowMs: LOGIN_WINDOW_MS,
  lockMs: 15 * 60_000,
  maxLockMs: 24 * 60 * 60_000,
};

export const loginEmailKey = (email: string) => `login:email:${tokenHash(email)}`;
export const loginIpKey = (ip: string) => `login:ip:${ip}`;

export function rateLimited(until: Date): DomainError {
  const seconds = Math.max(1, Math.ceil((until.getTime() - Date.now()) / 1000));
  return new DomainError('RATE_LIMITED', `too many attempts; try again in ${Math.ceil(seconds / 60)} min`, {
    retryAfterSeconds: seconds,
  });
}

type Attempt = { hits: number; lockedUntil: Date | null };

/**
 * Counts one hit on each of `keys` in their current window (the same for all), in one statement
 * (so replicas agree), and tells whether each is locked: checking the lock in the same statement
 * leaves no gap for a burst of requests to slip through between a check and the count.
 */
export async function hitAll(db: Db, keys: string[], windowMs: number): Promise<Attempt[]> {
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

/** Counts one hit on `key`: `hitAll` for one key. */
export async function hit(db: Db, key: string, rule: ThrottleRule): Promise<Attempt> {
  return (await hitAll(db, [key], rule.windowMs))[0]!;
}

/** Locks `key` for the rule's lock time, doubled for each earlier lockout, and starts its count afresh. */
export async function lock(
  db: Db,
  key: string,
  rule: LockingRule,
): Promise<{ until: Date; lockouts: number }> {
  const [row] = (await db.execute(sql`
    update ${throttles} set
      locked_until = now() + least(${rule.lockMs}::float8 * 2 ^ lockouts, ${rule.maxLockMs ?? rule.lockMs}::float8)
        * interval '1 millisecond',
      lockouts = lockouts + 1, hits = 0, window_started_at = now()
    where key = ${key}
    returning locked_until, lockouts`)) as unknown as Array<{ locked_until: string; lockouts: number }>;
  return { until: new Date(row!.locked_until), lockouts: row!.lockouts };
}

/**
 * After a right password, in one statement: the address starts afresh (its lockout history
 * too), and the client gets back the attempt it was charged up front.
 */
export async function settle(db: Db, keys: { forget: string; release: string }) {
  await db.execute(sql`
    with forgotten as (delete from ${throttles} where key = ${keys.forget})
    update ${throttles} set hits = greatest(hits - 1, 0) where key = ${keys.release}`);
}

/** After a successful sign-in: the address starts afresh (its lockout history too). */
export async function forget(db: Db, key: string) {
  await db.execute(sql`delete from ${throttles} where key = ${key}`);
}

/** A plain rate limit: `false` once `rule.limit` hits are used up in the current window. */
export async function allow(db: Db, key: string, rule: ThrottleRule): Promise<boolean> {
  return (await hit(db, key, rule)).hits <= rule.limit;
}
