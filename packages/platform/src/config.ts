import { readFileSync } from 'node:fs';
import { z } from 'zod';

/** A bad or missing variable stops start-up with one line per variable, naming it. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Parses `env` with a zod object schema; the rest of the code never reads `process.env`. */
export function parseEnv<S extends z.ZodType>(
  schema: S,
  env: Record<string, string | undefined> = process.env,
): z.output<S> {
  const result = schema.safeParse(env);
  if (result.success) return result.data;
  throw new ConfigError(result.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`));
}

/** A TCP port variable with its default. */
export const port = (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback);

/** A URL variable that may be unset; set but empty counts as unset. */
export const optionalUrl = z
  .string()
  .url()
  .optional()
  .or(z.literal('').transform(() => undefined));

/** A file path variable that may be unset; set but empty counts as unset. */
export const optionalFile = z
  .string()
  .optional()
  .transform((value) => value || undefined);

/**
 * A certificate and its key named by two variables (`certName`, `keyName`): both set → their PEM
 * text; neither → undefined; one alone, or a file that cannot be read → ConfigError naming it.
 */
export function tlsFiles(
  env: Record<string, unknown>,
  certName: string,
  keyName: string,
): { cert: string; key: string } | undefined {
  const [certFile, keyFile] = [env[certName], env[keyName]].map((value) =>
    typeof value === 'string' && value ? value : undefined,
  );
  if (!certFile && !keyFile) return undefined;
  if (!certFile || !keyFile) {
    throw new ConfigError([
      `${certFile ? keyName : certName}: must be set with ${certFile ? certName : keyName}`,
    ]);
  }
  return { cert: pemFile(certName, certFile), key: pemFile(keyName, keyFile) };
}

/** The PEM text of the file a variable names; ConfigError when it is not readable PEM. */
export function pemFile(name: string, file: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError([
      `${name}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
    ]);
  }
  if (!text.includes('-----BEGIN ')) throw new ConfigError([`${name}: ${file} is not a PEM file`]);
  return text;
}

/**
 * The variables every service reads: runtime, database, event bus, token verification and
 * shutdown. Each service adds its own in its `src/config.ts` (`serviceEnv`); the README lists all.
 */
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
  // Copies of the stream (and its dead letters) in a JetStream cluster: 3 in production, 1 alone.
  NATS_STREAM_REPLICAS: z.coerce.number().int().min(1).max(5).default(1),
  NATS_SUBJECT_PREFIX: z
    .string()
    .regex(/^([a-z0-9_-]+\.)*$/, 'must be empty or dot-terminated tokens, e.g. "staging."')
    .default(''),
  EMBEDDED_POSTGRES_DIR: z.string().min(1).default('.data/postgres'),
  EMBEDDED_POSTGRES_PORT: port(5499),
  SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(8_000),
  AUTH_JWKS_URL: optionalUrl,
  AUTH_ISSUER: z.string().min(1).default('bilten-identity'),
  AUTH_AUDIENCE: z.string().min(1).default('bilten'),
  // TLS (docs/security.md): PEM files. Pairs are checked when read (tlsFiles): both or neither.
  DATABASE_SSL_ROOT_CERT_FILE: optionalFile,
  NATS_TLS_CA_FILE: optionalFile,
  NATS_TLS_CERT_FILE: optionalFile,
  NATS_TLS_KEY_FILE: optionalFile,
  SUBGRAPH_TLS_CERT_FILE: optionalFile,
  SUBGRAPH_TLS_KEY_FILE: optionalFile,
  SUBGRAPH_TLS_CLIENT_CA_FILE: optionalFile,
  REDIS_TLS_CA_FILE: optionalFile,
  REDIS_TLS_CERT_FILE: optionalFile,
  REDIS_TLS_KEY_FILE: optionalFile,
  // Tracing (tracing.ts), by OpenTelemetry's standard names: off unless an endpoint is set.
  /** The OTLP/HTTP collector's base URL (traces go to `<url>/v1/traces`); unset: no tracing at all. */
  OTEL_EXPORTER_OTLP_ENDPOINT: optionalUrl,
  OTEL_EXPORTER_OTLP_PROTOCOL: z.enum(['http/protobuf', 'http/json']).default('http/protobuf'),
  /** The share of new traces kept (0–1); a request whose caller sampled it is always kept. */
  OTEL_TRACES_SAMPLER_ARG: z.coerce.number().min(0).max(1).default(1),
  /** The process's `service.name`; default: the service it runs (`bilten` for `npm start`). */
  OTEL_SERVICE_NAME: z.string().min(1).optional(),
});
export type PlatformEnv = z.infer<typeof platformEnv>;

/** A service's variables: the kit's common ones and its own. */
export function serviceEnv<Shape extends z.ZodRawShape>(own: Shape) {
  return platformEnv.extend(own);
}

/** Raw variables, as `process.env` holds them; a test passes the few it sets. */
export type RawEnv = Record<string, string | undefined>;
