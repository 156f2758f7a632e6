import { ApolloGateway, RemoteGraphQLDataSource } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { ApolloServerPluginLandingPageLocalDefault } from '@apollo/server/plugin/landingPage/default';
import type { Fetcher } from '@apollo/utils.fetcher';
import { fastifyApolloDrainPlugin } from '@as-integrations/fastify';
import {
  ConfigError,
  cardNumberRefusal,
  createErrorFormatter,
  createHttpApp,
  createServiceMetrics,
  currentRequest,
  type EventBus,
  graphqlMetricsPlugin,
  type HealthCheck,
  type Logger,
  mountGraphQL,
  operationLogPlugin,
  pemFile,
  REQUEST_TIMEOUT_HEADER,
  type RunningService,
  redisTlsFrom,
  startOperationsServer,
  tlsFiles,
  tracingEnabled,
} from '@bilten/platform';
import { ApolloArmor } from '@escape.tech/graphql-armor';
import { GraphQLError, type GraphQLSchema } from 'graphql';
import { Agent } from 'undici';
import { createTokenExchange } from './access-tokens.ts';
import { registerAccountPages } from './account-pages.ts';
import { registerAcmeChallenges } from './acme-challenges.ts';
import { clarifyTokenLimit, rejectUnplannableOperations, withoutSuggestions } from './bad-operations.ts';
import { registerBrandAssets } from './brand-assets.ts';
import { registerChangelog } from './changelog.ts';
import { type GatewayConfig, type SubgraphDispatcher, type SubgraphName, subgraphRoute } from './config.ts';
import { createHostMap, registerCustomDomains } from './custom-domains.ts';
import { deprecatedFieldHeaders } from './deprecations.ts';
import { registerDocsPages } from './docs-pages.ts';
import { registerEventPages } from './event-pages.ts';
import { startHttpsRedirect } from './https-redirect.ts';
import { createIdempotency, type IdempotencyOptions } from './idempotency.ts';
import { registerMessagingRoutes } from './messaging-routes.ts';
import { queryCostLimit } from './query-cost.ts';
import {
  clientOf,
  type RateLimitOptions,
  rateLimitPoliciesFrom,
  ratePlansFrom,
  registerRateLimits,
} from './rate-limits.ts';
import { registerRest } from './rest.ts';
import { type GatewayFeatures, readOnlySwitch, watchSettings } from './settings.ts';
import { subgraphErrorFromResponse } from './subgraph-errors.ts';
import { registerSubgraphFiles } from './subgraph-files.ts';
import { createSubscriptionMetrics } from './subscription-metrics.ts';
import { attachSubscriptionServer, type SubscriptionLimits } from './subscriptions.ts';
import { supergraphFromPath } from './supergraph-reload.ts';
import { answerBodiesRefusedUnread } from './unread-bodies.ts';
import { registerUnsubscribe } from './unsubscribe.ts';
import { createUsageMeter } from './usage-meter.ts';
import { registerProviderWebhooks } from './webhooks.ts';

export interface GatewayLimits {
  /** Deepest selection nesting accepted. */
  maxDepth: number;
  maxAliases: number;
  /** Values an answer may hold, every list counted at its size (query-cost.ts). */
  maxCost: number;
  maxTokens: number;
  bodyLimitBytes: number;
  /** Largest brand-asset file accepted by `POST /assets` (multipart overhead allowed on top); default 10 MiB. */
  assetUploadBytes?: number;
  subgraphTimeoutMs: number;
  /** How long the rest of a body refused unread (413, 415) may arrive after the answer; default 10 s. */
  unreadBodyGraceMs?: number;
}

