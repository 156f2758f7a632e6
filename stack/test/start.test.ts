import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SUBGRAPH_NAMES } from '@bilten/gateway';
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
import { afterAll, describe, expect, it } from 'vitest';
import {
  CreateOrganizationDocument,
  LoginDocument,
  OrganizationWithBrandingDocument,
  RegisterDocument,
} from './generated/operations.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const dataDir = mkdtempSync(join(tmpdir(), 'bilten-start-'));
// As root, PostgreSQL runs as the `postgres` user: open to it, the folder keeps the data (a
// private one would have it kept elsewhere, see first-run.test.ts).
chmodSync(dataDir, 0o755);

afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

/** Spawns an entry point the way `npm start` / `npm run start:<service>` do, and waits for `isUp`. */
async function startProcess(
  script: string,
  env: Record<string, string>,
  isUp: (output: string) => Promise<boolean>,
) {
  const child = spawn(process.execPath, ['--import', 'tsx', script], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk) => {
    output += chunk;
  });
  child.stderr!.on('data', (chunk) => {
    output += chunk;
  });
  const started = Date.now();
  let exited: number | null | undefined;
  child.once('exit', (code) => {
    exited = code;
  });
  while (!(await isUp(output))) {
    if (exited !== undefined) throw new Error(`${script} exited with ${exited} before it was up:\n${output}`);
    if (Date.now() - started > 60_000) throw new Error(`${script} not up within 60 s:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { child, startupMs: Date.now() - started, output: () => output };
}

const startBilten = (env: Record<string, string>) =>
  startProcess('stack/src/main.ts', env, async (output) => output.includes('Bilten is up.'));

const readyAt = (port: string) => async () => {
  try {
    return (await fetch(`http://127.0.0.1:${port}/readyz`)).ok;
  } catch {
    return false;
  }
};

function stop(
  child: ChildProcess,
  signal: NodeJS.Signals = 'SIGINT',
): Promise<{ code: number | null; ms: number }> {
  const started = Date.now();
  return new Promise((resolve) => {
    child.once('exit', (code) => resolve({ code, ms: Date.now() - started }));
    child.kill(signal);
  });
}

describe('npm start on a machine with nothing set', () => {
  it('runs everything on embedded PostgreSQL, keeps data across restarts, and stops cleanly on SIGINT', async () => {
    const ports = Object.fromEntries(
      await Promise.all(
        ['GATEWAY', ...SUBGRAPH_NAMES.map((name) => name.toUpperCase())].map(async (name) => [
          `${name}_PORT`,
          String(await freePort()),
        ]),
      ),
    );
    const env = {
      ...ports,
      EMBEDDED_POSTGRES_DIR: join(dataDir, 'postgres'),
      EMBEDDED_POSTGRES_PORT: String(await freePort()),
    };
    const url = `http://127.0.0.1:${env.GATEWAY_PORT}/graphql`;

    const first = await startBilten(env);
    expect(first.output()).toContain(`GraphQL:        http://localhost:${env.GATEWAY_PORT}/graphql`);
    const sandbox = await fetch(url, { headers: { accept: 'text/html' } });
    expect(await sandbox.text()).toContain('embeddable-sandbox');
    const account = { email: 'persisted@example.com', password: 'kept across restarts', displayName: 'Kept' };
    const created = await graphql(url, RegisterDocument, { input: account });
    expect(created.body.data?.register.errors).toEqual([]);
    const login = await graphql(url, LoginDocument, {
      input: { email: account.email, password: account.password },
    });
    const accessToken = login.body.data?.login.accessToken;
    expect(accessToken, JSON.stringify(login.body)).toBeTruthy();
    const postgresPid = Number(
      readFileSync(join(env.EMBEDDED_POSTGRES_DIR, 'postmaster.pid'), 'utf8').split('\n')[0],
    );
    expect(isAlive(postgresPid)).toBe(true);

    const firstStop = await stop(first.child);
    expect(firstStop.code).toBe(0);
    expect(firstStop.ms).toBeLessThan(10_000);
    expect(isAlive(postgresPid)).toBe(false);

    // The second start reuses .data: the account is still there, and so is the signing key, so
    // the access token issued before the restart is still accepted (here by catalog, via JWKS).
    const second = await startBilten(env);
    const again = await graphql(url, LoginDocument, {
      input: { email: account.email, password: account.password },
    });
    expect(again.body.data?.login.user?.email).toBe(account.email);
    const events = await graphql(url, '{ events(first: 1) { edges { cursor } } }', undefined, {
      authorization: `Bearer ${accessToken!}`,
    });
    expect(events.body.errors).toBeUndefined();
    const secondStop = await stop(second.child);
    expect(secondStop.code).toBe(0);
  }, 150_000);
});

