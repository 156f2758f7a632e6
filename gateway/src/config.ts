import { optionalFile, optionalUrl, port, serviceEnv } from '@bilten/platform';
import type { FastifyReply } from 'fastify';
import { z } from 'zod';

/** The subgraphs the supergraph routes to; `<NAME>_URL` overrides where one really is. */
export const SUBGRAPH_NAMES = ['identity', 'catalog', 'orders', 'billing', 'messaging', 'branding'] as const;
export type SubgraphName = (typeof SUBGRAPH_NAMES)[number];

/** The gateway's variables: the kit's common ones, its port and limits, and where the subgraphs are. */
export const gatewayEnv = serviceEnv({
  GATEWAY_PORT: port(4000),
  // Unset: no operations listener. A fixed default would make two gateways on one machine clash.
  GATEWAY_OPS_PORT: z
    .union([z.literal('').transform(() => undefined), z.coerce.number().int().min(0).max(65535)], {
      error: 'must be a port number (0-65535), or empty for none',
    })
    .optional(),
  GATEWAY_OPS_HOST: z.string().min(1).default('127.0.0.1'),
  GATEWAY_SANDBOX: z.enum(['on', 'off']).optional(),
  // Watched and reloaded without a restart: the supergraph (a file, or a ConfigMap directory holding
  // supergraph.graphql; unset: the committed one, never reloaded) and runtime settings (settings.json).
  SUPERGRAPH_PATH: optionalFile,
  GATEWAY_SETTINGS_PATH: optionalFile,
  IDENTITY_URL: optionalUrl,
  CATALOG_URL: optionalUrl,
  ORDERS_URL: optionalUrl,
  BILLING_URL: optionalUrl,
  MESSAGING_URL: optionalUrl,
  BRANDING_URL: optionalUrl,
  GATEWAY_SUBGRAPH_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(5_000),
  GATEWAY_BODY_LIMIT_BYTES: z.coerce.number().int().min(1024).default(1_048_576),
  // Largest brand-asset upload (POST /assets) passed on to branding: keep it equal to branding's ASSET_MAX_BYTES.
  GATEWAY_ASSET_MAX_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .default(10 * 1024 * 1024),
  GATEWAY_MAX_DEPTH: z.coerce.number().int().min(2).max(100).default(12),
  GATEWAY_MAX_ALIASES: z.coerce.number().int().min(1).max(1000).default(30),
  GATEWAY_MAX_COST: z.coerce.number().int().min(10).default(5_000),
  GATEWAY_MAX_TOKENS: z.coerce.number().int().min(100).default(2_000),
  // Per websocket connection: subscriptions held at once, and how far behind a client may fall
  // (bytes unsent, messages waiting per subscription) before it is disconnected as too slow.
  GATEWAY_WS_MAX_SUBSCRIPTIONS: z.coerce.number().int().min(1).max(1000).default(20),
  GATEWAY_WS_MAX_BUFFERED_BYTES: z.coerce.number().int().min(1024).default(1_048_576),
  GATEWAY_WS_MAX_QUEUED_MESSAGES: z.coerce.number().int().min(1).max(100_000).default(100),
  // API-key usage (usage-meter.ts) is published this often (ms): a crash loses at most one interval's counts.
  USAGE_FLUSH_INTERVAL_MS: z.coerce.number().int().min(100).default(10_000),
  GATEWAY_TRUST_PROXY: z
    .string()
    .regex(
      /^(true|\d{1,2}|[0-9a-fA-F.:/]+(,[0-9a-fA-F.:/]+)*)?$/,
      'must be true, a hop count or addresses/CIDRs',
    )
    .default(''),
  // TLS (docs/security.md): HTTPS on GATEWAY_PORT with this certificate and key (both or neither);
  // a plain-http listener redirecting to it; the CA subgraphs' certificates are checked against,
  // and the certificate the gateway presents to subgraphs that ask for one (mutual TLS).
  GATEWAY_TLS_CERT_FILE: optionalFile,
  GATEWAY_TLS_KEY_FILE: optionalFile,
  GATEWAY_HTTP_REDIRECT_PORT: z
    .union([z.literal('').transform(() => undefined), z.coerce.number().int().min(0).max(65535)], {
      error: 'must be a port number (0-65535), or empty for none',
    })
    .optional(),
  GATEWAY_SUBGRAPH_CA_FILE: optionalFile,
  GATEWAY_SUBGRAPH_CLIENT_CERT_FILE: optionalFile,
  GATEWAY_SUBGRAPH_CLIENT_KEY_FILE: optionalFile,
  // Rate-limit buckets and REST idempotency keys: in Redis when set, shared by every gateway; in memory otherwise.
  REDIS_URL: optionalUrl,
  // TLS to Redis (rediss://): the CA its certificate is checked against; a client certificate and key if it asks.
  REDIS_TLS_CA_FILE: optionalFile,
  REDIS_TLS_CERT_FILE: optionalFile,
  REDIS_TLS_KEY_FILE: optionalFile,
  // The platform's own hostnames (comma-separated; `*.name` for every name under one): never looked
  // up as organizers' custom domains. Addresses, localhost and *.localhost always are the platform's.
  GATEWAY_PLATFORM_HOSTS: z
    .string()
    .default('')
    .transform((value) =>
      value
        .split(',')
        .map((item) => item.trim().toLowerCase())
        .filter(Boolean),
    ),
  // `off`, or `key=6000/60,user=6000/60,address=3000/60`: cost units per seconds, per kind of client.
  GATEWAY_RATE_LIMIT: z
    .string()
    .regex(
      /^(off|((key|user|address)=[1-9]\d*\/[1-9]\d*)(,(key|user|address)=[1-9]\d*\/[1-9]\d*)*)?$/,
      'must be off, or kind=capacity/seconds items (kinds key, user, address), comma-separated',
    )
    .default(''),
  // API keys' plans: `standard=6000/60s,partner=60000/60s` (capacity per seconds); `standard` defaults to `key=` above.
  GATEWAY_RATE_LIMIT_PLANS: z
    .string()
    .regex(
      /^([a-z][a-z0-9-]{0,31}=[1-9]\d{0,9}\/[1-9]\d{0,7}s?(,[a-z][a-z0-9-]{0,31}=[1-9]\d{0,9}\/[1-9]\d{0,7}s?)*)?$/,
      'must be plan=capacity/seconds items (e.g. standard=6000/60s,partner=60000/60s), comma-separated',
    )
    .refine((value) => {
      const names = value.split(',').map((item) => item.split('=')[0]);
      return new Set(names).size === names.length;
    }, 'names a plan twice')
    .default(''),
});
export type GatewayConfig = z.infer<typeof gatewayEnv>;

