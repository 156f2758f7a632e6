import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { SUBGRAPH_NAMES, type SubgraphName } from '@bilten/gateway';
import { createLogger, type Logger } from '@bilten/platform';
import postgres from 'postgres';
import { contractStepsOf } from '../../schema/check-migrations.ts';
import { type LoadResult, startLoad } from './load-loop.ts';
import { freePort, type SupervisedService, type Supervisor, superviseServices } from './supervisor.ts';

/*
 * `npm run deploy:rehearse`: a blue-green deployment, for real, with processes on this machine.
 * Blue (gateway + six subgraphs, one process each, on a scratch database) serves a load of GraphQL
 * reads and writes through a local switch (an HTTP proxy standing in for the Service selector);
 * the new release's expand-only migration is applied while blue serves; green starts on the
 * migrated database on other ports; the switch sends new requests to green; blue drains (its
 * gateway's graceful stop answers what is in flight and takes nothing new) and stops. Every answer
 * is counted: the rehearsal fails unless none failed. Both colors run this checkout's code.
 */

export const RESULT_PATH = new URL('../../bench/results/deploy-rehearse.json', import.meta.url);

/**
 * The new release's migration: expand-only (checked below as the CI check does), taking only brief
 * locks (`lock_timeout` bounds the wait behind blue's transactions instead of queueing its requests).
 */
const EXPAND_MIGRATION = `
SET lock_timeout = '2s';
ALTER TABLE "catalog"."events" ADD COLUMN IF NOT EXISTS "rehearsal_note" text;
CREATE TABLE IF NOT EXISTS "catalog"."rehearsal_marks" ("id" uuid PRIMARY KEY NOT NULL, "at" timestamp with time zone DEFAULT now() NOT NULL);
`;

export interface RehearsalOptions {
  /** A PostgreSQL server where a scratch database may be created (and dropped after). */
  adminDatabaseUrl: string;
  /** Seconds of load on blue before the switch, and on green after it. */
  loadSeconds: number;
  concurrency: number;
  log: Logger;
}

export interface RehearsalResult {
  served: number;
  failed: number;
  failures: string[];
  p50Ms: number;
  p99Ms: number;
  /** From the flip until the last request blue had taken was answered. */
  switchMs: number;
  /** From the flip until every blue process had exited. */
  drainMs: number;
  migrationMs: number;
  servedBy: { blue: number; green: number };
}

/** The switch: every request goes to `target` as it is when the request arrives. */
function startSwitch(port: number) {
  let target = '';
  const inFlight = new Map<string, number>();
  const servedBy = new Map<string, number>();
  const server: Server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const to = target;
    inFlight.set(to, (inFlight.get(to) ?? 0) + 1);
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', async () => {
      try {
        const upstream = await fetch(`${to}${request.url}`, {
          method: request.method,
          headers: { 'content-type': request.headers['content-type'] ?? 'application/json' },
          body: chunks.length ? Buffer.concat(chunks) : undefined,
        });
        response.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? '' });
        response.end(Buffer.from(await upstream.arrayBuffer()));
        servedBy.set(to, (servedBy.get(to) ?? 0) + 1);
      } catch (err) {
        response.writeHead(502).end((err as Error).message);
      } finally {
        inFlight.set(to, inFlight.get(to)! - 1);
      }
    });
  });
  return {
    listen: () => new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve)),
    flip(to: string) {
      target = to;
    },
    inFlight: (to: string) => inFlight.get(to) ?? 0,
    servedBy: (to: string) => servedBy.get(to) ?? 0,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

/** One color: six subgraphs and a gateway, a process each, on ports of their own. */
async function startColor(
  color: string,
  databaseUrl: string,
  migrated: boolean,
  log: Logger,
): Promise<{ url: string; supervisor: Supervisor }> {
  const ports = Object.fromEntries(
    await Promise.all(['gateway', ...SUBGRAPH_NAMES].map(async (name) => [name, await freePort()] as const)),
  ) as Record<SubgraphName | 'gateway', number>;
  const local = (name: SubgraphName) => `http://127.0.0.1:${ports[name]}`;
  const shared = {
    PATH: process.env.PATH,
    DATABASE_URL: databaseUrl,
    DATABASE_POOL_SIZE: '4',
    LOG_LEVEL: 'warn',
    AUTH_REGISTRATIONS_PER_IP_PER_HOUR: '1000000',
    // One client (this process) sends everything: the per-client limits would refuse it.
    RATE_LIMIT_SIGN_UP: 'off',
    RATE_LIMIT_SEARCH: 'off',
    GATEWAY_RATE_LIMIT: 'off',
  };
  const subgraph = (name: SubgraphName): SupervisedService => ({
    name: `${color}-${name}`,
    script: `subgraphs/${name}/src/index.ts`,
    env: {
      ...shared,
      HOST: '127.0.0.1',
      [`${name.toUpperCase()}_PORT`]: String(ports[name]),
      AUTH_JWKS_URL: `${local('identity')}/.well-known/jwks.json`,
      BRAND_ASSETS_URL: local('branding'),
    },
    readyUrl: `${local(name)}/readyz`,
  });
  const gateway: SupervisedService = {
    name: `${color}-gateway`,
    script: 'gateway/src/index.ts',
    env: {
      ...shared,
      HOST: '127.0.0.1',
      GATEWAY_PORT: String(ports.gateway),
      ...Object.fromEntries(
        SUBGRAPH_NAMES.map((name) => [`${name.toUpperCase()}_URL`, `${local(name)}/graphql`]),
      ),
    },
    readyUrl: `http://127.0.0.1:${ports.gateway}/readyz`,
  };
  const supervisor = await superviseServices({
    log,
    // On a fresh database identity goes first: it creates the `drizzle` schema every service's
    // migrations share. On a migrated one (green) the six start side by side.
    groups: migrated
      ? [SUBGRAPH_NAMES.map(subgraph), [gateway]]
      : [
          [subgraph('identity')],
          SUBGRAPH_NAMES.filter((name) => name !== 'identity').map(subgraph),
          [gateway],
        ],
  });
  return { url: `http://127.0.0.1:${ports.gateway}`, supervisor };
}

