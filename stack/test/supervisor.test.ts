import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  captureLogs,
  createTestBus,
  createTestDatabase,
  freePort,
  graphql,
  isAlive,
  signUp,
  TEST_NATS_URL,
  waitFor,
} from '@bilten/testkit';
import postgres from 'postgres';
import { expect, it } from 'vitest';
import { superviseServices } from '../src/supervisor.ts';
import { CreateOrganizationDocument, OrganizationWithBrandingDocument } from './generated/operations.ts';

const ROOT = new URL('../../', import.meta.url).pathname;

it('npm run start:services: a subgraph killed with -9 yields partial data, then is started again and answers in full', async () => {
  const database = await createTestDatabase();
  const testBus = await createTestBus('jetstream', captureLogs().log);
  const sql = postgres(database.url, { max: 1, onnotice: () => {} });
  const gatewayPort = await freePort();
  // What `npm run start:services` runs; every other port 0: the supervisor picks free ones.
  const supervisor = spawn(process.execPath, ['--import', 'tsx', 'stack/src/services.ts'], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      LOG_LEVEL: 'info',
      DATABASE_URL: database.url,
      NATS_URL: TEST_NATS_URL,
      NATS_STREAM: testBus.stream,
      NATS_SUBJECT_PREFIX: testBus.subjectPrefix,
      GATEWAY_PORT: String(gatewayPort),
      ...Object.fromEntries(
        ['IDENTITY', 'CATALOG', 'ORDERS', 'BILLING', 'MESSAGING', 'BRANDING'].map((name) => [
          `${name}_PORT`,
          '0',
        ]),
      ),
      AUTH_REGISTRATIONS_PER_IP_PER_HOUR: '10000',
      RATE_LIMIT_SIGN_UP: 'off',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  supervisor.stdout!.on('data', (chunk) => {
    output += chunk;
  });
  supervisor.stderr!.on('data', (chunk) => {
    output += chunk;
  });
  const exited = new Promise<number | null>((resolve) => supervisor.once('exit', resolve));
  let pids: Record<string, number> = {};
  try {
    // Seven processes starting on a shared two-core machine.
    await waitFor(async () => output.includes('Bilten is up') || supervisor.exitCode !== null, 150_000).catch(
      (err: Error) => {
        throw new Error(`${err.message}; the supervisor wrote:\n${output.slice(-4_000)}`);
      },
    );
    expect(output).toContain(`GraphQL:  http://localhost:${gatewayPort}/graphql`);
    pids = Object.fromEntries(
      /Processes: (.+)/
        .exec(output)![1]!
        .split(', ')
        .map((entry) => entry.split(' '))
        .map(([name, pid]) => [name, Number(pid)]),
    );
    expect(Object.keys(pids).sort()).toEqual(
      ['billing', 'branding', 'catalog', 'gateway', 'identity', 'messaging', 'orders'].sort(),
    );
    // Each service's lines come prefixed with its name.
    expect(output).toMatch(/^identity {2}\| \{.*"msg":"subgraph listening"/m);

    const url = `http://127.0.0.1:${gatewayPort}/graphql`;
    const owner = await signUp(url, sql);
    const created = await graphql(
      url,
      CreateOrganizationDocument,
      { input: { name: 'Supervised', slug: 'supervised' } },
      owner.headers,
    );
    const id = created.body.data!.createOrganization.organization!.id;
    // Branding makes the organization's branding from identity's event, across processes.
    const full = { id, name: 'Supervised', branding: { primaryColor: '#1F2937', accentColor: '#2563EB' } };
    await waitFor(
      async () =>
        (await graphql(url, OrganizationWithBrandingDocument, { id })).body.data?.organization?.branding,
      20_000,
    );

    process.kill(pids.branding!, 'SIGKILL');
    await waitFor(async () => !isAlive(pids.branding!));
    const partial = await graphql(url, OrganizationWithBrandingDocument, { id });
    expect(partial.status).toBe(200);
    expect(partial.body.data?.organization).toEqual({ ...full, branding: null });
    expect(partial.body.errors).toEqual([
      expect.objectContaining({
        message: 'subgraph branding is unavailable',
        extensions: expect.objectContaining({ serviceName: 'branding' }),
      }),
    ]);

    // Started again by the supervisor, on the same port: full answers come back by themselves.
    const restored = await waitFor(async () => {
      const { body } = await graphql(url, OrganizationWithBrandingDocument, { id });
      return body.errors ? undefined : body.data?.organization;
    }, 40_000);
    expect(restored).toEqual(full);
    expect(output).toMatch(
      /"child":"branding","exit":"SIGKILL","crashes":1,.*"msg":"service exited; restarting it"/,
    );
    // Its readiness poll may notice a moment after the gateway did.
    const restartedPid = await waitFor(async () => {
      const ready = [...output.matchAll(/"child":"branding","pid":(\d+),"msg":"service ready"/g)];
      return ready.length === 2 && Number(ready[1]![1]);
    });
    expect(restartedPid).not.toBe(pids.branding);
    expect(isAlive(restartedPid)).toBe(true);
    pids.restarted = restartedPid;
    // Every other service kept its process.
    for (const [name, pid] of Object.entries(pids)) if (name !== 'branding') expect(isAlive(pid)).toBe(true);

    supervisor.kill('SIGTERM');
    expect(await exited).toBe(0);
    for (const pid of Object.values(pids)) expect(isAlive(pid)).toBe(false);
  } finally {
    if (supervisor.exitCode === null) supervisor.kill('SIGKILL');
    for (const pid of Object.values(pids)) if (isAlive(pid)) process.kill(pid, 'SIGKILL');
    await sql.end();
    await testBus.dispose();
    await database.drop();
  }
}, 240_000);

it('restarts a crashing service with a doubling back-off and gives up after the fast crashes allowed', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'bilten-supervisor-'));
  // Ready at once, gone 1.5 s later: a service that keeps crashing soon after it starts.
  const script = join(dir, 'crashing.mjs');
  writeFileSync(
    script,
    `import { createServer } from 'node:http';
createServer((_, response) => response.end('ok')).listen(Number(process.env.PORT), '127.0.0.1');
console.log('started at ' + Date.now());
setTimeout(() => process.exit(3), 1_500);
`,
  );
  const port = await freePort();
  const lines: string[] = [];
  const { log, lines: logs } = captureLogs('supervisor');
  const supervisor = await superviseServices({
    log,
    groups: [
      [
        {
          name: 'crashing',
          script,
          env: { PATH: process.env.PATH, PORT: String(port) },
          readyUrl: `http://127.0.0.1:${port}/`,
        },
      ],
    ],
    policy: { initialDelayMs: 200, maxFastCrashes: 4 },
    write: (line) => lines.push(line),
  });
  try {
    const err = await supervisor.gaveUp;
    expect(err.message).toMatch(
      /^crashing crashed 4 times in a row, each within 30000 ms of its start \(last: exit 3\); giving up$/,
    );
    const starts = lines
      .flatMap((line) => /^crashing {2}\| started at (\d+)$/.exec(line)?.[1] ?? [])
      .map(Number);
    expect(starts).toHaveLength(4);
    // Each wait twice the one before, and each restart waited at least that long after the exit.
    const restarts = logs.filter((line) => line.msg === 'service exited; restarting it');
    expect(restarts.map(({ crashes, delayMs }) => ({ crashes, delayMs }))).toEqual([
      { crashes: 1, delayMs: 200 },
      { crashes: 2, delayMs: 400 },
      { crashes: 3, delayMs: 800 },
    ]);
    restarts.forEach((restart, i) => {
      expect(starts[i + 1]! - Date.parse(restart.time as string)).toBeGreaterThanOrEqual(
        restart.delayMs as number,
      );
    });
  } finally {
    await supervisor.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}, 30_000);
