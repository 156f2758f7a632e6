import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A certificate and its key, as files (what the *_FILE variables name) and as PEM text. */
export interface TestCertificate {
  certFile: string;
  keyFile: string;
  cert: string;
  key: string;
}

export interface TestCertificates {
  /** The directory holding every file; `remove()` deletes it. */
  dir: string;
  /** The CA every certificate below is signed by, except `otherCa`'s and `stranger`. */
  ca: TestCertificate;
  /** Server certificate for localhost and 127.0.0.1 (nothing else: 127.0.0.2 is a wrong host). */
  server: TestCertificate;
  /** Client certificate (CN=bilten-gateway) for mutual TLS. */
  client: TestCertificate;
  /** A second CA that has nothing to do with the first: its certificates must be refused. */
  otherCa: TestCertificate;
  /** Server certificate for localhost and 127.0.0.1 signed by `otherCa`. */
  otherServer: TestCertificate;
  /** Client certificate signed by `otherCa`. */
  stranger: TestCertificate;
  remove(): void;
}

const openssl = (args: string[]) => execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });

const ecKey = (file: string) => {
  openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', file]);
  // Servers that check key files (PostgreSQL) refuse one others can read.
  chmodSync(file, 0o600);
};

function issue(dir: string, name: string, subject: string, issuer: TestCertificate, extensions: string) {
  const keyFile = join(dir, `${name}.key`);
  const csr = join(dir, `${name}.csr`);
  const ext = join(dir, `${name}.ext`);
  const certFile = join(dir, `${name}.pem`);
  ecKey(keyFile);
  openssl(['req', '-new', '-key', keyFile, '-subj', subject, '-out', csr]);
  writeFileSync(ext, extensions);
  openssl([
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    issuer.certFile,
    '-CAkey',
    issuer.keyFile,
    '-set_serial',
    `0x${Buffer.from(name).toString('hex')}`,
    '-days',
    '2',
    '-extfile',
    ext,
    '-out',
    certFile,
  ]);
  return read(certFile, keyFile);
}

function authority(dir: string, name: string) {
  const keyFile = join(dir, `${name}.key`);
  const certFile = join(dir, `${name}.pem`);
  ecKey(keyFile);
  openssl([
    'req',
    '-x509',
    '-new',
    '-key',
    keyFile,
    '-subj',
    `/CN=${name}`,
    '-days',
    '2',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
    '-out',
    certFile,
  ]);
  return read(certFile, keyFile);
}

const read = (certFile: string, keyFile: string): TestCertificate => ({
  certFile,
  keyFile,
  cert: readFileSync(certFile, 'utf8'),
  key: readFileSync(keyFile, 'utf8'),
});

const SERVER_EXTENSIONS = [
  'basicConstraints=CA:FALSE',
  'keyUsage=critical,digitalSignature',
  'extendedKeyUsage=serverAuth',
  'subjectAltName=DNS:localhost,IP:127.0.0.1',
].join('\n');
const CLIENT_EXTENSIONS = [
  'basicConstraints=CA:FALSE',
  'keyUsage=critical,digitalSignature',
  'extendedKeyUsage=clientAuth',
].join('\n');

/**
 * A throw-away PKI made with `openssl` (EC P-256, valid two days): a CA with a server and a client
 * certificate, and an unrelated CA with its own server and client certificate, which every
 * verifying side must refuse. Key files are mode 0600; call `remove()` when done.
 */
export function createTestCertificates(): TestCertificates {
  const dir = mkdtempSync(join(tmpdir(), 'tls-'));
  const ca = authority(dir, 'bilten-test-ca');
  const otherCa = authority(dir, 'unrelated-test-ca');
  return {
    dir,
    ca,
    server: issue(dir, 'server', '/CN=localhost', ca, SERVER_EXTENSIONS),
    client: issue(dir, 'client', '/CN=bilten-gateway', ca, CLIENT_EXTENSIONS),
    otherCa,
    otherServer: issue(dir, 'other-server', '/CN=localhost', otherCa, SERVER_EXTENSIONS),
    stranger: issue(dir, 'stranger', '/CN=stranger', otherCa, CLIENT_EXTENSIONS),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