export interface GatewayOptions {
  supergraphSdl: string;
  /** SUPERGRAPH_PATH, holding `supergraphSdl`: watched, a changed supergraph is loaded once healthy (supergraph-reload.ts). */
  supergraphPath?: string;
  /** GATEWAY_SETTINGS_PATH: log level and rate limits changed at run time (settings.ts). */
  settingsPath?: string;
  /** Where each subgraph really is, when not at the routing URL in the supergraph. */
  subgraphUrls: Partial<Record<SubgraphName, string>>;
  limits: GatewayLimits;
  log: Logger;
  host: string;
  port: number;
  /** Hide "did you mean" suggestions, which map the schema for an attacker. */
  blockFieldSuggestions: boolean;
  /** Serve Apollo Sandbox on GET /graphql and answer the introspection it needs (default: neither). */
  sandbox?: boolean;
  /** Where `/metrics` (with `/livez`, `/readyz`) is served, apart from the public port; unset: nowhere. */
  operations?: { host: string; port: number };
  /**
   * The bus subscriptions listen on (graphql-ws on /graphql, subscriptions.ts); unset: no
   * websocket is served (a gateway alone without NATS_URL hears no events).
   */
  bus?: EventBus;
  subscriptionLimits?: Partial<SubscriptionLimits>;
  /** API-key usage metering (usage-meter.ts), on the bus: how often counts are published; default 10 s. */
  usage?: { flushIntervalMs?: number };
  /** Proxies in front of the gateway allowed to name the client address; default: none, the TCP peer is the client. */
  trustProxy?: boolean | string[] | ((address: string, hop: number) => boolean);
  /** Token buckets charged by each /graphql request (rate-limits.ts); unset: no limit, no RateLimit headers. */
  rateLimits?: RateLimitOptions;
  /** Where REST POSTs' Idempotency-Key answers are kept (idempotency.ts); default: this process's memory. */
  idempotency?: IdempotencyOptions;
  /**
   * Custom domains (custom-domains.ts): the platform's own hosts (GATEWAY_PLATFORM_HOSTS, never
   * looked up) and, for tests, the host map's cache times; default: no extra platform hosts.
   */
  customDomains?: { platformHosts?: string[]; positiveTtlMs?: number; negativeTtlMs?: number };
  /**
   * Serve HTTPS with this certificate and key (PEM); with `redirectPort`, also plain HTTP there,
   * answering 308 to the https URL except ACME HTTP-01 challenges, which must stay reachable over http.
   */
  tls?: { cert: string; key: string; redirectPort?: number };
  /**
   * TLS to the subgraphs (PEM): the CA their certificates are checked against (default: the
   * system's), and the certificate and key presented to subgraphs that require one (mutual TLS).
   */
  subgraphTls?: { ca?: string; cert?: string; key?: string };
}

export interface RunningGateway extends RunningService {
  /** `http://host:port` of the operations listener, when there is one. */
  operationsUrl?: string;
  /** `http://host:port` of the listener redirecting to https, when there is one. */
  redirectUrl?: string;
  /** Reads SUPERGRAPH_PATH and GATEWAY_SETTINGS_PATH again (SIGHUP). */
  reload(): Promise<void>;
  /** Publishes the API-key usage counted since the last flush now (usage-meter.ts); nothing without a bus. */
  flushUsage(): Promise<void>;
}

export interface GatewayContext {
  requestId: string;
  traceparent: string;
  authorization?: string;
  /** The client's address: the TCP peer, or what trusted proxies say (GATEWAY_TRUST_PROXY). */
  clientIp: string;
  userAgent?: string;
}

/**
 * The supergraph marks `@authenticated` as a SECURITY feature, which @apollo/gateway refuses to
 * load because it cannot enforce it (only the Router does). Our subgraphs enforce access in their
 * resolvers, so the gateway loads the link as plain metadata; the directive stays in the schema.
 */
export function withoutUnenforcedSecurityFeatures(supergraphSdl: string): string {
  return supergraphSdl.replace(
    /(@link\(url: "https:\/\/specs\.apollo\.dev\/(?:authenticated|requiresScopes)\/v[\d.]+"), for: SECURITY\)/g,
    '$1)',
  );
}

/**
 * Node's fetch (keep-alive by default) with a hard deadline, so a subgraph that hangs costs one
 * timeout and yields an error for its fields instead of a hung request.
 */
