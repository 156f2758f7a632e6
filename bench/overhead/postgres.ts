import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '@bilten/testkit';
import postgres from 'postgres';
import { freePort } from '../../stack/src/supervisor.ts';
import type { Resources } from '../events/resources.ts';

export interface PrivatePostgres {
  /** The server's `postgres` database, as its superuser. */
  url: string;
  /** Creates database `name`: its URL. */
  database(name: string): Promise<string>;
}

/**
 * A PostgreSQL server of the benchmark's own, from the Debian binaries: three whole stacks hold
 * about 60 connections, more than the shared server (max_connections 100, other test stacks on
 * it) has to spare. Stopped and its data removed on release.
 */
export async function privatePostgres(
  resources: Resources,
  maxConnections: number,
): Promise<PrivatePostgres> {
  const versions = existsSync('/usr/lib/postgresql') ? readdirSync('/usr/lib/postgresql').sort() : [];
  if (!versions.length) throw new Error('no PostgreSQL binaries in /usr/lib/postgresql');
  const bin = `/usr/lib/postgresql/${versions.at(-1)}/bin`;
  // PostgreSQL refuses to run as root: as root, the cluster is the postgres user's.
  const asRoot = process.getuid?.() === 0;
  const run = (command: string, args: string[]): [string, string[]] =>
    asRoot ? ['runuser', ['-u', 'postgres', '--', command, ...args]] : [command, args];
  const dir = mkdtempSync(join(tmpdir(), 'bench-overhead-pg-'));
  resources.defer(`data folder ${dir}`, async () => rmSync(dir, { recursive: true, force: true }));
  if (asRoot)
    chownSync(
      dir,
      Number(execFileSync('id', ['-u', 'postgres']).toString()),
      Number(execFileSync('id', ['-g', 'postgres']).toString()),
    );
  const data = join(dir, 'data');
  execFileSync(...run(`${bin}/initdb`, ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8']), {
    stdio: 'ignore',
  });
  const port = await freePort();
  const server: ChildProcess = spawn(
    ...run(`${bin}/postgres`, [
      '-D',
      data,
      '-p',
      String(port),
      '-k',
      dir,
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      `max_connections=${maxConnections}`,
    ]),
    { stdio: 'ignore' },
  );
  const exited = new Promise((resolve) => server.once('exit', resolve));
  resources.defer(`PostgreSQL on port ${port}`, async () => {
    // Fast shutdown: ends the sessions left (a stack killed mid-run) and stops.
    execFileSync(...run(`${bin}/pg_ctl`, ['stop', '-D', data, '-m', 'fast', '-w']), { stdio: 'ignore' });
    await exited;
  });
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  const accepts = async () => {
    const sql = postgres(url, { max: 1, onnotice: () => {}, connect_timeout: 2 });
    try {
      await sql`select 1`;
      return true;
    } catch {
      return false;
    } finally {
      await sql.end();
    }
  };
  await waitFor(accepts, 30_000);
  return {
    url,
    async database(name) {
      const admin = postgres(url, { max: 1, onnotice: () => {} });
      try {
        await admin.unsafe(`create database ${name}`);
      } finally {
        await admin.end();
      }
      return Object.assign(new URL(url), { pathname: `/${name}` }).toString();
    },
  };
}
