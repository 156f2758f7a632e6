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
import { literal, type Statement } from './plans.ts';

const execFileAsync = promisify(execFile);

export interface PgbenchMeasurement {
  requests: number;
  failures: number;
  firstError?: string;
  perSecond: number;
  latencyMs: LatencySummary;
  script: string;
}

/**
 * One request's statements as a pgbench script, parameters written as literals (PostgreSQL plans
 * them as it plans a prepared statement's custom plan).
 */
export function pgbenchScript(statements: Statement[]): string {
  const inline = (statement: Statement) =>
    statement.sql.replace(/\$(\d+)/g, (_, n: string) => literal(statement.params[Number(n) - 1]));
  const lines = statements.map((statement) => `${inline(statement).replace(/\s+/g, ' ')};`);
  return `${lines.join('\n')}\n`;
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
  script: string,
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
    };
  } catch (err) {
    return {
      requests: 0,
      failures: 1,
      firstError: (err as Error).message,
      perSecond: 0,
      latencyMs: summarize([]),
      script,
    };
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}
