import { ApolloServer, type ApolloServerPlugin } from '@apollo/server';
import {
  ApolloServerPluginInlineTraceDisabled,
  ApolloServerPluginLandingPageDisabled,
} from '@apollo/server/plugin/disabled';
import { buildSubgraphSchema } from '@apollo/subgraph';
import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper';
import { fastifyApolloDrainPlugin } from '@as-integrations/fastify';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { DocumentNode } from 'graphql';
import type { JWTVerifyGetKey } from 'jose';
import type { Registry } from 'prom-client';
import type { z } from 'zod';
import { createTokenVerifier, type TokenVerifier, type TokenVerifierOptions, type Viewer } from './auth.ts';
import { ConfigError, type PlatformEnv, parseEnv, pemFile, type RawEnv, tlsFiles } from './config.ts';
import { type ConsumerOptions, type EventConsumer, eventSubscription } from './consumers.ts';
import {
  applyMigrations,
  connectDatabase,
  type Database,
  type DatabaseOptions,
  deadlineFrom,
  REQUEST_TIMEOUT_HEADER,
  withDeadline,
} from './db.ts';
import { createErrorFormatter } from './errors.ts';
import type { EventTables } from './event-tables.ts';
import type { EventBus } from './events.ts';
import { createFieldRateLimits, type FieldRateLimitOptions } from './field-rate-limits.ts';
import { DateTimeScalar, loadTypeDefs, refuseUnsafeArguments } from './graphql.ts';
import { createHttpApp, type HttpsOptions, mountGraphQL } from './http.ts';
import type { Logger } from './logger.ts';
import { createServiceMetrics, graphqlMetricsPlugin } from './metrics.ts';
import { createOutbox, type Outbox, type RelayOptions, startOutboxRelay } from './outbox.ts';
import { type RedisTlsEnv, redisTlsFrom } from './redis.ts';
import { type SecurityEventSink, securityEventsPlugin } from './security-events.ts';

export const DEFAULT_AUTH = { issuer: 'bilten-identity', audience: 'bilten' };

/** What every resolver gets, before the subgraph adds its own (dataloaders). */
export interface BaseContext {
  db: Database;
  /** Who is calling, from the verified access token. */
  viewer: Viewer;
  /** For platform operations on the bus itself (dead letters); domain code writes to `outbox`. */
  bus: EventBus;
  /** Write events here, inside the transaction of the state change they announce. */
  outbox: Outbox;
  log: Logger;
  requestId: string;
  /** The client's address as the gateway saw it (see `clientAddress`). */
  clientIp: string;
  userAgent: string | null;
}

/** What a subgraph may add at start-up, beside its schema: services for its resolvers, HTTP routes, its own token keys. */
export interface SubgraphExtension<Services> {
  /** Handed to `createContext` on every request. */
  services: Services;
  /**
   * Extra HTTP routes (e.g. identity's `/.well-known/jwks.json`); `verifyToken` checks a caller's
   * access token as /graphql does (same keys, same revocations).
   */
  routes?(app: FastifyInstance, deps: { verifyToken: TokenVerifier }): void;
  /** Verify access tokens with these keys in-process, unless a JWKS is configured explicitly. */
  tokenKeys?: JWTVerifyGetKey;
  /**
   * Work that runs by itself (a periodic sweep), started with the event work, so only in processes
   * that run events (`processEvents`), on the events' own connections; stopped before they close.
   * It must be safe on several replicas at once (row locks, SKIP LOCKED).
   */
  background?(deps: { db: Database; outbox: Outbox; log: Logger; registry: Registry }): {
    stop(): Promise<void>;
  };
}

export interface SubgraphSetupDeps<Config extends PlatformEnv = PlatformEnv> {
  db: Database;
  log: Logger;
  /** This subgraph's validated variables (its `src/config.ts`). */
  config: Config;
  /** Issuer and audience of access tokens, as every subgraph verifies them. */
  auth: { issuer: string; audience: string };
}

/** What a subgraph's `src/events.ts` exports as `consumers`: its event consumers, built once at start. */
// biome-ignore lint/suspicious/noExplicitAny: services are whatever a subgraph's setup returns
export type ConsumerFactory<Config extends PlatformEnv = PlatformEnv, Services = any> = (deps: {
  log: Logger;
  config: Config;
  /** What its `setup` made (e.g. its person vault), shared with the resolvers. */
  services: Services;
  /** For consumers that take a saga's next step: what they publish commits with their effect. */
  outbox: Outbox;
}) => EventConsumer[];

