import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import type { Logger, RawEnv } from '@bilten/platform';

const ROOT = new URL('../../', import.meta.url).pathname;

export interface ServiceProcessOptions {
  /** Prefixes every line it writes. */
  name: string;
  /** Its entry point, from the repository root (`subgraphs/identity/src/index.ts`). */
  script: string;
  /** Its whole environment. */
  env: RawEnv;
  /** Polled until it answers 200 (`http://127.0.0.1:4001/readyz`). */
  readyUrl: string;
  readyTimeoutMs?: number;
  /** Where its output goes, one prefixed line at a time (default: this process's stdout). */
  write?: (line: string) => void;
}

export interface ServiceProcess {
  child: ChildProcess;
  /** Resolves once its /readyz answers 200; rejects, having killed it, when it exits or is not ready in time. */
  ready: Promise<void>;
  /** Resolves with how it ended: `exit 0`, `SIGKILL`. */
  exited: Promise<string>;
  /** SIGTERM (its own graceful stop), SIGKILL after `graceMs`; resolves once it has exited. */
  stop(graceMs?: number): Promise<string>;
}

/**
 * A service in a process of its own (`node --import tsx <script>`, as `npm run start:<service>`
 * does it), its output prefixed with its name; `ready` tells when it serves.
 */
export function spawnServiceProcess(options: ServiceProcessOptions): ServiceProcess {
  const { name, readyTimeoutMs = 60_000 } = options;
  const write = options.write ?? ((line: string) => process.stdout.write(`${line}\n`));
  const child = spawn(process.execPath, ['--import', 'tsx', options.script], {
    cwd: ROOT,
    env: options.env,
    // Its own process group: a terminal's Ctrl-C reaches the supervisor only, which stops each in order.
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const prefix = `${name.padEnd(9)} | `;
  for (const stream of [child.stdout!, child.stderr!]) {
    let partial = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop()!;
      for (const line of lines) write(prefix + line);
    });
    stream.on('end', () => partial && write(prefix + partial));
  }
  let ended: string | undefined;
  const exited = new Promise<string>((resolve) => {
    const end = (how: string) => {
      ended = how;
      resolve(how);
    };
    child.once('error', (err) => end(err.message));
    child.once('exit', (code, signal) => end(signal ?? `exit ${code}`));
  });
  const stop = async (graceMs = 15_000) => {
    if (ended === undefined) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    }
    return exited;
  };
  const ready = (async () => {
    const deadline = Date.now() + readyTimeoutMs;
    for (;;) {
      if (ended !== undefined) throw new Error(`${name} exited (${ended}) before it was ready`);
      if (await answersOk(options.readyUrl)) return;
      if (Date.now() > deadline) {
        await stop(1_000);
        throw new Error(`${name} not ready within ${readyTimeoutMs} ms (${options.readyUrl})`);
      }
      await Promise.race([exited, new Promise((wake) => setTimeout(wake, 200))]);
    }
  })();
  return { child, ready, exited, stop };
}

/** `spawnServiceProcess`, once it is ready (what `npm run start:services` and the deploy rehearsal use). */
export async function startServiceProcess(options: ServiceProcessOptions): Promise<ServiceProcess> {
  const service = spawnServiceProcess(options);
  await service.ready;
  return service;
}

async function answersOk(url: string): Promise<boolean> {
  try {
    return (await fetch(url, { signal: AbortSignal.timeout(2_000) })).ok;
  } catch {
    return false;
  }
}

/** A port that was free a moment ago: one given to a process up front, and kept across its restarts. */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, resolve);
  });
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export interface RestartPolicy {
  /** The wait before the first restart; doubled after each crash that follows soon after. */
  initialDelayMs: number;
  maxDelayMs: number;
  /** A process up this long counts as healthy again: its next crash starts from `initialDelayMs`. */
  stableAfterMs: number;
  /** Crashes in a row, each sooner than `stableAfterMs` after its start, before giving up. */
  maxFastCrashes: number;
}