function subgraphFetcher(name: string, timeoutMs: number, dispatcher?: SubgraphDispatcher): Fetcher {
  return (async (url: string, init: RequestInit) => {
    try {
      return await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs), dispatcher });
    } catch (err) {
      const reason =
        (err as Error).name === 'TimeoutError' ? `did not answer within ${timeoutMs} ms` : 'is unavailable';
      throw new GraphQLError(`subgraph ${name} ${reason}`, {
        extensions: { code: 'INTERNAL', serviceName: name },
      });
    }
  }) as unknown as Fetcher;
}

export async function startGateway(options: GatewayOptions): Promise<RunningGateway> {
  const { limits, log } = options;
  // Unless told otherwise, @apollo/gateway reports anonymous usage metrics to Apollo every hour,
  // labelled by probing the cloud metadata servers (GCP, AWS, Azure, Alibaba) at every start: a
  // MetadataLookupWarning on stderr wherever one answers oddly (a 403 from a proxy). This backend
  // reports to no one. The constructor reads APOLLO_TELEMETRY_DISABLED, the library's only switch;
  // an operator's own value wins.
  process.env.APOLLO_TELEMETRY_DISABLED ??= 'true';
  // Every request to a subgraph (GraphQL and the routes passed through) shares this pool, so the
  // subgraph CA and the client certificate apply to all of them.
  const dispatcher = options.subgraphTls && subgraphDispatcher(options.subgraphTls);
  const metrics = createServiceMetrics('gateway', { events: false });
  const supergraph = options.supergraphPath
    ? supergraphFromPath(options.supergraphPath, {
        log,
        registry: metrics.registry,
        prepare: withoutUnenforcedSecurityFeatures,
      })
    : undefined;
  const gateway = new ApolloGateway({
    supergraphSdl: supergraph ? supergraph.hook : withoutUnenforcedSecurityFeatures(options.supergraphSdl),
    logger: log,
    buildService: ({ name, url }) =>
      new RemoteGraphQLDataSource<GatewayContext>({
        url: options.subgraphUrls[name as SubgraphName] ?? url,
        fetcher: subgraphFetcher(name, limits.subgraphTimeoutMs, dispatcher),
        errorFromResponse: subgraphErrorFromResponse(name, log),
        willSendRequest({ request, context }) {
          if (!request.http) return;
          request.http.headers.set('x-request-id', context.requestId);
          // With tracing on, the fetch's own client span puts its traceparent on the request.
          if (!tracingEnabled()) request.http.headers.set('traceparent', context.traceparent);
          if (context.authorization) request.http.headers.set('authorization', context.authorization);
          // Replaced, not appended: a client's own x-forwarded-for is its word, not a fact. Subgraphs
          // trust the last hop, i.e. the client as the gateway resolved it.
          request.http.headers.set('x-forwarded-for', context.clientIp);
          request.http.headers.set('x-real-ip', context.clientIp);
          if (context.userAgent) request.http.headers.set('user-agent', context.userAgent);
          // The subgraph rolls back what would commit after this, 10% before the gateway stops
          // waiting (time for its answer to come back), so a timed-out mutation saved nothing.
          request.http.headers.set(
            REQUEST_TIMEOUT_HEADER,
            String(Math.floor(limits.subgraphTimeoutMs * 0.9)),
          );
        },
      }),
  });

  // The graphql-ws schema: the API schema with its Subscription type, as of the last load.
  let apiSchema: GraphQLSchema | undefined;
  gateway.onSchemaLoadOrUpdate(({ apiSchema: schema }) => {
    apiSchema = schema;
  });

  let loaded = false;
  const health: HealthCheck[] = [
    {
      name: 'supergraph',
      check: async () => {
        if (!loaded) throw new Error('supergraph not loaded');
      },
    },
  ];
  // Probes and load balancers reach /livez and /readyz here; /metrics only on the operations port.
  const app = createHttpApp({
    log,
    metrics,
    bodyLimit: limits.bodyLimitBytes,
    trustProxy: options.trustProxy,
    health,
    serveMetrics: false,
    tls: options.tls,
  });
  answerBodiesRefusedUnread(app, limits.unreadBodyGraceMs ?? 10_000);

  // Organizers' verified hostnames: Host → organization, before any route (custom-domains.ts).
  const platformHosts = options.customDomains?.platformHosts ?? [];
  const hostMap = createHostMap({
    ...options.customDomains,
    lookupBaseUrl: subgraphRoute(options, 'branding', '/internal/domains/'),
    platformHosts,
    bus: options.bus,
    log,
    timeoutMs: limits.subgraphTimeoutMs,
    dispatcher,
  });
  await hostMap.ready();
  registerCustomDomains(app, hostMap, platformHosts);

  // Every limit answers 400: armor's validation rules report to the validation context. Its
  // max-tokens plugin for Apollo parses again in `parsingDidStart`, where a throw is an unexpected
  // error (HTTP 500), so graphql-js's parser counts the tokens instead (`parseOptions` below). Its
  // cost rule sees neither list sizes nor variables: queryCostLimit counts the cost instead.
  const armor = new ApolloArmor({
    maxDepth: { n: limits.maxDepth },
    maxAliases: { n: limits.maxAliases },
    costLimit: { enabled: false },
    maxTokens: { enabled: false },
    maxDirectives: { n: 50 },
    blockFieldSuggestion: { enabled: options.blockFieldSuggestions },
  }).protect();

  // API keys and user tokens become identity-signed tokens with current claims (access-tokens.ts).
  const tokens = createTokenExchange({
    apiKeysUrl: subgraphRoute(options, 'identity', '/internal/api-keys/exchange'),
    currentClaimsUrl: subgraphRoute(options, 'identity', '/internal/access/current'),
    timeoutMs: limits.subgraphTimeoutMs,
    dispatcher,
    log,
  });
  // Organizations' API-key calls and GraphQL cost, published for identity's usage rollups (issue 19).
  const usageMeter =
    options.bus &&
    createUsageMeter({ bus: options.bus, log, credentialFor: tokens.credentialFor, ...options.usage });
  const formatError = createErrorFormatter(log);
  // Runtime switches (GATEWAY_SETTINGS_PATH); off until the settings file turns them on.
  const features: GatewayFeatures = { readOnly: false };
  const hideSuggestions = options.blockFieldSuggestions ? withoutSuggestions : <T>(formatted: T) => formatted;
  const apollo = new ApolloServer<GatewayContext>({
    gateway,
    ...armor,
    logger: log,
    parseOptions: { maxLexicalTokens: limits.maxTokens },
    formatError: (formatted, error) => hideSuggestions(formatError(clarifyTokenLimit(formatted), error)),
    includeStacktraceInErrorResponses: false,
    // Sandbox needs it; decided here, not by Apollo's default, which reads process.env.NODE_ENV.
    introspection: options.sandbox ?? false,
    stopOnTerminationSignals: false,
    plugins: [
      ...armor.plugins,
      rejectUnplannableOperations(),
      readOnlySwitch(features),
      // Card numbers never reach a subgraph, a cache or a log line (docs/security.md).
      cardNumberRefusal(),
      queryCostLimit(options.supergraphSdl, limits.maxCost),
      fastifyApolloDrainPlugin(app),
      options.sandbox
        ? ApolloServerPluginLandingPageLocalDefault({ embed: true, includeCookies: false })
        : ApolloServerPluginLandingPageDisabled(),
      graphqlMetricsPlugin(metrics),
      operationLogPlugin(log),
      tokens.forgetAfterMutations,
      ...(usageMeter ? [usageMeter.plugin] : []),
      // Operations that use fields on their way out get Deprecation and Sunset headers.
      deprecatedFieldHeaders(),
    ],
  });
  await apollo.start();
  loaded = true;
  // Before Apollo: a refused request runs nothing and is answered 429 with a problem body.
  const rateLimits =
    options.rateLimits &&
    registerRateLimits(
      app,
      { ...options.rateLimits, maxTokens: limits.maxTokens },
      {
        supergraphSdl: options.supergraphSdl,
        schema: () => apiSchema,
        credentialFor: tokens.credentialFor,
        log,
        registry: metrics.registry,
      },
    );
  const settings = options.settingsPath
    ? watchSettings(options.settingsPath, {
        log,
        registry: metrics.registry,
        features,
        rateLimiter: rateLimits,
        rateLimits: options.rateLimits,
      })
    : undefined;
  mountGraphQL(app, apollo, async (request) => ({
    requestId: request.id,
    traceparent: currentRequest()!.traceparent,
    authorization: await tokens.authorizationFor(request.headers.authorization),
    clientIp: request.ip,
    userAgent: request.headers['user-agent'],
  }));

  // The REST facade (/api/v1): each route one GraphQL operation, run through /graphql above.
  const idempotency = createIdempotency(options.idempotency ?? {}, {
    clientOf: async (request) => (await clientOf(request, tokens))[1],
    log,
  });
  registerRest(app, {
    schema: () => apiSchema,
    idempotency,
    apiVersionOf: async (authorization) => (await tokens.credentialFor(authorization)).apiKey?.apiVersion,
  });
  // What changed in each dated version of the REST facade (gateway/src/versions/).
  registerChangelog(app);
  // Its reference (/api/docs) and, where introspection is on, the offline GraphQL explorer (/graphiql).
  registerDocsPages(app, { graphiql: options.sandbox ?? false });

  // The pages account mails link to when there is no web app (verify email, reset password, invitation).
  registerAccountPages(app);
  // The public event page follower mails, reminders and announcements link to without a web app.
  registerEventPages(app);
  // Ticket and receipt PDFs, which their subgraphs authorize (the caller's token or the mail's link).
  const fileProxy = {
    ...options,
    authorizationFor: tokens.authorizationFor,
    timeoutMs: limits.subgraphTimeoutMs,
    dispatcher,
  };
  registerSubgraphFiles(app, fileProxy, { prefix: 'tickets', subgraph: 'orders', what: 'ticket' });
  registerSubgraphFiles(app, fileProxy, { prefix: 'receipts', subgraph: 'billing', what: 'receipt' });
  // A data export's archive, once, for its link's token (identity's domain/privacy-requests.ts).
  registerSubgraphFiles(app, fileProxy, {
    prefix: 'privacy/exports',
    subgraph: 'identity',
    what: 'data export',
  });
  // Brand images: `GET /assets/{sha256}` (public) and `POST /assets` (uploads, streamed to branding).
  registerBrandAssets(app, { ...fileProxy, maxFileBytes: limits.assetUploadBytes });
  // Payment providers' webhooks, passed to billing unparsed: their signatures cover the exact bytes.
  registerProviderWebhooks(app, { ...options, timeoutMs: limits.subgraphTimeoutMs, dispatcher });
  // One-click opt-out links of mails, passed to messaging, which checks their signed tokens.
  registerUnsubscribe(app, { ...options, timeoutMs: limits.subgraphTimeoutMs, dispatcher });
  // Open pixel, tracked links and delivery providers' webhooks, passed to messaging, which checks their signatures.
  registerMessagingRoutes(app, { ...options, timeoutMs: limits.subgraphTimeoutMs, dispatcher });
  // HTTP-01 answers of the certificates branding requests, on every host (custom domains point here).
  registerAcmeChallenges(app, { ...options, timeoutMs: limits.subgraphTimeoutMs, dispatcher });

  // Identity's public signing keys at the public door, for clients and services outside the cluster.
  const jwksUrl = subgraphRoute(options, 'identity', '/.well-known/jwks.json');
  app.get('/.well-known/jwks.json', async (_request, reply) => {
    try {
      const upstream = await fetch(jwksUrl, {
        signal: AbortSignal.timeout(limits.subgraphTimeoutMs),
        dispatcher,
      });
      if (!upstream.ok) throw new Error(`identity answered ${upstream.status}`);
      reply.header('content-type', 'application/json');
      reply.header('cache-control', upstream.headers.get('cache-control') ?? 'public, max-age=300');
      return reply.send(await upstream.text());
    } catch (err) {
      log.warn({ err, jwksUrl }, 'JWKS unavailable');
      return reply
        .status(502)
        .send({ errors: [{ message: 'signing keys are unavailable', extensions: { code: 'INTERNAL' } }] });
    }
  });

  const subscriptions =
    options.bus &&
    attachSubscriptionServer({
      server: app.server,
      bus: options.bus,
      log,
      apollo,
      schema: () => apiSchema,
      authorizationFor: tokens.authorizationFor,
      maxTokens: limits.maxTokens,
      limits: {
        maxPerConnection: 20,
        maxBufferedBytes: 1_048_576,
        maxQueuedMessages: 100,
        ...options.subscriptionLimits,
      },
      metrics: createSubscriptionMetrics(metrics.registry),
      trustProxy: options.trustProxy,
    });

  await app.listen({ host: options.host, port: options.port });
  const port = (app.server.address() as { port: number }).port;
  const url = `${options.tls ? 'https' : 'http'}://${options.host === '0.0.0.0' ? 'localhost' : options.host}:${port}/graphql`;
  const closeOnError = async (err: unknown) => {
    await app.close();
    await apollo.stop();
    await usageMeter?.stop();
    await dispatcher?.close();
    throw err;
  };
  const operations =
    options.operations &&
    (await startOperationsServer({ log, metrics, health, ...options.operations }).catch(closeOnError));
  const redirect =
    options.tls?.redirectPort !== undefined
      ? await startHttpsRedirect({
          host: options.host,
          port: options.tls.redirectPort,
          httpsPort: port,
          log,
          served: '/.well-known/acme-challenge',
          http: (plain) =>
            registerAcmeChallenges(plain, { ...options, timeoutMs: limits.subgraphTimeoutMs, dispatcher }),
        }).catch(async (err) => {
          await operations?.stop();
          return closeOnError(err);
        })
      : undefined;
  log.info({ url, operationsUrl: operations?.url, redirectUrl: redirect?.url }, 'gateway listening');
  return {
    name: 'gateway',
    url,
    port,
    operationsUrl: operations?.url,
    redirectUrl: redirect?.url,
    flushUsage: async () => usageMeter?.flush(),
    async reload() {
      settings?.reload();
      await supergraph?.reload();
    },
    async stop() {
      settings?.close();
      await redirect?.stop();
      await subscriptions?.close();
      await hostMap.close();
      await app.close();
      await rateLimits?.close();
      await idempotency.close();
      await operations?.stop();
      await apollo.stop();
      // After the last request drained, before the bus closes: what was counted goes out.
      await usageMeter?.stop();
      await dispatcher?.close();
    },
  };
}

