import type { Database, DatabaseHandle, Sql } from '@bilten/platform';
import { drizzle } from 'drizzle-orm/postgres-js';

/**
 * EXPERIMENT, off by default (BENCH_EXPERIMENT_PREPARED=1): what a platform change to prepared
 * statements would buy, measured without changing the platform.
 *
 * drizzle's postgres-js driver sends every query without `.prepare(name)` with
 * `{ prepare: false }`; postgres.js then sends Parse/Describe and waits for the parameter
 * types before Bind/Execute, i.e. two round trips per statement with parameters. This hands the
 * platform (outbox, relay, consumer) a drizzle instance over the same pool whose parameterized
 * queries are prepared (cached per connection): one round trip each.
 */
export function preparedStatementsDatabase(handle: DatabaseHandle): Database {
  return drizzle(preparing(handle.sql)) as unknown as Database;
}

type Unsafe = (query: string, parameters?: unknown[], options?: Record<string, unknown>) => unknown;
type Begin = (...args: unknown[]) => unknown;

function preparing(sql: Sql): Sql {
  return new Proxy(sql, {
    get(target, property) {
      if (property === 'unsafe') {
        const unsafe = target.unsafe as unknown as Unsafe;
        return (query: string, parameters?: unknown[], options?: Record<string, unknown>) =>
          unsafe.call(
            target,
            query,
            parameters,
            parameters?.length ? { ...options, prepare: true } : options,
          );
      }
      if (property === 'begin') {
        const begin = target.begin as unknown as Begin;
        // The transaction's own client must prepare too: drizzle runs the transaction's queries on it.
        return (...args: unknown[]) => {
          const work = args.pop() as (tx: Sql) => unknown;
          return begin.call(target, ...args, (tx: Sql) => work(preparing(tx)));
        };
      }
      const value = Reflect.get(target, property);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