export const DEFAULT_RESTART_POLICY: RestartPolicy = {
  initialDelayMs: 500,
  maxDelayMs: 30_000,
  stableAfterMs: 30_000,
  maxFastCrashes: 5,
};

export interface SupervisedService extends Omit<ServiceProcessOptions, 'write'> {}

export interface Supervisor {
  /** The pid each service runs as now. */
  pids(): Record<string, number | undefined>;
  /** Resolves when a service kept crashing and the supervisor gave up on it (with why). */
  gaveUp: Promise<Error>;
  /** Stops every service, the last started first. */
  stop(): Promise<void>;
}

/**
 * Starts `groups` in order, the services of one group side by side, each ready before the next
 * group starts; then keeps them running: one that exits by itself is started again after a
 * back-off that doubles while it keeps crashing fast, until `maxFastCrashes`, when `gaveUp`
 * resolves (the caller stops everything).
 */
export async function superviseServices(options: {
  groups: SupervisedService[][];
  log: Logger;
  policy?: Partial<RestartPolicy>;
  write?: (line: string) => void;
}): Promise<Supervisor> {
  const policy = { ...DEFAULT_RESTART_POLICY, ...options.policy };
  const { log } = options;
  const running = new Map<string, ServiceProcess>();
  const started: SupervisedService[][] = [];
  const restarts = new Set<NodeJS.Timeout>();
  let stopping = false;
  let giveUp: (err: Error) => void = () => {};
  const gaveUp = new Promise<Error>((resolve) => {
    giveUp = resolve;
  });

  /**
   * `fastCrashes`: how many crashes in a row came before this run, each soon after its start. At
   * the first start (`fastCrashes` undefined) a service that is never ready is a mistake to fix,
   * not a crash to retry: `launch` rejects.
   */
  const launch = (service: SupervisedService, fastCrashes?: number): Promise<void> => {
    const since = Date.now();
    const instance = spawnServiceProcess({ ...service, write: options.write });
    let ready = false;
    running.set(service.name, instance);
    void instance.exited.then((how) => {
      if (stopping || (fastCrashes === undefined && !ready)) return;
      const crashes = Date.now() - since < policy.stableAfterMs ? (fastCrashes ?? 0) + 1 : 1;
      if (crashes >= policy.maxFastCrashes) {
        const err = new Error(
          `${service.name} crashed ${crashes} times in a row, each within ${policy.stableAfterMs} ms of its start (last: ${how}); giving up`,
        );
        log.fatal({ child: service.name, exit: how }, err.message);
        giveUp(err);
        return;
      }
      const delayMs = Math.min(policy.initialDelayMs * 2 ** (crashes - 1), policy.maxDelayMs);
      log.error({ child: service.name, exit: how, crashes, delayMs }, 'service exited; restarting it');
      const timer = setTimeout(() => {
        restarts.delete(timer);
        // A restart that dies before it is ready is one more crash, seen by the handler above.
        void launch(service, crashes).catch(() => {});
      }, delayMs);
      restarts.add(timer);
    });
    return instance.ready.then(() => {
      ready = true;
      log.info({ child: service.name, pid: instance.child.pid }, 'service ready');
    });
  };

  const stop = async () => {
    stopping = true;
    for (const timer of restarts) clearTimeout(timer);
    // The last group first (the gateway): nothing is left sending requests to those before it.
    for (const group of [...started].reverse()) {
      await Promise.all(
        group.map(async ({ name }) => {
          const how = await running.get(name)?.stop();
          log.info({ child: name, exit: how }, 'service stopped');
        }),
      );
    }
  };

  try {
    for (const group of options.groups) {
      started.push(group);
      await Promise.all(group.map((service) => launch(service)));
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    pids: () => Object.fromEntries(started.flat().map(({ name }) => [name, running.get(name)?.child.pid])),
    gaveUp,
    stop,
  };
}
