import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SUBGRAPH_NAMES } from '@bilten/platform';
import { freePort, graphql } from '@bilten/testkit';
import { afterAll, describe, expect, it } from 'vitest';
import { CreateOrganizationDocument } from './generated/operations.ts';

const ROOT = new URL('../../../', import.meta.url).pathname;
const dataDir = mkdtempSync(join(tmpdir(), 'bilten-start-'));
// As root, PostgreSQL runs as the `postgres` user, which must be able to reach its data folder.
chmodSync(dataDir, 0o755);

afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

async function startBilten(env: Record<string, string>) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'packages/stack/src/main.ts'], {
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
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not up within 60 s:\n${output}`)), 60_000);
    child.stdout!.on('data', () => {
      if (output.includes('Bilten is up.')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code} before it was up:\n${output}`));
    });
  });
  return { child, startupMs: Date.now() - started, output: () => output };
}

function stop(child: ChildProcess): Promise<{ code: number | null; ms: number }> {
  const started = Date.now();
  return new Promise((resolve) => {
    child.once('exit', (code) => resolve({ code, ms: Date.now() - started }));
    child.kill('SIGINT');
  });
}

const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('npm start on a machine with nothing set', () => {
  it('runs everything on embedded PostgreSQL, keeps data across restarts, and stops cleanly on SIGINT', async () => {
    const ports = Object.fromEntries(
      await Promise.all(
        ['GATEWAY', ...SUBGRAPH_NAMES.map((name) => name.toUpperCase())].map(async (name) => [`${name}_PORT`, String(await freePort())]),
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
    const created = await graphql(url, CreateOrganizationDocument, { input: { name: 'Persisted', slug: 'persisted' } });
    expect(created.body.data?.createOrganization.errors).toEqual([]);
    const postgresPid = Number(readFileSync(join(env.EMBEDDED_POSTGRES_DIR, 'postmaster.pid'), 'utf8').split('\n')[0]);
    expect(isAlive(postgresPid)).toBe(true);

    const firstStop = await stop(first.child);
    expect(firstStop.code).toBe(0);
    expect(firstStop.ms).toBeLessThan(10_000);
    expect(isAlive(postgresPid)).toBe(false);

    // The second start reuses .data: the slug written before is still taken.
    const second = await startBilten(env);
    const again = await graphql(url, CreateOrganizationDocument, { input: { name: 'Persisted', slug: 'persisted' } });
    expect(again.body.data?.createOrganization.errors[0]?.code).toBe('ALREADY_EXISTS');
    const secondStop = await stop(second.child);
    expect(secondStop.code).toBe(0);
  }, 150_000);
});