export interface SubgraphDefinition<
  Context extends BaseContext,
  // biome-ignore lint/suspicious/noExplicitAny: services are whatever a subgraph's setup returns
  Services = any,
  // biome-ignore lint/suspicious/noExplicitAny: each subgraph's config has variables of its own
  Config extends PlatformEnv = any,
> {
  name: string;
  /** This subgraph's variables (`serviceEnv(...)` in its `src/config.ts`), read once at start. */
  config: z.ZodType<Config> & { shape: z.ZodRawShape };
  /** The port it listens on when it runs alone, from its config. */
  port(config: Config): number;
  typeDefs: DocumentNode;
  // biome-ignore lint/suspicious/noExplicitAny: codegen resolver maps are structurally typed per subgraph
  resolvers: any;
  migrations: URL;
  /** Outbox, inbox and positions in this subgraph's schema (`eventTables(schema)`). */
  eventTables: EventTables;
  /** Per-request context: the place for fresh dataloaders, so batching never leaks across requests. */
  createContext(base: BaseContext, services: Services): Context;
  /** From its `src/events.ts`: the one place a subgraph registers its consumers. */
  consumers?: ConsumerFactory<Config, Services>;
  /** Sensitive fields limited per client (field-rate-limits.ts), from this subgraph's variables. */
  fieldRateLimits?(config: Config): FieldRateLimitOptions;
  /**
   * Where its FORBIDDEN and RATE_LIMITED answers are reported (security-events.ts): its own
   * `securityEventsRecorded` contract, or (identity) a sink made from its services.
   */
  securityEvents?: SecurityEventSink | ((services: Services) => SecurityEventSink);
  /** Runs once after the database is connected, before the first request. */
  setup?(deps: SubgraphSetupDeps<Config>): Promise<SubgraphExtension<Services>>;
}

/**
 * Every subgraph keeps its SDL at `<directory>/schema.graphql` and its migrations in
 * `<directory>/drizzle`; the definition only names what differs.
 */
export function defineSubgraph<
  Context extends BaseContext,
  Config extends PlatformEnv,
  Services = undefined,
>({
  directory,
  ...rest
}: Omit<SubgraphDefinition<Context, Services, Config>, 'typeDefs' | 'migrations'> & {
  directory: URL;
}): SubgraphDefinition<Context, Services, Config> {
  return {
    ...rest,
    typeDefs: loadTypeDefs(new URL('schema.graphql', directory)),
    migrations: new URL('drizzle', directory),
  };
}

export interface SubgraphRuntime {
  databaseUrl: string;
  databasePoolSize?: number;
  bus: EventBus;
  log: Logger;
  host: string;
  port: number;
  /** How access tokens are checked; defaults to identity's JWKS on localhost:4001. */
  auth?: Partial<TokenVerifierOptions>;
  /** The variables to read (its own and the kit's); unset ones take their defaults. */
  env?: RawEnv;
  /**
   * Whether this process runs the outbox relay and the event consumers (default true). Off for
   * replicas that only serve requests, when a separate deployment does the event work.
   */
  processEvents?: boolean;
  relay?: Pick<RelayOptions, 'batchSize' | 'pollIntervalMs' | 'retentionMs' | 'inboxRetentionMs'>;
  consumers?: Pick<ConsumerOptions, 'maxDeliveries' | 'holdBackTimeoutMs' | 'loseAckAfterCommit'>;
  /** Gets every statement the request pool sends, with its parameters (benchmarks record what a request runs). */
  onStatement?: DatabaseOptions['onStatement'];
}

export interface RunningService {
  name: string;
  url: string;
  port: number;
  stop(): Promise<void>;
}

