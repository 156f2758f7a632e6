import { isIP } from 'node:net';
import { checkServerIdentity, type PeerCertificate } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { sql as statement } from 'drizzle-orm';
import { drizzle, type PostgresJsDatabase } from 'drizzle-orm/postgres-js';
import { migrate } from 'drizzle-orm/postgres-js/migrator';
import postgres from 'postgres';
import { DomainError } from './errors.ts';
import type { Logger } from './logger.ts';
import { endWhenSettled, startStatementSpan } from './tracing.ts';

export type Sql = postgres.Sql;
export type Database = PostgresJsDatabase<Record<string, never>>;
export type Transaction = Parameters<Parameters<Database['transaction']>[0]>[0];

export interface DatabaseHandle {
  sql: Sql;
  db: Database;
  /** Cheap liveness probe used by /readyz; never hangs longer than `timeoutMs`. */
  ping(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  url: string;
  poolSize?: number;
  applicationName: string;
  log?: Logger;
  /** Called for every statement sent; feeds the `db_queries_total` metric. */
  onQuery?: () => void;
  /** Called with the text and parameters of every statement sent (benchmarks record what a request runs). */
  onStatement?: (query: string, parameters: unknown[]) => void;
  /** The CA (PEM) that signs the server's certificate under `sslmode=verify-ca|verify-full` (DATABASE_SSL_ROOT_CERT_FILE). */
  sslRootCert?: string;
}

/**
 * postgres.js's `ssl` option for DATABASE_URL's `sslmode`, as libpq reads it: `verify-full`
 * checks the chain against `rootCert` (the system CAs without one) and that the certificate names
 * the URL's host; `verify-ca` checks the chain only; `require` encrypts without checking, unless a
 * root certificate is given (then it is `verify-ca`, as in libpq). Other modes are postgres.js's.
 */
export function databaseSsl(url: string, rootCert?: string): postgres.Options<Record<string, never>>['ssl'] {
  const parsed = new URL(url);
  const mode = parsed.searchParams.get('sslmode');
  if (mode !== 'require' && mode !== 'verify-ca' && mode !== 'verify-full') return undefined;
  if (mode === 'require' && !rootCert) return 'require';
  const host = parsed.hostname.replace(/^\[|\]$/g, '');
  return {
    ca: rootCert,
    rejectUnauthorized: true,
    // SNI takes names only; the identity check below covers addresses too.
    servername: isIP(host) ? undefined : host,
    checkServerIdentity:
      mode === 'verify-full'
        ? (_name: string, cert: PeerCertificate) => checkServerIdentity(host, cert)
        : () => undefined,
  };
}

export function connectDatabase({
  url,
  poolSize = 10,
  applicationName,
  log,
  onQuery,
  onStatement,
  sslRootCert,
}: DatabaseOptions): DatabaseHandle {
  const ssl = databaseSsl(url, sslRootCert);
  const sql = postgres(url, {
    ...(ssl && { ssl }),
    max: poolSize,
    idle_timeout: 30,
    // While the server is down or failing over, a request fails fast with UNAVAILABLE instead of
    // waiting 30 s: a connection not ready in 2 s would not be in time for its request anyway.
    connect_timeout: 2,
    // postgres.js waits up to 20 s (growing with each failed attempt) before opening a connection
    // again, and queries wait all of it: a failed attempt fails only the one query it was for, the
    // rest (requests and background pollers) wait for the next. Attempts are made only for waiting
    // queries, so a short, capped delay does not spin, and the services are back with the server.
    backoff: (retries) => Math.min(0.05 * retries, 0.25),
    // The array-type lookup postgres.js runs on connect rejects unhandled when that connection
    // drops mid-query (it would crash the process); drizzle parses and serializes arrays itself.
    fetch_types: false,
    connection: { application_name: applicationName },
    onnotice: (notice) => log?.debug({ notice: notice.message }, 'postgres notice'),
    debug:
      onQuery || onStatement
        ? (_connection, query, parameters) => {
            onQuery?.();
            onStatement?.(query, parameters);
          }
        : undefined,
  });
  return {
    sql,
    db: drizzle(preparingStatements(sql)),
    async ping(timeoutMs = 1_000) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`database did not answer within ${timeoutMs} ms`)),
          timeoutMs,
        );
      });
      const query = sql`select 1`;
      try {
        await Promise.race([query, timeout]);
      } finally {
        clearTimeout(timer);
        query.cancel();
      }
    },
    close: () => sql.end({ timeout: 5 }),
  };
}

