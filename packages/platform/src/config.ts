import { z } from 'zod';

/** A bad or missing variable stops start-up with one line per variable, naming it. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Parses `env` with a zod object schema; the rest of the code never reads `process.env`. */
export function parseEnv<S extends z.ZodObject>(
  schema: S,
  env: Record<string, string | undefined> = process.env,
): z.infer<S> {
  const result = schema.safeParse(env);
  if (result.success) return result.data;
  throw new ConfigError(result.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`));
}

const port = (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback);
const optionalUrl = z
  .string()
  .url()
  .optional()
  .or(z.literal('').transform(() => undefined));

export const SUBGRAPH_PORTS = {
  identity: 4001,
  catalog: 4002,
  orders: 4003,
  billing: 4004,
  messaging: 4005,
  branding: 4006,
} as const;
export type SubgraphName = keyof typeof SUBGRAPH_PORTS;
export const SUBGRAPH_NAMES = Object.keys(SUBGRAPH_PORTS) as SubgraphName[];

/** Every variable the services read. The README lists the same ones. */
export const platformEnv = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  HOST: z.string().min(1).default('0.0.0.0'),
  DATABASE_URL: optionalUrl,
  DATABASE_POOL_SIZE: z.coerce.number().int().min(1).max(100).default(10),
  EVENT_PROCESSING: z.enum(['on', 'off']).default('on'),
  NATS_URL: optionalUrl,
  NATS_STREAM: z
    .string()
    .regex(/^[A-Za-z0-9_-]+$/)
    .default('BILTEN'),
  NATS_SUBJECT_PREFIX: z
    .string()
    .regex(/^([a-z0-9_-]+\.)*$/, 'must be empty or dot-terminated tokens, e.g. "staging."')
    .default(''),
  EMBEDDED_POSTGRES_DIR: z.string().min(1).default('.data/postgres'),
  EMBEDDED_POSTGRES_PORT: port(5499),
  GATEWAY_PORT: port(4000),
  IDENTITY_PORT: port(SUBGRAPH_PORTS.identity),
  CATALOG_PORT: port(SUBGRAPH_PORTS.catalog),
  ORDERS_PORT: port(SUBGRAPH_PORTS.orders),
  BILLING_PORT: port(SUBGRAPH_PORTS.billing),
  MESSAGING_PORT: port(SUBGRAPH_PORTS.messaging),
  BRANDING_PORT: port(SUBGRAPH_PORTS.branding),
  IDENTITY_URL: optionalUrl,
  CATALOG_URL: optionalUrl,
  ORDERS_URL: optionalUrl,
  BILLING_URL: optionalUrl,
  MESSAGING_URL: optionalUrl,
  BRANDING_URL: optionalUrl,
  GATEWAY_SUBGRAPH_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(5_000),
  GATEWAY_BODY_LIMIT_BYTES: z.coerce.number().int().min(1024).default(1_048_576),
  GATEWAY_MAX_DEPTH: z.coerce.number().int().min(2).max(100).default(12),
  GATEWAY_MAX_ALIASES: z.coerce.number().int().min(1).max(1000).default(30),
  GATEWAY_MAX_COST: z.coerce.number().int().min(10).default(5_000),
  GATEWAY_MAX_TOKENS: z.coerce.number().int().min(100).default(2_000),
  SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(8_000),
  AUTH_JWKS_URL: optionalUrl,
  AUTH_ISSUER: z.string().min(1).default('bilten-identity'),
  AUTH_AUDIENCE: z.string().min(1).default('bilten'),
  SMTP_URL: z
    .url({ protocol: /^smtps?$/, error: 'must be an smtp:// or smtps:// URL' })
    .optional()
    .or(z.literal('').transform(() => undefined)),
  MAIL_FROM: z
    .string()
    .regex(/^[^\r\n]+@[^\r\n]+$/, 'must be one line with an address, e.g. "Bilten <no-reply@bilten.local>"')
    .default('Bilten <no-reply@bilten.local>'),
  PUBLIC_WEB_URL: z
    .url({ protocol: /^https?$/, error: 'must be an http(s) URL' })
    .default('http://localhost:3000'),
  AUTH_KEY_ENCRYPTION_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  AUTH_REGISTRATIONS_PER_IP_PER_HOUR: z.coerce.number().int().min(1).default(20),
  /** identity: on start, make sure this account exists as a verified platform ADMIN. */
  BOOTSTRAP_ADMIN_EMAIL: z.string().optional(),
  /** identity: its password if the account has to be created (an existing one keeps its own). */
  BOOTSTRAP_ADMIN_PASSWORD: z.string().optional(),
  GATEWAY_TRUST_PROXY: z
    .string()
    .regex(
      /^(true|\d{1,2}|[0-9a-fA-F.:/]+(,[0-9a-fA-F.:/]+)*)?$/,
      'must be true, a hop count or addresses/CIDRs',
    )
    .default(''),
});
export type PlatformEnv = z.infer<typeof platformEnv>;

export function loadPlatformEnv(env: Record<string, string | undefined> = process.env): PlatformEnv {
  return parseEnv(platformEnv, env);
}

export function subgraphPort(env: PlatformEnv, name: SubgraphName): number {
  return env[`${name.toUpperCase()}_PORT` as `${Uppercase<SubgraphName>}_PORT`];
}

export function subgraphUrlOverride(env: PlatformEnv, name: SubgraphName): string | undefined {
  return env[`${name.toUpperCase()}_URL` as `${Uppercase<SubgraphName>}_URL`];
}
