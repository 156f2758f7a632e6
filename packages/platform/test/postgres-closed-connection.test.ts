import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { captureLogs, freePort } from '@bilten/testkit';
import postgres from 'postgres';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { connectDatabase, type DatabaseHandle } from '../src/db.ts';
import { type EmbeddedDatabase, startEmbeddedPostgres } from '../src/embedded-postgres.ts';
import { isConnectionLost } from '../src/errors.ts';

// postgres.js 3.4.9 writes to a connection's socket after closed() dropped it and throws from a
// setImmediate, which ends the process (porsager/postgres#1154, #1208); patches/ guards it. These
// tests end backends, so they run on a PostgreSQL of their own, never the shared one.
const dataDir = mkdtempSync(join(tmpdir(), 'bilten-closed-connection-'));
chmodSync(dataDir, 0o755);
const { log } = captureLogs('postgres-closed-connection');
let server: EmbeddedDatabase;
let admin: postgres.Sql;
let handle: DatabaseHandle;

beforeAll(async () => {
  server = await startEmbeddedPostgres({ dir: join(dataDir, 'postgres'), port: await freePort(), log });
  admin = postgres(server.url, { max: 1, onnotice: () => {} });
  handle = connectDatabase({ url: server.url, poolSize: 2, applicationName: 'closed-connection-test' });
}, 60_000);
afterAll(async () => {
  await handle?.close();
  await admin?.end();
  await server?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

const backendPid = async (sql: postgres.Sql | postgres.TransactionSql) => {
  const [row] = await sql<{ pid: number }[]>`select pg_backend_pid() as pid`;
  return (row as { pid: number }).pid;
};
const terminate = (pid: number) => admin`select pg_terminate_backend(${pid})`;
/** Lets the immediates already scheduled (postgres.js's deferred writes) run. */
const nextImmediate = () => new Promise((resolve) => setImmediate(resolve));

it('rejects the next query on a reserved connection whose backend died, without crashing', async () => {
  // A client of its own: postgres.js would take this dead connection back into a pool on release()
  // (porsager/postgres#1199), and our services never reserve one.
  const sql = postgres(server.url, { max: 1, onnotice: () => {} });
  try {
    const reserved = await sql.reserve();
    const pid = await backendPid(reserved);
    const running = reserved`select pg_sleep(30)`.catch((err: unknown) => err);
    await terminate(pid);
    expect(isConnectionLost(await running)).toBe(true);

    // The socket is gone for good: this small write is deferred to an immediate, and must settle.
    await expect(reserved`select 1`).rejects.toMatchObject({ code: 'CONNECTION_CLOSED' });
    await nextImmediate();
  } finally {
    await sql.end({ timeout: 1 });
  }
});

it('a transaction whose backend died mid-statement rejects, its own ROLLBACK settles, and the pool goes on', async () => {
  let pid: number | undefined;
  let reachedSleep!: () => void;
  const sleeping = new Promise<void>((resolve) => {
    reachedSleep = resolve;
  });
  const work = handle.sql.begin(async (tx) => {
    pid = await backendPid(tx);
    const sleep = tx`select pg_sleep(30)`;
    reachedSleep();
    await sleep;
  });
  await sleeping;
  await terminate(pid as number);
  // postgres.js sends ROLLBACK on the dead connection as it fails the transaction.
  const failure = await work.catch((err: unknown) => err);
  expect(isConnectionLost(failure)).toBe(true);
  await nextImmediate();

  expect(await handle.sql`select 1 as one`).toEqual([{ one: 1 }]);
});
