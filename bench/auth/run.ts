/**
 * Login benchmark: logins per second and latency through the gateway at a fixed concurrency,
 * beside the raw argon2id hash rate with identity's own parameters in the same run (the limit).
 * `npm run bench:auth`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { createPasswordHasher } from '@bilten/identity';
import { graphql, type SignedInUser } from '@bilten/testkit';
import { startTestStack, type TestStack } from '../../stack/test/support.ts';
import { type CpuUsage, cpuMeter, fmt, formatTable, type LatencySummary, now, summarize } from '../stats.ts';

const int = (name: string, fallback: number) => {
  const value = process.env[name];
  return value === undefined || value === '' ? fallback : Number.parseInt(value, 10);
};
const config = {
  concurrency: int('BENCH_CONCURRENCY', 8),
  seconds: int('BENCH_SECONDS', 15),
  users: int('BENCH_USERS', 32),
};
const target = { ratioToRawHashRate: 0.7 };
const log = (line: string) => process.stdout.write(`${line}\n`);

const LOGIN = `mutation Login($input: LoginInput!) {
  login(input: $input) { accessToken refreshToken expiresIn errors { code message } }
}`;
interface LoginResult {
  login: { accessToken: string | null; errors: Array<{ code: string; message: string }> };
}

interface Run {
  operations: number;
  failures: number;
  perSecond: number;
  latencyMs: LatencySummary;
  cpu: CpuUsage;
}

/** `work` in `concurrency` loops for `seconds`: operations per second and their latency. */
async function closedLoop(work: (i: number) => Promise<boolean>): Promise<Run> {
  const samples: number[] = [];
  let failures = 0;
  let next = 0;
  const cpu = cpuMeter();
  const start = now();
  const end = start + config.seconds * 1_000;
  await Promise.all(
    Array.from({ length: config.concurrency }, async () => {
      while (now() < end) {
        const began = now();
        const ok = await work(next++).catch(() => false);
        samples.push(now() - began);
        if (!ok) failures++;
      }
    }),
  );
  const elapsed = now() - start;
  return {
    operations: samples.length,
    failures,
    perSecond: Math.round((samples.length / elapsed) * 1_000 * 10) / 10,
    latencyMs: summarize(samples),
    cpu: cpu(),
  };
}

async function main() {
  log(`bench:auth on ${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'unknown cpu'})`);
  log(
    `load average before the run: ${os
      .loadavg()
      .map((value) => value.toFixed(2))
      .join(', ')}`,
  );
  log(`concurrency ${config.concurrency}, ${config.seconds} s per measurement, ${config.users} accounts`);
  const hasher = await createPasswordHasher();
  const password = 'correct horse battery staple';

  let stack: TestStack | undefined;
  const stop = async () => {
    await stack?.dispose();
    stack = undefined;
  };
  process.once('SIGINT', () => void stop().finally(() => process.exit(130)));
  try {
    stack = await startTestStack('jetstream');
    const gateway = stack.url;
    log(`seeding ${config.users} verified accounts through the gateway`);
    const users: SignedInUser[] = [];
    for (let i = 0; i < config.users; i++) users.push(await stack.signUp());
    const login = async (i: number) => {
      const user = users[i % users.length]!;
      const { body } = await graphql<LoginResult, { input: unknown }>(gateway, LOGIN, {
        input: { email: user.email, password: user.password },
      });
      return Boolean(body.data?.login.accessToken);
    };
    for (let i = 0; i < 2 * config.concurrency; i++) await login(i); // warm-up: JIT, pools, JWKS

    // The limit is measured before and after the logins; its mean smooths the machine's noise.
    log('limit: raw argon2id hash rate, identity parameters');
    const rawBefore = await closedLoop(async () => Boolean(await hasher.hash(password)));
    log(`  ${fmt(rawBefore.perSecond, 1)} hashes/s`);
    log('logins through the gateway');
    const logins = await closedLoop(login);
    log(`  ${fmt(logins.perSecond, 1)} logins/s, p99 ${fmt(logins.latencyMs.p99, 1)} ms`);
    log('limit again');
    const rawAfter = await closedLoop(async () => Boolean(await hasher.hash(password)));
    log(`  ${fmt(rawAfter.perSecond, 1)} hashes/s`);

    const rawRate = (rawBefore.perSecond + rawAfter.perSecond) / 2;
    const ratio = Math.round((logins.perSecond / rawRate) * 1_000) / 1_000;
    const pass = ratio >= target.ratioToRawHashRate && logins.failures === 0;
    const ms = (summary: LatencySummary) =>
      `${fmt(summary.p50, 1)} / ${fmt(summary.p95, 1)} / ${fmt(summary.p99, 1)}`;
    const cpu = (usage: CpuUsage) =>
      `${fmt(usage.nodePercentOfOneCore)} / ${fmt(usage.postgresPercentOfOneCore)}; ${fmt(usage.machinePercent)}`;
    log('');
    log(
      formatTable(
        ['', 'per second', 'p50 / p95 / p99 ms', 'failures', 'CPU node / postgres; machine %'],
        [
          [
            'raw argon2id hash (before)',
            fmt(rawBefore.perSecond, 1),
            ms(rawBefore.latencyMs),
            '0',
            cpu(rawBefore.cpu),
          ],
          [
            `login through the gateway, concurrency ${config.concurrency}`,
            fmt(logins.perSecond, 1),
            ms(logins.latencyMs),
            fmt(logins.failures),
            cpu(logins.cpu),
          ],
          [
            'raw argon2id hash (after)',
            fmt(rawAfter.perSecond, 1),
            ms(rawAfter.latencyMs),
            '0',
            cpu(rawAfter.cpu),
          ],
        ],
      ),
    );
    log('');
    log(
      `logins ÷ raw hash rate (${fmt(rawRate, 1)}/s): ${fmt(ratio, 3)} ${pass ? 'PASS' : 'FAIL'} (target >= ${target.ratioToRawHashRate}, no failures)`,
    );

    const file = new URL('../results/auth.json', import.meta.url);
    mkdirSync(new URL('.', file), { recursive: true });
    writeFileSync(
      file,
      `${JSON.stringify(
        {
          at: new Date().toISOString(),
          machine: { cores: os.cpus().length, cpu: os.cpus()[0]?.model, loadAverage: os.loadavg() },
          node: process.version,
          config,
          target,
          rawHashBefore: rawBefore,
          logins,
          rawHashAfter: rawAfter,
          rawHashRate: rawRate,
          ratio,
          pass,
        },
        null,
        2,
      )}\n`,
    );
    log(`results written to bench/results/auth.json`);
  } finally {
    await stop();
  }
}

main().catch((err) => {
  process.stderr.write(`bench:auth failed: ${(err as Error).stack ?? err}\n`);
  process.exitCode = 1;
});
