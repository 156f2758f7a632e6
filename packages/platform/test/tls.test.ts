/**
 * TLS to PostgreSQL and NATS, against real servers started here with a throw-away PKI: the
 * machine's PostgreSQL binaries (as the postgres user when this runs as root) and nats-server.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import {
  chmodSync,
  chownSync,
  copyFileSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { captureLogs, freePort, waitFor } from '@bilten/testkit';
import { createTestCertificates, type TestCertificates } from '@bilten/testkit/tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { connectJetStreamBus, natsTlsFrom } from '../src/bus-jetstream.ts';
import { parseEnv, platformEnv } from '../src/config.ts';
import { connectDatabase, databaseSsl } from '../src/db.ts';
import { defineEvent, newEvent } from '../src/events.ts';

let certs: TestCertificates;
const children: ChildProcess[] = [];
const dirs: string[] = [];

const accepts = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = tcpConnect(port, '127.0.0.1');
    socket.once('connect', () => resolve(!!socket.end()));
    socket.once('error', () => resolve(false));
  });

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
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  certs?.remove();
});

const binDir = () => {
  const versions = existsSync('/usr/lib/postgresql') ? readdirSync('/usr/lib/postgresql').sort() : [];
  return versions.length ? `/usr/lib/postgresql/${versions.at(-1)}/bin` : undefined;
};

describe.skipIf(!binDir())('PostgreSQL over TLS (DATABASE_URL sslmode, DATABASE_SSL_ROOT_CERT_FILE)', () => {
  let port: number;

  beforeAll(async () => {
    // PostgreSQL refuses to run as root: as root, the cluster is the postgres user's.
    const asRoot = process.getuid?.() === 0;
    const run = (command: string, args: string[]) =>
      asRoot
        ? (['runuser', ['-u', 'postgres', '--', command, ...args]] as const)
        : ([command, args] as const);
    const dir = mkdtempSync(join(tmpdir(), 'pg-tls-'));
    dirs.push(dir);
    copyFileSync(certs.server.certFile, join(dir, 'server.pem'));
    copyFileSync(certs.server.keyFile, join(dir, 'server.key'));
    chmodSync(join(dir, 'server.key'), 0o600);
    if (asRoot) {
      const [uid, gid] = userIds();
      for (const path of [dir, join(dir, 'server.pem'), join(dir, 'server.key')]) chownSync(path, uid, gid);
    }
    const data = join(dir, 'data');
    const [initdb, initArgs] = run(`${binDir()}/initdb`, [
      '-D',
      data,
      '-U',
      'postgres',
      '--auth=trust',
      '-E',
      'UTF8',
    ]);
    execFileSync(initdb, [...initArgs], { stdio: 'ignore' });
    // TLS only: plain connections are refused by pg_hba.conf, whatever the client asks for.
    writeFileSync(
      join(data, 'pg_hba.conf'),
      'hostssl all all 127.0.0.0/8 trust\nhostnossl all all 0.0.0.0/0 reject\n',
    );
    if (asRoot) chownSync(join(data, 'pg_hba.conf'), ...userIds());
    port = await freePort();
    const [postgresBin, args] = run(`${binDir()}/postgres`, [
      '-D',
      data,
      '-p',
      String(port),
      '-k',
      dir,
      '-c',
      // 127.0.0.2 is loopback too, but not a name the server certificate holds.
      'listen_addresses=127.0.0.1,127.0.0.2',
      '-c',
      'ssl=on',
      '-c',
      `ssl_cert_file=${join(dir, 'server.pem')}`,
      '-c',
      `ssl_key_file=${join(dir, 'server.key')}`,
      '-c',
      'fsync=off',
    ]);
    const child = spawn(postgresBin, [...args], { stdio: 'ignore' });
    children.push(child);
    await waitFor(() => accepts(port), 20_000);
  }, 60_000);

  const userIds = (): [number, number] => [
    Number(execFileSync('id', ['-u', 'postgres']).toString()),
    Number(execFileSync('id', ['-g', 'postgres']).toString()),
  ];

  /** Connects, asks whether its own connection is encrypted, and closes. */
  async function encrypted(host: string, sslmode: string, rootCert?: string) {
    const database = connectDatabase({
      url: `postgres://postgres@${host}:${port}/postgres?sslmode=${sslmode}`,
      applicationName: 'tls-test',
      poolSize: 1,
      sslRootCert: rootCert,
    });
    try {
      const [row] = await database.sql<
        { ssl: boolean }[]
      >`select ssl from pg_stat_ssl where pid = pg_backend_pid()`;
      return row!.ssl;
    } finally {
      await database.close();
    }
  }

  it('verify-full connects with the CA that signed the server certificate, by name and by address', async () => {
    expect(await encrypted('localhost', 'verify-full', certs.ca.cert)).toBe(true);
    expect(await encrypted('127.0.0.1', 'verify-full', certs.ca.cert)).toBe(true);
  });

  it('verify-full and verify-ca refuse a server whose certificate another CA signed', async () => {
    for (const mode of ['verify-full', 'verify-ca']) {
      await expect(encrypted('localhost', mode, certs.otherCa.cert), mode).rejects.toMatchObject({
        code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
      });
    }
    // Without DATABASE_SSL_ROOT_CERT_FILE the system CAs decide, and they do not know this one.
    await expect(encrypted('localhost', 'verify-full')).rejects.toMatchObject({
      code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
    });
  });

  it('verify-full refuses a host the certificate does not name; verify-ca checks the chain only', async () => {
    await expect(encrypted('127.0.0.2', 'verify-full', certs.ca.cert)).rejects.toMatchObject({
      code: 'ERR_TLS_CERT_ALTNAME_INVALID',
    });
    expect(await encrypted('127.0.0.2', 'verify-ca', certs.ca.cert)).toBe(true);
  });

  it('require encrypts without checking, unless a root certificate is given (then as verify-ca)', async () => {
    expect(await encrypted('127.0.0.2', 'require')).toBe(true);
    await expect(encrypted('localhost', 'require', certs.otherCa.cert)).rejects.toMatchObject({
      code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
    });
  });

  it('leaves other modes to postgres.js', () => {
    expect(databaseSsl('postgres://u@h/db')).toBeUndefined();
    expect(databaseSsl('postgres://u@h/db?sslmode=disable', certs.ca.cert)).toBeUndefined();
    expect(databaseSsl('postgres://u@h/db?sslmode=prefer')).toBeUndefined();
    expect(databaseSsl('postgres://u@h/db?sslmode=require')).toBe('require');
  });
});