/**
 * What the gateway's requests to subgraphs go through (`dispatcher` of fetch's init): one
 * connection pool with the subgraph TLS settings (server.ts); unset, Node's default pool.
 */
export type SubgraphDispatcher = NonNullable<RequestInit['dispatcher']>;

/** `<NAME>_URL` of each subgraph that has one set. */
export const subgraphUrlsFrom = (config: GatewayConfig): Partial<Record<SubgraphName, string>> =>
  Object.fromEntries(
    SUBGRAPH_NAMES.map((name) => [
      name,
      config[`${name.toUpperCase()}_URL` as `${Uppercase<SubgraphName>}_URL`],
    ]),
  );

/**
 * A route beside a subgraph's /graphql (`/`, `/.well-known/jwks.json`): on the host the supergraph
 * routes it to, unless its `<NAME>_URL` overrides that; on its local default port otherwise.
 */
export function subgraphRoute(
  options: { supergraphSdl: string; subgraphUrls: Partial<Record<SubgraphName, string>> },
  name: SubgraphName,
  path: string,
): string {
  const routed = new RegExp(`join__graph\\(name: "${name}", url: "([^"]+)"\\)`).exec(
    options.supergraphSdl,
  )?.[1];
  const graphqlUrl =
    options.subgraphUrls[name] ?? routed ?? `http://localhost:${4001 + SUBGRAPH_NAMES.indexOf(name)}/graphql`;
  return new URL(path, graphqlUrl).toString();
}

/** A subgraph's answer passed on as it came: its status, the headers named, its body. */
export async function relayAnswer(reply: FastifyReply, upstream: Response, headers: readonly string[]) {
  reply.status(upstream.status);
  for (const name of headers) {
    const value = upstream.headers.get(name);
    if (value) reply.header(name, value);
  }
  return reply.send(Buffer.from(await upstream.arrayBuffer()));
}