describe('one process per service (npm run start:<service>) on PostgreSQL and NATS JetStream', () => {
  it('serves identity and branding through a separate gateway, with the event crossing processes', async () => {
    const database = await createTestDatabase();
    // A stream of this test's own, so parallel test files never share consumers.
    const testBus = await createTestBus('jetstream', captureLogs().log);
    const prefix = `t${testBus.stream!.slice('TEST_'.length)}.`;
    const [identityPort, brandingPort, gatewayPort] = [await freePort(), await freePort(), await freePort()];
    const shared = {
      DATABASE_URL: database.url,
      NATS_URL: TEST_NATS_URL,
      NATS_STREAM: testBus.stream!,
      NATS_SUBJECT_PREFIX: prefix,
      HOST: '127.0.0.1',
    };
    const processes: ChildProcess[] = [];
    const sql = postgres(database.url, { max: 1, onnotice: () => {} });
    try {
      const identity = await startProcess(
        'subgraphs/identity/src/index.ts',
        { ...shared, IDENTITY_PORT: String(identityPort) },
        readyAt(String(identityPort)),
      );
      processes.push(identity.child);
      const branding = await startProcess(
        'subgraphs/branding/src/index.ts',
        { ...shared, BRANDING_PORT: String(brandingPort) },
        readyAt(String(brandingPort)),
      );
      processes.push(branding.child);
      const gateway = await startProcess(
        'gateway/src/index.ts',
        {
          HOST: '127.0.0.1',
          GATEWAY_PORT: String(gatewayPort),
          IDENTITY_URL: `http://127.0.0.1:${identityPort}/graphql`,
          BRANDING_URL: `http://127.0.0.1:${brandingPort}/graphql`,
        },
        readyAt(String(gatewayPort)),
      );
      processes.push(gateway.child);

      const url = `http://127.0.0.1:${gatewayPort}/graphql`;
      const owner = await signUp(url, sql);
      const created = await graphql(
        url,
        CreateOrganizationDocument,
        { input: { name: 'Split', slug: 'split' } },
        owner.headers,
      );
      const id = created.body.data!.createOrganization.organization!.id;
      const branded = await waitFor(
        async () =>
          (await graphql(url, OrganizationWithBrandingDocument, { id })).body.data?.organization?.branding,
      );
      expect(branded).toEqual({ primaryColor: '#1F2937', accentColor: '#2563EB' });

      for (const child of processes.splice(0).reverse()) {
        const stopped = await stop(child, 'SIGTERM');
        expect(stopped.code).toBe(0);
        expect(stopped.ms).toBeLessThan(10_000);
      }
    } finally {
      for (const child of processes) child.kill('SIGKILL');
      await sql.end();
      await testBus.dispose();
      await database.drop();
    }
  }, 120_000);

  it('refuses to start with a bad variable, naming it in one line', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'subgraphs/identity/src/index.ts'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH, IDENTITY_PORT: 'eighty', DATABASE_URL: 'postgres://127.0.0.1/x' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (chunk) => {
      stderr += chunk;
    });
    const code = await new Promise((resolve) => child.once('exit', resolve));
    expect(code).toBe(1);
    expect(stderr).toMatch(/^identity: invalid configuration:\n {2}IDENTITY_PORT: .+\n$/);
  }, 30_000);

  it('refuses to run a subgraph alone without DATABASE_URL', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'subgraphs/orders/src/index.ts'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (chunk) => {
      stderr += chunk;
    });
    expect(await new Promise((resolve) => child.once('exit', resolve))).toBe(1);
    expect(stderr).toBe(
      'orders: invalid configuration:\n  DATABASE_URL: required when this service runs alone\n',
    );
  }, 30_000);
});
