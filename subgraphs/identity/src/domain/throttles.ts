import { type Database, DomainError, type Transaction } from '@bilten/platform';
import { and, gt, inArray, sql } from 'drizzle-orm';
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

/** Sign-in failures per address (known or not, so a lock tells nothing about accounts). */
export const LOGIN_PER_EMAIL: ThrottleRule = {
  limit: 5,
  windowMs: 15 * 60_000,
  lockMs: 15 * 60_000,
  maxLockMs: 24 * 60 * 60_000,
};
/** Sign-in failures per client address: many accounts tried from one place. */
export const LOGIN_PER_IP: ThrottleRule = {
  limit: 50,
  windowMs: 15 * 60_000,
  lockMs: 15 * 60_000,
  maxLockMs: 24 * 60 * 60_000,
};

export const loginEmailKey = (email: string) => `login:email:${tokenHash(email)}`;
export const loginIpKey = (ip: string) => `login:ip:${ip}`;

/** The latest lock among `keys` still in force, if any. */
export async function lockedUntil(db: Db, keys: string[]): Promise<Date | undefined> {
  const rows = await db
    .select({ lockedUntil: throttles.lockedUntil })
    .from(throttles)
    .where(and(inArray(throttles.key, keys), gt(throttles.lockedUntil, sql`now()`)));
  return rows.map((row) => row.lockedUntil!).sort((a, b) => b.getTime() - a.getTime())[0];
}

export function rateLimited(until: Date): DomainError {
  const seconds = Math.max(1, Math.ceil((until.getTime() - Date.now()) / 1000));
  return new DomainError('RATE_LIMITED', `too many attempts; try again in ${Math.ceil(seconds / 60)} min`, {
    retryAfterSeconds: seconds,
  });
}

/**
 * Counts one hit on `key` in one statement (so replicas agree); with a lock rule, the hit that
 * reaches the limit locks the key and is reported as `locked`, for the caller to announce.
 */
export async function hit(
  db: Db,
  key: string,
  rule: ThrottleRule,
): Promise<{ hits: number; locked?: { until: Date; lockouts: number } }> {
  const window = `${rule.windowMs} milliseconds`;
  const [row] = (await db.execute(sql`
    insert into ${throttles} as t (key, hits, window_started_at)
    values (${key}, 1, now())
    on conflict (key) do update set
      hits = case when t.window_started_at < now() - ${window}::interval then 1 else t.hits + 1 end,
      window_started_at = case when t.window_started_at < now() - ${window}::interval
        then now() else t.window_started_at end
    returning hits, lockouts`)) as unknown as Array<{ hits: number; lockouts: number }>;
  const { hits, lockouts } = row!;
  if (!rule.lockMs || hits < rule.limit) return { hits };
  const lockMs = Math.min(rule.lockMs * 2 ** lockouts, rule.maxLockMs ?? rule.lockMs);
  const until = new Date(Date.now() + lockMs);
  await db.execute(sql`
    update ${throttles} set locked_until = ${until.toISOString()}::timestamptz, lockouts = lockouts + 1, hits = 0, window_started_at = now()
    where key = ${key}`);
  return { hits, locked: { until, lockouts: lockouts + 1 } };
}

/** After a successful sign-in: the address starts afresh (its lockout history too). */
export async function forget(db: Db, key: string) {
  await db.execute(sql`delete from ${throttles} where key = ${key}`);
}

/** A plain rate limit: `false` once `rule.limit` hits are used up in the current window. */
export async function allow(db: Db, key: string, rule: ThrottleRule): Promise<boolean> {
  return (await hit(db, key, rule)).hits <= rule.limit;
}
