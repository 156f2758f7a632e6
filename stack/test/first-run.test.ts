import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import net from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { SUBGRAPH_NAMES } from '@bilten/gateway';
import { captureLogs, createTestBus, createTestDatabase, freePort, graphql, isAlive } from '@bilten/testkit';
import { afterAll, describe, expect, it } from 'vitest';
import { startStack } from '../src/stack.ts';
import { TEST_LIMITS } from './support.ts';

// Issue 11, "what a new user hits first": Ctrl-C in a terminal, `npm start` as root in a private
// folder, and the one-process start keeping its subgraphs off the network.

const ROOT = new URL('../../', import.meta.url).pathname;
const isRoot = process.getuid?.() === 0;
const cleanUp: string[] = [];
afterAll(() => {
  for (const path of cleanUp) rmSync(path, { recursive: true, force: true });
});

/** GATEWAY_PORT, <SUBGRAPH>_PORT and EMBEDDED_POSTGRES_PORT, each a free port. */
async function freePorts() {
  const names = ['GATEWAY', ...SUBGRAPH_NAMES.map((name) => name.toUpperCase()), 'EMBEDDED_POSTGRES'];
  const ports = Object.fromEntries(
    await Promise.all(names.map(async (name) => [`${name}_PORT`, String(await freePort())])),
  );
  return ports as Record<string, string> & { GATEWAY_PORT: string; EMBEDDED_POSTGRES_PORT: string };
}

/** The data folder `npm start` says it uses. */
const databaseDirIn = (output: string) => /Database: +embedded PostgreSQL in (.+)\n/.exec(output)?.[1] ?? '';

/**
 * `npm start`'s entry point in `cwd` (as start.test.ts runs it: node with tsx's loader, one
 * process), in a process group of its own as a terminal would start it, logging at info; resolves
 * once it printed that it is up.
 */
