import { Redis, type RedisOptions } from 'ioredis';
import { ConfigError, pemFile, tlsFiles } from './config.ts';

/**
 * TLS to Redis (docs/security.md, "TLS in transit"): a `rediss://` URL connects over TLS and
 * verifies the server's certificate, against REDIS_TLS_CA_FILE when set (a private CA), else the
 * system's CAs; REDIS_TLS_CERT_FILE and _KEY_FILE (both or neither) answer a server that asks for
 * client certificates (mutual TLS).
 */
export interface RedisTls {
  ca?: string;
  cert?: string;
  key?: string;
}

/** The variables that name Redis's TLS files, as every service's and the gateway's config read them. */
export interface RedisTlsEnv {
  REDIS_URL?: string;
  REDIS_TLS_CA_FILE?: string;
  REDIS_TLS_CERT_FILE?: string;
  REDIS_TLS_KEY_FILE?: string;
}

/**
 * The TLS settings REDIS_TLS_* name, read now (a wrong path stops start-up with the variable's
 * name); undefined when none is set. Files with a plain `redis://` URL are a mistake, refused:
 * they would suggest an encryption that is not there.
 */
export function redisTlsFrom(env: RedisTlsEnv): RedisTls | undefined {
  const client = tlsFiles(env as Record<string, unknown>, 'REDIS_TLS_CERT_FILE', 'REDIS_TLS_KEY_FILE');
  const ca = env.REDIS_TLS_CA_FILE ? pemFile('REDIS_TLS_CA_FILE', env.REDIS_TLS_CA_FILE) : undefined;
  if (!ca && !client) return undefined;
  if (env.REDIS_URL && !env.REDIS_URL.startsWith('rediss://')) {
    throw new ConfigError([
      `${ca ? 'REDIS_TLS_CA_FILE' : 'REDIS_TLS_CERT_FILE'}: needs a rediss:// REDIS_URL (TLS)`,
    ]);
  }
  return { ca, ...client };
}

/**
 * A Redis client for `url`: over TLS for `rediss://`, verifying the server's certificate (against
 * `tls.ca` when given) and presenting `tls.cert` when given. ioredis never connects unverified here.
 */
export function connectRedis(url: string, tls: RedisTls | undefined, options: RedisOptions = {}): Redis {
  const secure = url.startsWith('rediss://');
  return new Redis(url, {
    ...options,
    ...(secure ? { tls: { ...tls, rejectUnauthorized: true } } : {}),
  });
}
