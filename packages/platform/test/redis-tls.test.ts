/**
 * TLS to Redis (REDIS_URL rediss://, REDIS_TLS_*): against a real redis-server started here with
 * TLS only, and the throw-away PKI: the right CA connects, another CA's server is refused, a plain
 * connection is refused, and mutual TLS needs the client certificate.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { connect as tcpConnect } from 'node:net';
import { freePort, waitFor } from '@bilten/testkit';
import { createTestCertificates, type TestCertificate, type TestCertificates } from '@bilten/testkit/tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../src/config.ts';
import { connectRedis, type RedisTls, redisTlsFrom } from '../src/redis.ts';

/** Debian's redis-server is built with TLS (linked to OpenSSL); a build without it cannot run these. */
const tlsSupported = (() => {
  try {
    return /libssl/.test(
      execFileSync('ldd', [execFileSync('which', ['redis-server'], { encoding: 'utf8' }).trim()], {
        encoding: 'utf8',
      }),
    );
  } catch {
    return false;
  }
})();

let certs: TestCertificates;

const accepts = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = tcpConnect(port, '127.0.0.1');
    socket.once('connect', () => resolve(!!socket.end()));
    socket.once('error', () => resolve(false));
  });
const children: ChildProcess[] = [];

async function startRedis(server: TestCertificate, clientCa: TestCertificate | null): Promise<number> {
  const port = await freePort();
  const child = spawn(
    'redis-server',
    [
      '--port',
      '0',
      '--tls-port',
      String(port),
      '--tls-cert-file',
      server.certFile,
      '--tls-key-file',
      server.keyFile,
      '--tls-ca-cert-file',
      (clientCa ?? certs.ca).certFile,
      '--tls-auth-clients',
      clientCa ? 'yes' : 'no',
      '--save',
      '',
      '--appendonly',
      'no',
    ],
    { stdio: 'ignore' },
  );
  children.push(child);
  await waitFor(() => accepts(port).then((up) => up || undefined));
  return port;
}

/** PING through a client made like the services make theirs; the error when refused. */
async function ping(url: string, tls: RedisTls | undefined): Promise<string> {
  const redis = connectRedis(url, tls, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: 3000,
  });
  // ioredis rejects with `Connection is closed`; the TLS error itself comes as an event.
  let failure: Error | undefined;
  redis.on('error', (err: Error) => {
    failure = err;
  });
  try {
    await redis.connect();
    return await redis.ping();
  } catch (err) {
    return `refused: ${(failure ?? (err as Error)).message}`;
  } finally {
    redis.disconnect();
  }
}

beforeAll(() => {
  certs = createTestCertificates();
});

afterAll(async () => {
  for (const child of children) {
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
  }
  certs?.remove();
});

describe.skipIf(!tlsSupported)('Redis over TLS (rediss://, REDIS_TLS_CA_FILE)', () => {
  it('verifies the server against the configured CA and refuses another CA’s server', async () => {
    const port = await startRedis(certs.server, null);
    const tls = redisTlsFrom({
      REDIS_URL: `rediss://localhost:${port}`,
      REDIS_TLS_CA_FILE: certs.ca.certFile,
    });
    expect(await ping(`rediss://localhost:${port}`, tls)).toBe('PONG');
    // The system's CAs do not know the test CA: without REDIS_TLS_CA_FILE the server is not trusted.
    expect(await ping(`rediss://localhost:${port}`, undefined)).toMatch(/^refused: .*certificate/i);
    // A CA that did not sign the server's certificate is refused, as is a name it does not carry.
    expect(await ping(`rediss://localhost:${port}`, { ca: certs.otherCa.cert })).toMatch(
      /^refused: .*certificate/i,
    );
    expect(await ping(`rediss://127.0.0.2:${port}`, tls)).toMatch(/^refused:/);

    const impostor = await startRedis(certs.otherServer, null);
    expect(await ping(`rediss://localhost:${impostor}`, tls)).toMatch(/^refused: .*certificate/i);
  });

  it('presents the client certificate when the server asks (mutual TLS)', async () => {
    const port = await startRedis(certs.server, certs.ca);
    const url = `rediss://localhost:${port}`;
    const tls = redisTlsFrom({
      REDIS_URL: url,
      REDIS_TLS_CA_FILE: certs.ca.certFile,
      REDIS_TLS_CERT_FILE: certs.client.certFile,
      REDIS_TLS_KEY_FILE: certs.client.keyFile,
    });
    expect(await ping(url, tls)).toBe('PONG');
    expect(await ping(url, { ca: certs.ca.cert })).toMatch(/^refused:/);
    expect(
      await ping(url, { ca: certs.ca.cert, cert: certs.stranger.cert, key: certs.stranger.key }),
    ).toMatch(/^refused:/);
  });
});

describe('REDIS_TLS_* settings', () => {
  it('are refused with a plain redis:// URL, alone or half set', () => {
    const files = createTestCertificates();
    try {
      expect(() =>
        redisTlsFrom({ REDIS_URL: 'redis://localhost:6379', REDIS_TLS_CA_FILE: files.ca.certFile }),
      ).toThrow(ConfigError);
      expect(() =>
        redisTlsFrom({ REDIS_URL: 'rediss://localhost:6379', REDIS_TLS_CERT_FILE: files.client.certFile }),
      ).toThrow(/REDIS_TLS_KEY_FILE: must be set with REDIS_TLS_CERT_FILE/);
      expect(() =>
        redisTlsFrom({ REDIS_URL: 'rediss://x:1', REDIS_TLS_CA_FILE: '/nonexistent.pem' }),
      ).toThrow(/REDIS_TLS_CA_FILE: cannot read/);
      expect(redisTlsFrom({ REDIS_URL: 'redis://localhost:6379' })).toBeUndefined();
    } finally {
      files.remove();
    }
  });
});