/** The pool every subgraph request goes through, verifying with `ca` and presenting `cert` when asked. */
function subgraphDispatcher(tls: NonNullable<GatewayOptions['subgraphTls']>) {
  // undici's Agent is what Node's fetch runs on; its types are a newer copy of the same interface.
  return new Agent({
    connect: { ca: tls.ca, cert: tls.cert, key: tls.key, rejectUnauthorized: true },
  }) as unknown as SubgraphDispatcher & { close(): Promise<void> };
}

/** The env-driven part of the options, shared by the gateway alone and the whole stack. */
export function gatewayOptionsFromEnv(env: GatewayConfig, log: Logger) {
  return {
    log,
    host: env.HOST,
    port: env.GATEWAY_PORT,
    blockFieldSuggestions: env.NODE_ENV === 'production',
    sandbox: (env.GATEWAY_SANDBOX ?? (env.NODE_ENV === 'production' ? 'off' : 'on')) === 'on',
    operations:
      env.GATEWAY_OPS_PORT === undefined
        ? undefined
        : { host: env.GATEWAY_OPS_HOST, port: env.GATEWAY_OPS_PORT },
    trustProxy: trustProxyFrom(env.GATEWAY_TRUST_PROXY),
    rateLimits: rateLimitOptionsFrom(env),
    idempotency: { redisUrl: env.REDIS_URL, redisTls: redisTlsFrom(env) },
    customDomains: { platformHosts: env.GATEWAY_PLATFORM_HOSTS },
    ...tlsOptionsFrom(env),
    limits: {
      maxDepth: env.GATEWAY_MAX_DEPTH,
      maxAliases: env.GATEWAY_MAX_ALIASES,
      maxCost: env.GATEWAY_MAX_COST,
      maxTokens: env.GATEWAY_MAX_TOKENS,
      bodyLimitBytes: env.GATEWAY_BODY_LIMIT_BYTES,
      assetUploadBytes: env.GATEWAY_ASSET_MAX_BYTES,
      subgraphTimeoutMs: env.GATEWAY_SUBGRAPH_TIMEOUT_MS,
    },
    usage: { flushIntervalMs: env.USAGE_FLUSH_INTERVAL_MS },
    subscriptionLimits: {
      maxPerConnection: env.GATEWAY_WS_MAX_SUBSCRIPTIONS,
      maxBufferedBytes: env.GATEWAY_WS_MAX_BUFFERED_BYTES,
      maxQueuedMessages: env.GATEWAY_WS_MAX_QUEUED_MESSAGES,
    },
  };
}