/** Migrates, connects, subscribes and listens: one subgraph, ready to serve. */
export async function startSubgraph<Context extends BaseContext, Services, Config extends PlatformEnv>(
  definition: SubgraphDefinition<Context, Services, Config>,
  runtime: SubgraphRuntime,
): Promise<RunningService> {
  const config = parseEnv(definition.config, runtime.env ?? {});
  const log = runtime.log.child({ service: definition.name });
  const sslRootCert =
    config.DATABASE_SSL_ROOT_CERT_FILE &&
    pemFile('DATABASE_SSL_ROOT_CERT_FILE', config.DATABASE_SSL_ROOT_CERT_FILE);
  const tls = subgraphTlsFrom(config);
  await applyMigrations(runtime.databaseUrl, definition.name, definition.migrations, sslRootCert);
  const metrics = createServiceMetrics(definition.name);
  const database = connectDatabase({
    url: runtime.databaseUrl,
    poolSize: runtime.databasePoolSize,
    applicationName: `bilten-${definition.name}`,
    sslRootCert,
    log,
    onQuery: () => metrics.dbQueries.inc({ pool: 'requests' }),
    onStatement: runtime.onStatement,
  });
  // The relay and consumers get their own connections, so event traffic never starves requests.
  const background = connectDatabase({
    url: runtime.databaseUrl,
    poolSize: runtime.databasePoolSize,
    applicationName: `bilten-${definition.name}-events`,
    sslRootCert,
    log,
    onQuery: () => metrics.dbQueries.inc({ pool: 'background' }),
  });
  const app = createHttpApp({
    log,
    metrics,
    tls,
    health: [
      { name: 'database', check: () => database.ping() },
      { name: 'bus', check: () => runtime.bus.health() },
    ],
  });

  const auth = { ...DEFAULT_AUTH, ...runtime.auth };
  const extension = (await definition.setup?.({
    db: database.db,
    log,
    config,
    auth: { issuer: auth.issuer, audience: auth.audience },
  })) ?? { services: undefined as Services };
  const verifyToken = createTokenVerifier({ keys: extension.tokenKeys, ...auth });
  extension.routes?.(app, { verifyToken });

  const outbox = createOutbox(definition.eventTables, definition.name);
  const processEvents = runtime.processEvents ?? true;
  const relay = processEvents
    ? await startOutboxRelay({
        ...runtime.relay,
        subgraph: definition.name,
        db: background.db,
        sql: background.sql,
        tables: definition.eventTables,
        bus: runtime.bus,
        log,
        metrics,
      })
    : undefined;

  const fieldLimits =
    definition.fieldRateLimits &&
    createFieldRateLimits({
      // REDIS_TLS_* of the kit's variables, for the service's rediss:// REDIS_URL.
      redisTls: redisTlsFrom(config as RedisTlsEnv),
      ...definition.fieldRateLimits(config),
      service: definition.name,
      log,
    });
  const apollo = new ApolloServer<Context>({
    schema: buildSubgraphSchema({
      typeDefs: definition.typeDefs,
      resolvers: {
        DateTime: DateTimeScalar,
        ...(fieldLimits ? fieldLimits.wrap(definition.resolvers) : definition.resolvers),
      } as GraphQLResolverMap<unknown>,
    }),
    formatError: createErrorFormatter(log),
    includeStacktraceInErrorResponses: false,
    stopOnTerminationSignals: false,
    plugins: [
      fastifyApolloDrainPlugin(app),
      ApolloServerPluginLandingPageDisabled(),
      // Inline traces feed Apollo Studio, which Bilten does not use; they cost time on every request.
      ApolloServerPluginInlineTraceDisabled(),
      graphqlMetricsPlugin(metrics),
      operationLogPlugin(log),
      refuseUnsafeArguments(),
      ...securityEventsPluginOf(definition.securityEvents, extension.services),
    ],
  });
  await apollo.start();
  mountGraphQL(app, apollo, async (request) =>
    definition.createContext(
      {
        // Past the gateway's deadline its transactions roll back: the client saw a timeout.
        db: withDeadline(database.db, deadlineFrom(request.headers[REQUEST_TIMEOUT_HEADER])),
        viewer: await verifyToken(request.headers.authorization),
        bus: runtime.bus,
        outbox,
        log,
        requestId: request.id,
        clientIp: clientAddress(request),
        userAgent: request.headers['user-agent']?.slice(0, 512) || null,
      },
      extension.services,
    ),
  );

  const subscriptions: Array<{ durableName: string; stop(): Promise<void> }> = [];
  const consumers = processEvents
    ? (definition.consumers?.({ log, config, outbox, services: extension.services }) ?? [])
    : [];
  for (const consumer of consumers) {
    const subscription = eventSubscription(consumer, {
      ...runtime.consumers,
      service: definition.name,
      db: background.db,
      tables: definition.eventTables,
      log,
      metrics,
    });
    subscriptions.push({
      durableName: subscription.durableName,
      ...(await runtime.bus.subscribe(subscription)),
    });
  }
  const backgroundWork = processEvents
    ? extension.background?.({ db: background.db, outbox, log, registry: metrics.registry })
    : undefined;
  const ours = new Set(subscriptions.map((s) => s.durableName));
  metrics.events.sources.consumers = async () =>
    (await runtime.bus.consumerStats().catch(() => [])).filter((stats) => ours.has(stats.durableName));

  await app.listen({ host: runtime.host, port: runtime.port });
  const port = (app.server.address() as { port: number }).port;
  const url = `${tls ? 'https' : 'http'}://${runtime.host === '0.0.0.0' ? '127.0.0.1' : runtime.host}:${port}/graphql`;
  log.info({ url }, 'subgraph listening');

  return {
    name: definition.name,
    url,
    port,
    async stop() {
      await app.close();
      await apollo.stop();
      for (const subscription of subscriptions) await subscription.stop();
      await backgroundWork?.stop();
      await relay?.stop();
      await background.close();
      await database.close();
      await fieldLimits?.close();
    },
  };
}

