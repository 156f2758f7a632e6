import { readFileSync } from 'node:fs';
import { billingSubgraph } from '@bilten/billing';
import { brandingSubgraph } from '@bilten/branding';
import { catalogSubgraph } from '@bilten/catalog';
import {
  type GatewayOptions,
  gatewayEnv,
  type RunningGateway,
  type SubgraphName,
  startGateway,
} from '@bilten/gateway';
import { identitySubgraph } from '@bilten/identity';
import { messagingSubgraph } from '@bilten/messaging';
import { ordersSubgraph } from '@bilten/orders';
import {
  type BaseContext,
  type EventBus,
  followRevocations,
  type Logger,
  type RawEnv,
  type RunningService,
  type SubgraphDefinition,
  type SubgraphRuntime,
  startSubgraph,
} from '@bilten/platform';
import type { z } from 'zod';

export const SUBGRAPHS: SubgraphDefinition<BaseContext>[] = [
  identitySubgraph,
  catalogSubgraph,
  ordersSubgraph,
  billingSubgraph,
  messagingSubgraph,
  brandingSubgraph,
] as unknown as SubgraphDefinition<BaseContext>[];

/** Every variable of every service: what `npm start` reads, and what the README lists. */
export const stackEnv = gatewayEnv.extend(
  // Typed as the gateway's: what the stack itself reads; each subgraph reads its own part again.
  Object.assign({}, ...SUBGRAPHS.map((definition) => definition.config.shape)) as Record<never, z.ZodType>,
);

/** See `StackOptions.host`. */
const SUBGRAPH_HOST = '127.0.0.1';

export const SUPERGRAPH_SDL_PATH = new URL('../../schema/supergraph.graphql', import.meta.url);

export interface StackOptions {
  databaseUrl: string;
  databasePoolSize?: number;
  bus: EventBus;
  log: Logger;
  /**
   * Where the gateway listens. The subgraphs listen on 127.0.0.1 whatever it is: they trust the
   * gateway's headers (the client's address, its user agent), so only the gateway, here in this
   * process, may reach them.
   */
  host: string;
  ports: Record<SubgraphName | 'gateway', number>;
  auth?: SubgraphRuntime['auth'];
  /** The variables every service reads (default: none set, every default applies). */
  env?: RawEnv;
  gateway: Pick<
    GatewayOptions,
    | 'limits'
    | 'blockFieldSuggestions'
    | 'trustProxy'
    | 'sandbox'
    | 'operations'
    | 'subscriptionLimits'
    | 'rateLimits'
    | 'idempotency'
    | 'customDomains'
    | 'tls'
    | 'subgraphTls'
  >;
}

export interface Stack {
  gateway: RunningGateway;
  subgraphs: Record<SubgraphName, RunningService>;
  stop(): Promise<void>;
}

/** All six subgraphs and the gateway in this process, the gateway routed to where they listen. */
export async function startStack(options: StackOptions): Promise<Stack> {
  const started: RunningService[] = [];
  // One memory of revoked tokens serves every subgraph in this process.
  const revocations = await followRevocations(options.bus, options.log);
  const stopAll = async () => {
    for (const service of started.reverse()) await service.stop();
    await revocations.stop();
  };
  try {
    // One after another: each applies its migrations, and they share the `drizzle` schema.
    // Identity comes first; unless told otherwise, the others fetch keys from where it listens.
    let auth = { ...options.auth, revocations };
    // Branding right after identity: orders and billing fetch logos from where it really listens
    // (ports are chosen per run in tests), unless BRAND_ASSETS_URL says otherwise.
    const startOrder = [
      ...SUBGRAPHS.filter((definition) => definition.name === 'identity' || definition.name === 'branding'),
      ...SUBGRAPHS.filter((definition) => definition.name !== 'identity' && definition.name !== 'branding'),
    ];
    let brandAssetsUrl: string | undefined;
    for (const definition of startOrder) {
      const rendersBrand = definition.name === 'orders' || definition.name === 'billing';
      const service = await startSubgraph(definition, {
        databaseUrl: options.databaseUrl,
        databasePoolSize: options.databasePoolSize,
        bus: options.bus,
        log: options.log,
        auth,
        env:
          rendersBrand && brandAssetsUrl && !options.env?.BRAND_ASSETS_URL
            ? { ...options.env, BRAND_ASSETS_URL: brandAssetsUrl }
            : options.env,
        host: SUBGRAPH_HOST,
        port: options.ports[definition.name as SubgraphName],
      });
      started.push(service);
      if (definition.name === 'branding') brandAssetsUrl = new URL(service.url).origin;
      if (definition.name === 'identity' && !auth?.jwks && !auth?.jwksUrl) {
        auth = { ...auth, jwksUrl: new URL('/.well-known/jwks.json', service.url).toString() };
      }
    }
    const subgraphs = Object.fromEntries(started.map((service) => [service.name, service])) as Record<
      SubgraphName,
      RunningService
    >;
    const gateway = await startGateway({
      ...options.gateway,
      supergraphSdl: readFileSync(SUPERGRAPH_SDL_PATH, 'utf8'),
      subgraphUrls: Object.fromEntries(
        Object.values(subgraphs).map((service) => [service.name, service.url]),
      ),
      log: options.log.child({ service: 'gateway' }),
      // The same bus as the subgraphs: in `npm start` the in-process one serves subscriptions.
      bus: options.bus,
      host: options.host,
      port: options.ports.gateway,
    });
    started.push(gateway);
    return { gateway, subgraphs, stop: stopAll };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
