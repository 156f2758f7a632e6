import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInProcessBus, openDatabase, parseEnv, platformEnv } from '@bilten/platform';
import { captureLogs, freePort, graphql, signUp, waitFor } from '@bilten/testkit';
import postgres from 'postgres';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type Stack, startStack } from '../src/stack.ts';
import { CreateOrganizationDocument } from './generated/operations.ts';
import { TEST_LIMITS } from './support.ts';

// A PostgreSQL of this test's own (the shared one must never stop): the embedded one `npm start`
// runs, on a free port, its data in a folder the postgres user can enter when run as root.
const dataDir = mkdtempSync(join(tmpdir(), 'bilten-failover-pg-'));
chmodSync(dataDir, 0o755);
const { log } = captureLogs('failover-postgres');
let databaseEnv: ReturnType<typeof parseEnv<typeof platformEnv>>;
let database: Awaited<ReturnType<typeof openDatabase>>;
let stack: Stack;

beforeAll(async () => {
  databaseEnv = parseEnv(platformEnv, {
    EMBEDDED_POSTGRES_DIR: join(dataDir, 'postgres'),
    EMBEDDED_POSTGRES_PORT: String(await freePort()),
  });
  database = await openDatabase(databaseEnv, log);
  stack = await startStack({
    databaseUrl: database.url,
    databasePoolSize: 4,
    bus: createInProcessBus(log),
    log,
    host: '127.0.0.1',
    ports: { gateway: 0, identity: 0, catalog: 0, orders: 0, billing: 0, messaging: 0, branding: 0 },
    // A loaded machine may take a while over argon2; what this test bounds is the outage, below.
    gateway: { limits: { ...TEST_LIMITS, subgraphTimeoutMs: 10_000 }, blockFieldSuggestions: false },
    env: { AUTH_REGISTRATIONS_PER_IP_PER_HOUR: '10000', RATE_LIMIT_SIGN_UP: 'off' },
  });
});
afterAll(async () => {
  await stack?.stop();
  await database?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

interface Outcome {
  ms: number;
  /** performance.now() when the request was sent. */
  started: number;
  /** The organization created, when the client was told so. */
  acknowledged?: string;
  /** `extensions.code` of the first error, when it failed. */
  code?: string;
  message?: string;
}

it('PostgreSQL stopped under load: quick UNAVAILABLE answers, /readyz 503, recovery by itself, no acknowledged write lost', async () => {
  const url = stack.gateway.url;
  const sql = postgres(database.url, { max: 1, onnotice: () => {} });
  const owner = await signUp(url, sql);
  await sql.end();
  const readyz = async () =>
    (await fetch(stack.subgraphs.identity.url.replace('/graphql', '/readyz'))).status;

  let sequence = 0;
  const createOne = async (): Promise<Outcome> => {
    const slug = `load-${++sequence}`;
    const started = performance.now();
    const { body } = await graphql(
      url,
      CreateOrganizationDocument,
      { input: { name: `Load ${slug}`, slug } },
      owner.headers,
    );
    const ms = performance.now() - started;
    const created = body.data?.createOrganization;
    if (created?.organization && created.errors.length === 0)
      return { ms, started, acknowledged: created.organization.id };
    const [error] = body.errors ?? [];
    return { ms, started, code: error?.extensions?.code as string | undefined, message: error?.message };
  };
  const readOne = async (): Promise<Outcome> => {
    const started = performance.now();
    const { body } = await graphql(url, '{ me { id displayName } }', {}, owner.headers);
    const [error] = body.errors ?? [];
    return {
      ms: performance.now() - started,
      started,
      code: error?.extensions?.code as string | undefined,
      message: error?.message,
    };
  };

  // Four clients, each writing and reading in turn for as long as `running`.
  const outcomes: Outcome[] = [];
  let running = true;
  const clients = Array.from({ length: 4 }, async () => {
    while (running) {
      for (const request of [createOne, readOne]) {
        // A dropped connection is an answer too, and one this test must report, not crash on.
        outcomes.push(
          await request().catch((err: Error) => ({
            ms: 0,
            started: performance.now(),
            code: 'NO_ANSWER',
            message: err.message,
          })),
        );
      }
    }
  });
  try {
    await waitFor(async () => outcomes.filter((o) => o.acknowledged).length >= 20, 20_000);
    expect(JSON.stringify(outcomes.filter((o) => o.code))).toBe('[]');
    expect(await readyz()).toBe(200);

    // Fast shutdown mid-load: sessions are ended, open transactions roll back.
    const stoppedAt = outcomes.length;
    const stopping = performance.now();
    await database.stop();
    const stopped = performance.now();
    await waitFor(async () => outcomes.length >= stoppedAt + 40, 20_000);
    expect(await readyz()).toBe(503);
    const during = outcomes.slice(stoppedAt);
    // Answered, not hung. A request sent once the server is down fails within 2 s (one connect
    // timeout); one in flight while it shuts down (a fast shutdown still checkpoints: seconds
    // here) ends within 2 s of the shutdown. Each failure is a clear "try again" error.
    expect(during.filter((o) => o.started >= stopped && o.ms >= 2_000)).toEqual([]);
    expect(during.filter((o) => o.started < stopped && o.started + o.ms >= stopped + 2_000)).toEqual([]);
    expect(during.some((o) => o.started >= stopped)).toBe(true);
    expect(stopped - stopping).toBeLessThan(15_000);
    const failures = during.filter((o) => !o.acknowledged && o.code);
    expect(failures.length).toBeGreaterThan(20);
    expect(new Set(failures.map((o) => `${o.code}: ${o.message}`))).toEqual(
      new Set(['UNAVAILABLE: the service is unavailable for a moment; try again shortly']),
    );

    // The same server again, on the same data: the services reconnect by themselves.
    database = await openDatabase(databaseEnv, log);
    const restartedAt = outcomes.length;
    await waitFor(async () => outcomes.slice(restartedAt).filter((o) => o.acknowledged).length >= 10, 30_000);
    await waitFor(async () => (await readyz()) === 200);
  } finally {
    running = false;
    await Promise.all(clients);
  }

  const acknowledged = outcomes.flatMap((o) => (o.acknowledged ? [o.acknowledged] : []));
  const check = postgres(database.url, { max: 1, onnotice: () => {} });
  try {
    const stored = await check<{ id: string }[]>`
      select id from identity.organizations where id in ${check(acknowledged)}`;
    expect(stored.map((row) => row.id).sort()).toEqual([...acknowledged].sort());
  } finally {
    await check.end();
  }
}, 150_000);