/** GATEWAY_RATE_LIMIT, GATEWAY_RATE_LIMIT_PLANS and REDIS_URL: the buckets' policies and store; undefined when `off`. */
export function rateLimitOptionsFrom(env: GatewayConfig): RateLimitOptions | undefined {
  const policies = rateLimitPoliciesFrom(env.GATEWAY_RATE_LIMIT);
  return (
    policies && {
      policies,
      plans: ratePlansFrom(env.GATEWAY_RATE_LIMIT_PLANS, policies.apiKey),
      redisUrl: env.REDIS_URL,
      redisTls: redisTlsFrom(env),
    }
  );
}

/** GATEWAY_TRUST_PROXY: empty → trust no one; `true`; a hop count; or addresses/CIDRs, comma-separated. */
export function trustProxyFrom(value: string): NonNullable<GatewayOptions['trustProxy']> {
  if (!value) return false;
  if (value === 'true') return true;
  if (/^\d+$/.test(value)) {
    const hops = Number(value);
    return (_address, hop) => hop < hops;
  }
  return value.split(',');
}
export {
  type GatewayConfig,
  gatewayEnv,
  SUBGRAPH_NAMES,
  type SubgraphName,
  subgraphUrlsFrom,
} from './config.ts';
export { PROBLEM_KINDS, type Problem, type ProblemCode, problemOf, sendProblem } from './problem.ts';