/**
 * Subgraphs are reachable only from the gateway (never exposed), so they trust the last
 * `x-forwarded-for` hop: the client address the gateway put there. Earlier hops are anyone's word.
 */
export function clientAddress(request: FastifyRequest): string {
  const forwarded = request.headers['x-forwarded-for'];
  const last = (Array.isArray(forwarded) ? forwarded.join(',') : forwarded)?.split(',').at(-1)?.trim();
  return last ? last.slice(0, 64) : request.ip;
}

function securityEventsPluginOf<Services>(
  sink: SecurityEventSink | ((services: Services) => SecurityEventSink) | undefined,
  services: Services,
): ApolloServerPlugin<BaseContext>[] {
  if (!sink) return [];
  return [securityEventsPlugin(typeof sink === 'function' ? sink(services) : sink)];
}

/** One line per operation, carrying the correlation id through the logger's mixin. */
export function operationLogPlugin(log: Logger): ApolloServerPlugin {
  return {
    async requestDidStart() {
      const started = performance.now();
      return {
        async willSendResponse({ operationName, operation, errors }) {
          log.info(
            {
              operationName: operationName ?? null,
              operationType: operation?.operation,
              durationMs: Math.round((performance.now() - started) * 10) / 10,
              errors: errors?.length ?? 0,
            },
            'graphql operation',
          );
        },
      };
    },
  };
}

export type SubgraphContext<Loaders> = BaseContext & { loaders: Loaders };

/** The usual `createContext`: the base context plus fresh dataloaders for this request. */
export function withLoaders<Loaders>(createLoaders: (db: Database) => Loaders) {
  return (base: BaseContext): SubgraphContext<Loaders> => ({ ...base, loaders: createLoaders(base.db) });
}

/**
 * SUBGRAPH_TLS_CERT_FILE and _KEY_FILE (both or neither): serve HTTPS; with
 * SUBGRAPH_TLS_CLIENT_CA_FILE, only to clients with a certificate from that CA (the gateway's).
 */
export function subgraphTlsFrom(config: PlatformEnv): HttpsOptions | undefined {
  const pair = tlsFiles(config, 'SUBGRAPH_TLS_CERT_FILE', 'SUBGRAPH_TLS_KEY_FILE');
  if (!pair) {
    if (config.SUBGRAPH_TLS_CLIENT_CA_FILE) {
      throw new ConfigError([
        'SUBGRAPH_TLS_CLIENT_CA_FILE: needs SUBGRAPH_TLS_CERT_FILE and SUBGRAPH_TLS_KEY_FILE',
      ]);
    }
    return undefined;
  }
  const clientCaFile = config.SUBGRAPH_TLS_CLIENT_CA_FILE;
  return { ...pair, clientCa: clientCaFile && pemFile('SUBGRAPH_TLS_CLIENT_CA_FILE', clientCaFile) };
}
