import type { z } from 'zod';
import { createInProcessBus } from './bus-in-process.ts';
import { connectJetStreamBus, natsTlsFrom } from './bus-jetstream.ts';
import { ConfigError, type PlatformEnv, parseEnv } from './config.ts';
import type { EventBus } from './events.ts';
import { createLogger, type Logger } from './logger.ts';
import { followRevocations } from './revocations.ts';
import { type BaseContext, type SubgraphDefinition, startSubgraph } from './subgraph.ts';
import { startTracing } from './tracing.ts';

export interface Infrastructure {
  databaseUrl: string;
  /** Where the embedded PostgreSQL keeps its data; unset with DATABASE_URL. */
  embeddedPostgresDir?: string;
  bus: EventBus;
  close(): Promise<void>;
}

/** DATABASE_URL, or an embedded PostgreSQL started here (`stop` stops it). */
export async function openDatabase(
  env: PlatformEnv,
  log: Logger,
): Promise<{ url: string; embeddedPostgresDir?: string; stop(): Promise<void> }> {
  if (env.DATABASE_URL) return { url: env.DATABASE_URL, stop: async () => {} };
  // Loaded only when needed: it brings the PostgreSQL binaries and rewires signal hooks.
  const embedded = await (await import('./embedded-postgres.ts')).startEmbeddedPostgres({
    dir: env.EMBEDDED_POSTGRES_DIR,
    port: env.EMBEDDED_POSTGRES_PORT,
    log,
  });
  return { url: embedded.url, embeddedPostgresDir: embedded.dir, stop: embedded.stop };
}

/** DATABASE_URL or an embedded PostgreSQL; NATS_URL or the in-process bus. */
export async function openInfrastructure(
  env: PlatformEnv,
  log: Logger,
  name: string,
): Promise<Infrastructure> {
  const database = await openDatabase(env, log);
  try {
    const bus = env.NATS_URL
      ? await connectJetStreamBus({
          url: env.NATS_URL,
          stream: env.NATS_STREAM,
          subjectPrefix: env.NATS_SUBJECT_PREFIX,
          replicas: env.NATS_STREAM_REPLICAS,
          name: `bilten-${name}`,
          log,
          tls: natsTlsFrom(env),
        })
      : createInProcessBus(log);
    log.info(
      { database: database.embeddedPostgresDir ? 'embedded' : 'DATABASE_URL', bus: bus.kind },
      'infrastructure ready',
    );
    return {
      databaseUrl: database.url,
      embeddedPostgresDir: database.embeddedPostgresDir,
      bus,
      // The database last: everything else may still be using it.
      async close() {
        await bus.close();
        await database.stop();
      },
    };
  } catch (err) {
    await database.stop();
    throw err;
  }
}

export interface Stoppable {
  stop(): Promise<void>;
  /** Re-reads what may change at run time; when present, SIGHUP calls it instead of stopping. */
  reload?(): Promise<void>;
}

/**
 * The process lifecycle shared by every entry point: validated config, one logger, and on
 * SIGINT/SIGTERM (or SIGHUP, a closed terminal) an orderly stop that exits 0 (or 1 if it overran
 * SHUTDOWN_TIMEOUT_MS).
 */
export async function runMain<Config extends PlatformEnv>(
  name: string,
  /** The process's variables: `serviceEnv(...)` of the service, or of all of them for the stack. */
  schema: z.ZodType<Config>,
  start: (env: Config, log: Logger) => Promise<Stoppable>,
  required: Array<keyof Config> = [],
): Promise<void> {
  let env: Config;
  try {
    env = parseEnv(schema, process.env);
    const missing = required.filter((key) => env[key] === undefined);
    if (missing.length)
      throw new ConfigError(missing.map((key) => `${String(key)}: required when this service runs alone`));
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`${name}: ${err.message}\n`);
    process.exit(1);
  }
  const log = createLogger({ service: name, level: env.LOG_LEVEL });
  // Before anything serves, so every request is traced; nothing is loaded without an endpoint.
  const tracing = await startTracing(env, name, log);
  let running: Stoppable | undefined;
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    const overrun = setTimeout(() => {
      log.error({ timeoutMs: env.SHUTDOWN_TIMEOUT_MS }, 'shutdown overran, exiting');
      process.exit(1);
    }, env.SHUTDOWN_TIMEOUT_MS);
    overrun.unref();
    try {
      await running?.stop();
      await tracing.stop();
      log.info('stopped');
      process.exit(0);
    } catch (err) {
      log.error({ err }, 'shutdown failed');
      process.exit(1);
    }
  };
  // Kept for the whole shutdown: a second Ctrl-C, or the one tsx relays again when the first was
  // not acknowledged within 30 ms, must not end the process halfway (SHUTDOWN_TIMEOUT_MS bounds it).
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const)
    process.on(signal, () => {
      if (signal === 'SIGHUP' && running?.reload && !stopping) {
        log.info({ signal }, 'reloading');
        running.reload().catch((err) => log.error({ err }, 'reload failed'));
        return;
      }
      void shutdown(signal);
    });
  try {
    running = await start(env, log);
  } catch (err) {
    log.fatal({ err }, 'start-up failed');
    await running?.stop().catch(() => {});
    process.exit(1);
  }
}

/** `src/index.ts` of a subgraph: this one subgraph, alone in its process. */
export function runSubgraph<Context extends BaseContext, Services, Config extends PlatformEnv>(
  definition: SubgraphDefinition<Context, Services, Config>,
): Promise<void> {
  return runMain(
    definition.name,
    definition.config,
    async (env, log) => {
      const infrastructure = await openInfrastructure(env, log, definition.name);
      // Revocations are followed on the bus, so they end when it closes.
      const service = await followRevocations(infrastructure.bus, log)
        .then((revocations) =>
          startSubgraph(definition, {
            databaseUrl: infrastructure.databaseUrl,
            databasePoolSize: env.DATABASE_POOL_SIZE,
            bus: infrastructure.bus,
            log,
            host: env.HOST,
            port: definition.port(env),
            auth: { ...authFromEnv(env), revocations },
            env: process.env,
            processEvents: env.EVENT_PROCESSING === 'on',
          }),
        )
        .catch(async (err) => {
          await infrastructure.close();
          throw err;
        });
      return {
        async stop() {
          await service.stop();
          await infrastructure.close();
        },
      };
    },
    ['DATABASE_URL'],
  );
}

export function authFromEnv(env: PlatformEnv) {
  return { jwksUrl: env.AUTH_JWKS_URL, issuer: env.AUTH_ISSUER, audience: env.AUTH_AUDIENCE };
}
