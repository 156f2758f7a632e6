import { ApolloGateway, RemoteGraphQLDataSource } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginLandingPageLocalDefault } from '@apollo/server/plugin/landingPage/default';
import type { Fetcher } from '@apollo/utils.fetcher';
import { fastifyApolloDrainPlugin } from '@as-integrations/fastify';
import {
  createErrorFormatter,
  createHttpApp,
  createServiceMetrics,
  currentRequest,
  graphqlMetricsPlugin,
  type Logger,
  mountGraphQL,
  operationLogPlugin,
  type PlatformEnv,
  type RunningService,
  type SubgraphName,
} from '@bilten/platform';
import { ApolloArmor } from '@escape.tech/graphql-armor';
import { GraphQLError } from 'graphql';

export interface GatewayLimits {
  /** Deepest selection nesting accepted. */
  maxDepth: number;
  maxAliases: number;
  /** graphql-armor cost: objects 2, scalars 1, multiplied by depth. */
  maxCost: number;
  maxTokens: number;
  bodyLimitBytes: number;
  subgraphTimeoutMs: number;
}

export interface GatewayOptions {
  supergraphSdl: string;
  /** Where each subgraph really is, when not at the routing URL in the supergraph. */
  subgraphUrls: Partial<Record<SubgraphName, string>>;
  limits: GatewayLimits;
  log: Logger;
  host: string;
  port: number;
  /** Hide "did you mean" suggestions, which map the schema for an attacker. */
  blockFieldSuggestions: boolean;
}

interface GatewayContext {
  requestId: string;
  traceparent: string;
  authorization?: string;
}

/**
 * Node's fetch (keep-alive by default) with a hard deadline, so a subgraph that hangs costs one
 * timeout and yields an error for its fields instead of a hung request.
 */
function subgraphFetcher(name: string, timeoutMs: number): Fetcher {
  return (async (url: string, init: RequestInit) => {
    try {
      return await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
    } catch (err) {
      const reason =
        (err as Error).name === 'TimeoutError' ? `did not answer within ${timeoutMs} ms` : 'is unavailable';
      throw new GraphQLError(`subgraph ${name} ${reason}`, {
        extensions: { code: 'INTERNAL', serviceName: name },
      });
    }
  }) as unknown as Fetcher;
}

export async function startGateway(options: GatewayOptions): Promise<RunningService> {
  const { limits, log } = options;
  const gateway = new ApolloGateway({
    supergraphSdl: options.supergraphSdl,
    logger: log,
    buildService: ({ name, url }) =>
      new RemoteGraphQLDataSource<GatewayContext>({
        url: options.subgraphUrls[name as SubgraphName] ?? url,
        fetcher: subgraphFetcher(name, limits.subgraphTimeoutMs),
        willSendRequest({ request, context }) {
          if (!request.http) return;
          request.http.headers.set('x-request-id', context.requestId);
          request.http.headers.set('traceparent', context.traceparent);
          if (context.authorization) request.http.headers.set('authorization', context.authorization);
        },
      }),
  });

  const metrics = createServiceMetrics('gateway');
  let loaded = false;
  const app = createHttpApp({
    log,
    metrics,
    bodyLimit: limits.bodyLimitBytes,
    health: [
      {
        name: 'supergraph',
        check: async () => {
          if (!loaded) throw new Error('supergraph not loaded');
        },
      },
    ],
  });

  const armor = new ApolloArmor({
    maxDepth: { n: limits.maxDepth },
    maxAliases: { n: limits.maxAliases },
    costLimit: { maxCost: limits.maxCost },
    maxTokens: { n: limits.maxTokens },
    maxDirectives: { n: 50 },
    blockFieldSuggestion: { enabled: options.blockFieldSuggestions },
  }).protect();

  const apollo = new ApolloServer<GatewayContext>({
    gateway,
    ...armor,
    formatError: createErrorFormatter(log),
    stopOnTerminationSignals: false,
    plugins: [
      ...armor.plugins,
      fastifyApolloDrainPlugin(app),
      ApolloServerPluginLandingPageLocalDefault({ embed: true, includeCookies: false }),
      graphqlMetricsPlugin(metrics),
      operationLogPlugin(log),
    ],
  });
  await apollo.start();
  loaded = true;
  mountGraphQL(app, apollo, async (request) => ({
    requestId: request.id,
    traceparent: currentRequest()!.traceparent,
    authorization: request.headers.authorization,
  }));

  await app.listen({ host: options.host, port: options.port });
  const port = (app.server.address() as { port: number }).port;
  const url = `http://${options.host === '0.0.0.0' ? 'localhost' : options.host}:${port}/graphql`;
  log.info({ url }, 'gateway listening');
  return {
    name: 'gateway',
    url,
    port,
    async stop() {
      await app.close();
      await apollo.stop();
    },
  };
}

/** The env-driven part of the options, shared by the gateway alone and the whole stack. */
export function gatewayOptionsFromEnv(env: PlatformEnv, log: Logger) {
  return {
    log,
    host: env.HOST,
    port: env.GATEWAY_PORT,
    blockFieldSuggestions: env.NODE_ENV === 'production',
    limits: {
      maxDepth: env.GATEWAY_MAX_DEPTH,
      maxAliases: env.GATEWAY_MAX_ALIASES,
      maxCost: env.GATEWAY_MAX_COST,
      maxTokens: env.GATEWAY_MAX_TOKENS,
      bodyLimitBytes: env.GATEWAY_BODY_LIMIT_BYTES,
      subgraphTimeoutMs: env.GATEWAY_SUBGRAPH_TIMEOUT_MS,
    },
  };
}