type Unsafe = (query: string, parameters?: unknown[], options?: { prepare?: boolean }) => unknown;
type WithClient = (...args: unknown[]) => unknown;

/**
 * drizzle runs every query it did not name with `prepare: false`, so postgres.js sends Parse and
 * Describe, waits for the parameter types, then Bind and Execute: two round trips per statement.
 * Prepared (and cached per connection) they take one; the event benchmark measured 30% more
 * throughput and 45% less PostgreSQL CPU per event. Not for PgBouncer in transaction mode.
 */
function preparingStatements(sql: Sql): Sql {
  return new Proxy(sql, {
    get(target, property) {
      if (property === 'unsafe') {
        const unsafe = target.unsafe as unknown as Unsafe;
        return (query: string, parameters?: unknown[], options?: { prepare?: boolean }) => {
          const pending = unsafe.call(
            target,
            query,
            parameters,
            parameters?.length ? { ...options, prepare: true } : options,
          ) as PromiseLike<unknown>;
          // Every drizzle statement passes here: its span (tracing on) ends when it settles.
          // postgres.js sends a query a tick after it is awaited, so drizzle's `.values()` still applies.
          const span = startStatementSpan(query);
          if (span) endWhenSettled(span, pending);
          return pending;
        };
      }
      if (property === 'begin' || property === 'savepoint') {
        // A transaction runs its queries on its own client, which must prepare too.
        const withClient = Reflect.get(target, property) as WithClient;
        return (...args: unknown[]) => {
          const work = args.pop() as (client: Sql) => unknown;
          return withClient.call(target, ...args, (client: Sql) => work(preparingStatements(client)));
        };
      }
      const value = Reflect.get(target, property);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/** How many milliseconds the caller (the gateway) waits for the answer to this request. */
export const REQUEST_TIMEOUT_HEADER = 'x-request-timeout-ms';

/** When the caller stops waiting, on the `performance.now()` clock; undefined when it did not say. */
export function deadlineFrom(header: unknown, now = performance.now()): number | undefined {
  return typeof header === 'string' && /^\d{1,9}$/.test(header) ? now + Number(header) : undefined;
}

const outOfTime = () =>
  new DomainError('INTERNAL', 'the request ran out of time and nothing was saved; it is safe to retry');

// 57014 query_canceled: what statement_timeout raises (drizzle wraps it, keeping it as the cause).
const cancelled = (err: unknown) =>
  [err, (err as { cause?: unknown })?.cause].some((e) => (e as { code?: unknown })?.code === '57014');

/**
 * `db` whose transactions commit only before `deadline` (see `deadlineFrom`): each statement in
 * them is cancelled when the time is up (`SET LOCAL statement_timeout`) and a transaction that
 * ends later rolls back, so a request its caller gave up on leaves nothing behind and may be
 * retried without doing twice what it did.
 */
export function withDeadline(db: Database, deadline: number | undefined): Database {
  if (deadline === undefined) return db;
  const transaction: Database['transaction'] = (work, config) =>
    db.transaction(async (tx) => {
      const remaining = Math.floor(deadline - performance.now());
      if (remaining < 1) throw outOfTime();
      await tx.execute(statement`select set_config('statement_timeout', ${String(remaining)}, true)`);
      const result = await work(tx).catch((err: unknown) => {
        throw cancelled(err) ? outOfTime() : err;
      });
      if (performance.now() >= deadline) throw outOfTime();
      return result;
    }, config);
  return new Proxy(db, {
    get: (target, property, receiver) =>
      property === 'transaction' ? transaction : Reflect.get(target, property, receiver),
  });
}

/**
 * Applies a subgraph's committed drizzle migrations. A session advisory lock on a dedicated
 * connection makes concurrent starts (replicas, one process per service) wait instead of racing.
 */
export async function applyMigrations(
  url: string,
  subgraph: string,
  folder: URL,
  sslRootCert?: string,
): Promise<void> {
  const ssl = databaseSsl(url, sslRootCert);
  const sql = postgres(url, { max: 1, onnotice: () => {}, ...(ssl && { ssl }) });
  try {
    await sql`select pg_advisory_lock(hashtext(${`bilten:migrations:${subgraph}`}))`;
    await migrate(drizzle(sql), {
      migrationsFolder: fileURLToPath(folder),
      migrationsSchema: 'drizzle',
      migrationsTable: `${subgraph}_migrations`,
    });
  } finally {
    await sql.end({ timeout: 5 });
  }
}
