import type { Database, Sql } from './db.ts';
import type { Logger } from './logger.ts';

export interface QueueWorkerOptions {
  /** For log lines: `delivery worker`, `webhook worker`. */
  name: string;
  db: Database;
  /** The client to LISTEN on; by default the one under `db`. */
  sql?: Sql;
  /** The channel enqueuers NOTIFY when a row commits. */
  channel: string;
  log: Logger;
  pollMs: number;
  batchSize: number;
  /** Claims and handles one batch of due rows (SKIP LOCKED); answers how many it claimed. */
  processDue: () => Promise<number>;
}

/**
 * Drains a table queue until stopped: at once when an enqueue commits (LISTEN), otherwise every
 * `pollMs` (retries, a missed notification), at once again while batches come back full, and
 * backing off (up to 10 s) while rounds fail. Several workers (replicas) share the queue through
 * the SKIP LOCKED claims of `processDue`.
 */
export function startQueueWorker(options: QueueWorkerOptions): { stop(): Promise<void> } {
  const { log, name } = options;
  let stopped = false;
  let notified = false;
  let wake: (() => void) | undefined;
  const client = options.sql ?? (options.db as Database & { $client: Sql }).$client;
  const listening = client
    .listen(options.channel, () => {
      notified = true;
      wake?.();
    })
    .catch((err: unknown) => {
      log.warn({ err }, `${name} cannot LISTEN: it polls only`);
      return undefined;
    });
  const loop = (async () => {
    let failures = 0;
    while (!stopped) {
      notified = false;
      let claimed = 0;
      try {
        claimed = await options.processDue();
        failures = 0;
      } catch (err) {
        failures++;
        log.warn({ err, failures }, `${name} round failed`);
      }
      if (stopped) break;
      if (!failures && (claimed >= options.batchSize || notified)) continue;
      const pause = failures ? Math.min(10_000, 250 * 2 ** failures) : options.pollMs;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, pause);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      wake = undefined;
    }
  })();
  return {
    async stop() {
      stopped = true;
      wake?.();
      await loop;
      await (await listening)?.unlisten();
    },
  };
}