/** GATEWAY_TLS_*, GATEWAY_HTTP_REDIRECT_PORT and GATEWAY_SUBGRAPH_*: the files read, pairs checked. */
export function tlsOptionsFrom(env: GatewayConfig): Pick<GatewayOptions, 'tls' | 'subgraphTls'> {
  const served = tlsFiles(env, 'GATEWAY_TLS_CERT_FILE', 'GATEWAY_TLS_KEY_FILE');
  if (!served && env.GATEWAY_HTTP_REDIRECT_PORT !== undefined) {
    throw new ConfigError([
      'GATEWAY_HTTP_REDIRECT_PORT: needs GATEWAY_TLS_CERT_FILE and GATEWAY_TLS_KEY_FILE',
    ]);
  }
  const client = tlsFiles(env, 'GATEWAY_SUBGRAPH_CLIENT_CERT_FILE', 'GATEWAY_SUBGRAPH_CLIENT_KEY_FILE');
  const ca =
    env.GATEWAY_SUBGRAPH_CA_FILE && pemFile('GATEWAY_SUBGRAPH_CA_FILE', env.GATEWAY_SUBGRAPH_CA_FILE);
  return {
    tls: served && { ...served, redirectPort: env.GATEWAY_HTTP_REDIRECT_PORT },
    subgraphTls: ca || client ? { ca, ...client } : undefined,
  };
}
