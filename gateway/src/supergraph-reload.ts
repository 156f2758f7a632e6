import { createHash } from 'node:crypto';
import { type FSWatcher, readFileSync, statSync, watch } from 'node:fs';
import path from 'node:path';
import type { SupergraphSdlHook } from '@apollo/gateway';
import type { Logger } from '@bilten/platform';
import { Counter, Gauge, type Registry } from 'prom-client';

/*
 * SUPERGRAPH_PATH: the supergraph the gateway serves, reloaded without a restart. It is a file, or
 * a directory holding `supergraph.graphql` (a mounted ConfigMap). A new version is loaded only once
 * every subgraph it routes to answers @apollo/gateway's health check; a broken or unhealthy one is
 * refused (logged, counted) and the one loaded before keeps serving.
 */

/** The file read in a SUPERGRAPH_PATH that is a directory. */
export const SUPERGRAPH_FILE = 'supergraph.graphql';

/**
 * `path` itself, or `<path>/<fileName>` when `path` is a directory. A ConfigMap volume is
 * `<dir>/<file> → ..data/<file>`, `..data → ..<timestamp>/`: reading through the symlinks always
 * sees one whole version.
 */
export function configFileIn(configPath: string, fileName: string): string {
  return statSync(configPath).isDirectory() ? path.join(configPath, fileName) : configPath;
}

/**
 * Calls `onChange` (at most once per `debounceMs` burst) whenever the file at `file` may have
 * changed. The directory is watched, not the file: editors and kubelet replace files by renaming
 * (a ConfigMap update swaps the `..data` symlink), which a watch on the old inode never reports.
 */
export function watchConfigFile(file: string, onChange: () => void, debounceMs = 100): { close(): void } {
  let timer: NodeJS.Timeout | undefined;
  const watcher: FSWatcher = watch(path.dirname(file), () => {
    clearTimeout(timer);
    timer = setTimeout(onChange, debounceMs);
  });
  return {
    close() {
      clearTimeout(timer);
      watcher.close();
    },
  };
}

const digest = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 16);

export interface SupergraphSource {
  /** The supergraph as read at start (the gateway's first load). */
  initialSdl: string;
  /** What ApolloGateway's `supergraphSdl` takes: loads `initialSdl`, then watches the file. */
  hook: SupergraphSdlHook;
  /** Reads the file and loads it if it changed and is healthy; resolves once decided. */
  reload(): Promise<'applied' | 'unchanged' | 'refused'>;
}

/**
 * The supergraph from `configPath` (a file or a ConfigMap directory), watched. `prepare` turns
 * the SDL read into the one loaded (server.ts drops unenforced security features).
 */
export function supergraphFromPath(
  configPath: string,
  options: {
    log: Logger;
    registry: Registry;
    prepare: (sdl: string) => string;
  },
): SupergraphSource {
  const { log } = options;
  const file = configFileIn(configPath, SUPERGRAPH_FILE);
  const initialSdl = readFileSync(file, 'utf8');
  const reloads = new Counter({
    name: 'gateway_supergraph_reloads_total',
    help: 'Changed supergraphs seen in SUPERGRAPH_PATH, by outcome: applied, or refused (invalid, or a subgraph failed its health check)',
    labelNames: ['outcome'],
    registers: [options.registry],
  });
  const loadedAt = new Gauge({
    name: 'gateway_supergraph_loaded_timestamp_seconds',
    help: 'When the supergraph now served was loaded',
    registers: [options.registry],
  });
  let current = digest(initialSdl);
  let hooks: { update(sdl: string): void; healthCheck(sdl: string): Promise<void> } | undefined;
  // One reload at a time: a burst of changes is checked in order, each against what is loaded.
  let queue: Promise<unknown> = Promise.resolve();

  async function check(): Promise<'applied' | 'unchanged' | 'refused'> {
    if (!hooks) return 'unchanged';
    let sdl: string;
    try {
      sdl = readFileSync(file, 'utf8');
    } catch (err) {
      // Mid-swap or removed: the next change event reads it again.
      log.warn({ err, file }, 'supergraph unreadable, keeping the one loaded');
      return 'unchanged';
    }
    const next = digest(sdl);
    if (next === current) return 'unchanged';
    const prepared = options.prepare(sdl);
    try {
      await hooks.healthCheck(prepared);
      hooks.update(prepared);
    } catch (err) {
      // Remembered, so the same refused version is not retried on every unrelated event.
      current = next;
      reloads.inc({ outcome: 'refused' });
      log.error({ err, file, supergraph: next }, 'new supergraph refused, keeping the one loaded');
      return 'refused';
    }
    current = next;
    reloads.inc({ outcome: 'applied' });
    loadedAt.setToCurrentTime();
    log.info({ file, supergraph: next }, 'supergraph reloaded');
    return 'applied';
  }

  const reload = () => {
    const result = queue.then(check);
    queue = result.catch(() => undefined);
    return result;
  };

  return {
    initialSdl,
    reload,
    hook: async ({ update, healthCheck }) => {
      hooks = { update, healthCheck };
      const watcher = watchConfigFile(file, () => void reload());
      loadedAt.setToCurrentTime();
      log.info({ file, supergraph: current }, 'watching the supergraph for changes');
      return {
        supergraphSdl: options.prepare(initialSdl),
        async cleanup() {
          watcher.close();
          hooks = undefined;
          await queue;
        },
      };
    },
  };
}