const READ = '{ events(first: 5) { edges { node { id title } } } }';
const REGISTER = 'mutation($input: RegisterInput!) { register(input: $input) { accepted errors { code } } }';

/** One request through the switch: a write (a registration) every fifth, a read otherwise. */
async function send(switchUrl: string, worker: number, sequence: number): Promise<string | undefined> {
  const write = sequence % 5 === 4;
  const body = write
    ? {
        query: REGISTER,
        variables: {
          input: {
            email: `rehearsal-${worker}-${sequence}-${randomBytes(4).toString('hex')}@example.com`,
            password: `pw-${randomBytes(9).toString('base64url')}`,
            displayName: 'Rehearsal',
          },
        },
      }
    : { query: READ };
  const response = await fetch(`${switchUrl}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const answer = (await response.json().catch(() => ({}))) as {
    data?: { register?: { accepted: boolean } };
    errors?: unknown[];
  };
  if (response.status !== 200 || answer.errors) return `${response.status} ${JSON.stringify(answer.errors)}`;
  if (write && !answer.data?.register?.accepted) return 'registration not accepted';
  return undefined;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function rehearseBlueGreen(options: RehearsalOptions): Promise<RehearsalResult> {
  const { log } = options;
  const problems = contractStepsOf(EXPAND_MIGRATION, 'catalog');
  if (problems.length) throw new Error(`the migration contracts: ${JSON.stringify(problems)}`);

  const name = `bilten_rehearse_${randomBytes(4).toString('hex')}`;
  const admin = postgres(options.adminDatabaseUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  const databaseUrl = Object.assign(new URL(options.adminDatabaseUrl), { pathname: `/${name}` }).toString();
  const running: Supervisor[] = [];
  const switchPort = await freePort();
  const lever = startSwitch(switchPort);
  try {
    log.info({ database: name }, 'starting blue');
    const blue = await startColor('blue', databaseUrl, false, log);
    running.push(blue.supervisor);
    await lever.listen();
    lever.flip(blue.url);
    const load = startLoad({
      concurrency: options.concurrency,
      send: (worker, sequence) => send(`http://127.0.0.1:${switchPort}`, worker, sequence),
    });
    await sleep(options.loadSeconds * 500);

    log.info('applying the new release migration while blue serves');
    const migrationStarted = performance.now();
    const db = postgres(databaseUrl, { max: 1, onnotice: () => {} });
    await db.unsafe(EXPAND_MIGRATION);
    await db.end();
    const migrationMs = performance.now() - migrationStarted;
    await sleep(options.loadSeconds * 500);

    log.info('starting green on the migrated database');
    const green = await startColor('green', databaseUrl, true, log);
    running.push(green.supervisor);

    log.info('switching to green');
    const flipped = performance.now();
    lever.flip(green.url);
    while (lever.inFlight(blue.url) > 0) await sleep(5);
    const switchMs = performance.now() - flipped;
    // Blue's gateway first (graceful: answers what it took, refuses new), then its subgraphs.
    await blue.supervisor.stop();
    running.splice(running.indexOf(blue.supervisor), 1);
    const drainMs = performance.now() - flipped;
    await sleep(options.loadSeconds * 1000);
    const result: LoadResult = await load.stop();
    return {
      ...result,
      switchMs: Math.round(switchMs),
      drainMs: Math.round(drainMs),
      migrationMs: Math.round(migrationMs),
      servedBy: { blue: lever.servedBy(blue.url), green: lever.servedBy(green.url) },
    };
  } finally {
    for (const supervisor of running.reverse()) await supervisor.stop();
    await lever.close();
    await admin.unsafe(`drop database if exists ${name} with (force)`);
    await admin.end();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const log = createLogger({ service: 'deploy-rehearse', level: process.env.LOG_LEVEL ?? 'info' });
  const result = await rehearseBlueGreen({
    adminDatabaseUrl:
      process.env.REHEARSAL_DATABASE_URL ??
      process.env.TEST_DATABASE_URL ??
      'postgres://postgres@127.0.0.1:5432/postgres',
    loadSeconds: Number(process.env.REHEARSAL_LOAD_SECONDS ?? 20),
    concurrency: Number(process.env.REHEARSAL_CONCURRENCY ?? 8),
    log,
  });
  mkdirSync(new URL('.', RESULT_PATH), { recursive: true });
  writeFileSync(RESULT_PATH, `${JSON.stringify({ at: new Date().toISOString(), ...result }, null, 2)}\n`);
  console.log(
    `blue-green rehearsal: ${result.served} requests served (${result.servedBy.blue} by blue, ${result.servedBy.green} by green), ` +
      `${result.failed} failed, p50 ${result.p50Ms} ms, p99 ${result.p99Ms} ms, ` +
      `migration ${result.migrationMs} ms, switch ${result.switchMs} ms, blue drained in ${result.drainMs} ms`,
  );
  for (const failure of result.failures) console.log(`  failed: ${failure}`);
  console.log(`wrote ${RESULT_PATH.pathname}`);
  process.exitCode = result.failed === 0 ? 0 : 1;
}