const tlsChecked = defineEvent({
  type: 'bilten.test.tls.checked',
  aggregateType: 'tls',
  payload: z.object({ n: z.number().int() }),
});

describe.skipIf(!existsSync('/usr/sbin/nats-server'))('NATS over TLS (NATS_TLS_*)', () => {
  let url: string;
  const log = captureLogs('nats-tls').log;

  beforeAll(async () => {
    const port = await freePort();
    const store = mkdtempSync(join(tmpdir(), 'nats-tls-'));
    dirs.push(store);
    // Client certificates required (--tlsverify): mutual TLS, the strictest setting.
    const child = spawn(
      '/usr/sbin/nats-server',
      [
        ...['-js', '-sd', store, '-a', '127.0.0.1', '-p', String(port)],
        ...['--tls', '--tlscert', certs.server.certFile, '--tlskey', certs.server.keyFile],
        ...['--tlsverify', '--tlscacert', certs.ca.certFile],
      ],
      { stdio: 'ignore' },
    );
    children.push(child);
    await waitFor(() => accepts(port), 20_000);
    url = `nats://localhost:${port}`;
  }, 30_000);

  const bus = (tls: Record<string, string>) =>
    connectJetStreamBus({
      url,
      stream: 'TLS_TEST',
      subjectPrefix: 'tls.',
      name: 'bilten-tls-test',
      log,
      tls: natsTlsFrom(parseEnv(platformEnv, tls)),
    });

  it('connects with the right CA and its client certificate, and publishes', async () => {
    const connected = await bus({
      NATS_TLS_CA_FILE: certs.ca.certFile,
      NATS_TLS_CERT_FILE: certs.client.certFile,
      NATS_TLS_KEY_FILE: certs.client.keyFile,
    });
    try {
      const result = await connected.publish(newEvent(tlsChecked, 'a', 1, { n: 1 }));
      expect(result).toBeDefined();
      await connected.health();
    } finally {
      await connected.close();
    }
  });

  it('refuses a server whose certificate another CA signed', async () => {
    await expect(
      bus({
        NATS_TLS_CA_FILE: certs.otherCa.certFile,
        NATS_TLS_CERT_FILE: certs.client.certFile,
        NATS_TLS_KEY_FILE: certs.client.keyFile,
      }),
    ).rejects.toThrow();
  });

  it('is refused without a client certificate, or with one another CA signed', async () => {
    await expect(bus({ NATS_TLS_CA_FILE: certs.ca.certFile })).rejects.toThrow();
    await expect(
      bus({
        NATS_TLS_CA_FILE: certs.ca.certFile,
        NATS_TLS_CERT_FILE: certs.stranger.certFile,
        NATS_TLS_KEY_FILE: certs.stranger.keyFile,
      }),
    ).rejects.toThrow();
  });

  it('checks its variables: the pair, a CA, readable files', () => {
    const tls = (vars: Record<string, string>) => () => natsTlsFrom(parseEnv(platformEnv, vars));
    expect(tls({})()).toBeUndefined();
    expect(tls({ NATS_TLS_CA_FILE: certs.ca.certFile, NATS_TLS_CERT_FILE: certs.client.certFile })).toThrow(
      /NATS_TLS_KEY_FILE: must be set with NATS_TLS_CERT_FILE/,
    );
    expect(
      tls({ NATS_TLS_CERT_FILE: certs.client.certFile, NATS_TLS_KEY_FILE: certs.client.keyFile }),
    ).toThrow(/NATS_TLS_CERT_FILE: needs NATS_TLS_CA_FILE/);
    expect(tls({ NATS_TLS_CA_FILE: '/nonexistent.pem' })).toThrow(/NATS_TLS_CA_FILE: cannot read/);
  });
});