async function startInGroup(cwd: string, env: Record<string, string>) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'stack/src/main.ts'], {
    cwd,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let output = '';
  child.stdout!.on('data', (chunk) => {
    output += chunk;
  });
  child.stderr!.on('data', (chunk) => {
    output += chunk;
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  let code: number | null | undefined;
  void exited.then((value) => {
    code = value;
  });
  const started = Date.now();
  while (!output.includes('Bilten is up.')) {
    if (code !== undefined) throw new Error(`npm start exited with ${code} before it was up:\n${output}`);
    if (Date.now() - started > 45_000) {
      process.kill(-child.pid!, 'SIGKILL');
      throw new Error(`npm start not up within 45 s:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    pid: child.pid!,
    output: () => output,
    /** What a terminal's Ctrl-C does: SIGINT to every process of the foreground group; `presses` times. */
    async interrupt(presses = 1) {
      const signal = (name: NodeJS.Signals) => {
        if (code === undefined) process.kill(-child.pid!, name);
      };
      signal('SIGINT');
      for (let press = 1; press < presses; press++) {
        await new Promise((resolve) => setTimeout(resolve, 200));
        signal('SIGINT');
      }
      const timeout = setTimeout(() => signal('SIGKILL'), 20_000);
      const exitCode = await exited;
      clearTimeout(timeout);
      return exitCode;
    },
  };
}

const logLines = (output: string) =>
  output
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as { msg: string; level: number; [key: string]: unknown });

const accepts = (host: string, port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = net.connect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });

const gatewayAnswers = async (port: string) =>
  (await graphql(`http://127.0.0.1:${port}/graphql`, '{ __typename }')).body.data;

describe('npm start, as a new user meets it', () => {
  it('stops cleanly on Ctrl-C in a terminal (SIGINT to the whole process group), PostgreSQL last', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'bilten-ctrl-c-'));
    cleanUp.push(dataDir);
    // Where the postgres user can reach it when this runs as root (the next test covers where it cannot).
    chmodSync(dataDir, 0o755);
    const env = { ...(await freePorts()), EMBEDDED_POSTGRES_DIR: join(dataDir, 'postgres') };
    const bilten = await startInGroup(ROOT, env);
    expect(await gatewayAnswers(env.GATEWAY_PORT)).toEqual({ __typename: 'Query' });
    // The banner names every page a new user opens first.
    expect(bilten.output()).toContain(`REST reference: http://localhost:${env.GATEWAY_PORT}/api/docs`);
    expect(bilten.output()).toMatch(/GraphiQL: +(http:\/\/localhost:\d+\/graphiql|off)/);
    const database = databaseDirIn(bilten.output());
    const postgresPid = Number(readFileSync(join(database, 'postmaster.pid'), 'utf8').split('\n')[0]);
    expect(isAlive(postgresPid)).toBe(true);

    // Twice: pressing it again (or tsx's CLI relaying it again) must not cut the stop short.
    expect(await bilten.interrupt(2), bilten.output()).toBe(0);
    const messages = logLines(bilten.output()).map((line) => line.msg);
    expect(messages).not.toContain('shutdown failed');
    expect(messages.at(-1)).toBe('stopped');
    expect(isAlive(postgresPid)).toBe(false);
    expect(await accepts('127.0.0.1', Number(env.EMBEDDED_POSTGRES_PORT))).toBe(false);
  }, 60_000);

  it.skipIf(!isRoot)(
    'runs as root from a clone in a private (0700) folder the postgres user cannot enter',
    async () => {
      const home = mkdtempSync(join(tmpdir(), 'bilten-home-'));
      cleanUp.push(home);
      expect(statSync(home).mode & 0o777).toBe(0o700);
      // A clone of this checkout (hard links: quick, and nothing is copied twice on disk).
      const clone = join(home, 'bilten');
      mkdirSync(clone);
      const entries = readdirSync(ROOT).filter((entry) => !['.git', '.data'].includes(entry));
      execFileSync('cp', ['-al', ...entries.map((entry) => join(ROOT, entry)), clone]);

      const env = await freePorts();
      const bilten = await startInGroup(clone, env);
      const database = databaseDirIn(bilten.output());
      cleanUp.push(database);
      expect(await gatewayAnswers(env.GATEWAY_PORT)).toEqual({ __typename: 'Query' });
      const registered = await graphql(
        `http://127.0.0.1:${env.GATEWAY_PORT}/graphql`,
        'mutation { register(input: { email: "root@example.com", password: "a private clone", displayName: "Root" }) { errors { code } } }',
      );
      expect(registered.body).toEqual({ data: { register: { errors: [] } } });
      // The data could not stay in .data/ inside the private folder: the log says where it went.
      const moved = logLines(bilten.output()).find(
        (line) => line.level === 40 && line.databaseDir === database,
      );
      expect(moved?.configured, bilten.output()).toBe(join(clone, '.data/postgres'));
      expect(database.startsWith(home)).toBe(false);
      expect(readdirSync(database)).toContain('PG_VERSION');

      expect(await bilten.interrupt(), bilten.output()).toBe(0);
    },
    60_000,
  );
});

describe('the one-process start with HOST=0.0.0.0', () => {
  it.skipIf(process.platform !== 'linux')(
    'puts only the gateway on HOST; the subgraphs, which trust its headers, listen on loopback',
    async () => {
      const { log } = captureLogs('first-run');
      const database = await createTestDatabase();
      const bus = await createTestBus('in-process', log);
      const stack = await startStack({
        databaseUrl: database.url,
        databasePoolSize: 2,
        bus: bus.bus,
        log,
        host: '0.0.0.0',
        ports: { gateway: 0, identity: 0, catalog: 0, orders: 0, billing: 0, messaging: 0, branding: 0 },
        gateway: { limits: TEST_LIMITS, blockFieldSuggestions: false },
      });
      try {
        expect(listeningOn(stack.gateway.port)).toEqual(['0.0.0.0']);
        for (const subgraph of Object.values(stack.subgraphs)) {
          expect(listeningOn(subgraph.port), subgraph.name).toEqual(['127.0.0.1']);
        }
        // And from another interface of this machine, if it has one: only the gateway answers.
        const external = Object.values(networkInterfaces())
          .flat()
          .find((address) => address && !address.internal && address.family === 'IPv4')?.address;
        if (external) {
          expect(await accepts(external, stack.gateway.port)).toBe(true);
          for (const subgraph of Object.values(stack.subgraphs)) {
            expect(await accepts(external, subgraph.port), subgraph.name).toBe(false);
          }
        }
      } finally {
        await stack.stop();
        await bus.dispose();
        await database.drop();
      }
    },
    60_000,
  );
});

/** The IPv4 addresses a TCP port of this machine listens on, from /proc/net/tcp. */
function listeningOn(port: number): string[] {
  return readFileSync('/proc/net/tcp', 'utf8')
    .split('\n')
    .slice(1)
    .map((line) => line.trim().split(/\s+/))
    .filter((fields) => fields[3] === '0A' && Number.parseInt(fields[1]!.split(':')[1]!, 16) === port)
    .map((fields) => {
      const hex = fields[1]!.split(':')[0]!;
      return [6, 4, 2, 0].map((at) => Number.parseInt(hex.slice(at, at + 2), 16)).join('.');
    });
}
