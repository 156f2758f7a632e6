/**
 * The SQL of a search run by pgbench, PostgreSQL's own load generator (a C client with a thread
 * per core): the server's limit for those statements, without Node, drizzle or postgres.js.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { type LatencySummary, summarize } from '../stats.ts';
import { literal, parameterText, type Statement } from './plans.ts';

const execFileAsync = promisify(execFile);

export interface PgbenchMeasurement {
  requests: number;
  failures: number;
  firstError?: string;
  perSecond: number;
  latencyMs: LatencySummary;
  script: string;
  variables: Record<string, string>;
}

/** One request for pgbench: its statements as a script, and the values of their parameters. */
export interface PgbenchRequest {
  script: string;
  /** `-D name=value`: pgbench binds each `:name` as a parameter of the prepared statement. */
  variables: Record<string, string>;
}

/**
 * One request's statements as a pgbench script run with `--protocol=prepared`, as catalog runs
 * them (postgres.js prepares every statement): each `$n` becomes a pgbench variable bound as a
 * parameter, so PostgreSQL parses once per connection and chooses custom or generic plans as it
 * does for catalog. A null, which `-D` cannot carry, is written as a literal.
 */
export function pgbenchRequest(statements: Statement[]): PgbenchRequest {
  const variables: Record<string, string> = {};
  const lines = statements.map((statement, i) => {
    const text = statement.sql.replace(/\$(\d+)/g, (_, n: string) => {
      const value = statement.params[Number(n) - 1];
      if (value === null || value === undefined) return literal(value);
      const name = `s${i + 1}p${n}`;
      variables[name] = parameterText(value);
      return `:${name}`;
    });
    return `${text.replace(/\s+/g, ' ')};`;
  });
  return { script: `${lines.join('\n')}\n`, variables };
}

/** `pgbench` on the PATH, or undefined (Debian: package postgresql-client). */
export async function pgbenchVersion(): Promise<string | undefined> {
  try {
    const { stdout } = await execFileAsync('pgbench', ['--version']);
    return stdout.trim();
  } catch {
    return undefined;
  }
}

/**
 * Runs `script` with `clients` connections on `threads` threads for `seconds` (after a warm-up of
 * `warmupSeconds`), logging every transaction's latency, and summarizes the log.
 */
export async function runPgbench(
  url: string,
  { script, variables }: PgbenchRequest,
  {
    clients,
    threads,
    seconds,
    warmupSeconds,
  }: { clients: number; threads: number; seconds: number; warmupSeconds: number },
): Promise<PgbenchMeasurement> {
  const folder = mkdtempSync(path.join(os.tmpdir(), 'bench-search-pgbench-'));
  try {
    const file = path.join(folder, 'search.sql');
    writeFileSync(file, script);
    const run = (secondsToRun: number, logPrefix?: string) =>
      execFileAsync(
        'pgbench',
        [
          '--no-vacuum',
          '--protocol=prepared',
          ...Object.entries(variables).map(([name, value]) => `--define=${name}=${value}`),
          `--file=${file}`,
          `--client=${clients}`,
          `--jobs=${threads}`,
          `--time=${secondsToRun}`,
          ...(logPrefix ? ['--log', `--log-prefix=${logPrefix}`] : []),
          url,
        ],
        { maxBuffer: 16 * 1024 * 1024 },
      );
    await run(warmupSeconds);
    const { stdout } = await run(seconds, path.join(folder, 'log'));
    // Each log line: client, transaction number, latency in µs, script, epoch s, µs.
    const samples = readdirSync(folder)
      .filter((name) => name.startsWith('log'))
      .flatMap((name) => readFileSync(path.join(folder, name), 'utf8').trim().split('\n'))
      .map((line) => Number(line.split(' ')[2]) / 1_000);
    const failed = Number(/number of failed transactions: (\d+)/.exec(stdout)?.[1] ?? 0);
    return {
      requests: samples.length,
      failures: failed,
      perSecond: Math.round((samples.length / seconds) * 10) / 10,
      latencyMs: summarize(samples),
      script,
      variables,
    };
  } catch (err) {
    return {
      requests: 0,
      failures: 1,
      firstError: (err as Error).message,
      perSecond: 0,
      latencyMs: summarize([]),
      script,
      variables,
    };
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}
