import { createPrivateKey, randomBytes, X509Certificate } from 'node:crypto';
import { brandKitChanged, domainActivated } from '@bilten/contracts/branding';
import {
  columnAad,
  connectDatabase,
  createKeyRing,
  createLogger,
  createOutbox,
  type DatabaseHandle,
  parseDataKeys,
} from '@bilten/platform';
import { freePort, recordEvents, startTestSubgraph, type TestSubgraph, waitFor } from '@bilten/testkit';
import { startTestDnsServer, type TestDnsServer } from '@bilten/testkit/dns';
import { type Pebble, startPebble } from '@bilten/testkit/pebble';
import { v7 as uuidv7 } from 'uuid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCertificateMetrics } from '../src/adapters/acme.ts';
import { brandingEnv } from '../src/config.ts';
import { CERTIFICATE_CHAIN_COLUMN, CERTIFICATE_KEY_COLUMN } from '../src/db/certificates.ts';
import { eventStore } from '../src/db/schema.ts';
import {
  type CertificateWork,
  certificateAuthorityOf,
  runCertificatePass,
} from '../src/domain/certificates.ts';
import { brandingSubgraph, encryptedColumns } from '../src/server.ts';
import { type ChallengeProxy, startChallengeProxy } from './challenge-proxy.ts';

const DATA_ENCRYPTION_KEYS = `t1:${randomBytes(32).toString('base64')}`;
const ring = createKeyRing(parseDataKeys(DATA_ENCRYPTION_KEYS));
const RETRY_BASE_MS = 60_000;

let dns: TestDnsServer;
let proxy: ChallengeProxy;
let pebble: Pebble;
let subgraph: TestSubgraph;
const runners: DatabaseHandle[] = [];
let activations: Awaited<ReturnType<typeof recordEvents<typeof domainActivated.payload>>>;
let contexts: Awaited<ReturnType<typeof recordEvents<typeof brandKitChanged.payload>>>;

beforeAll(async () => {
  dns = await startTestDnsServer();
  const httpPort = await freePort();
  proxy = await startChallengeProxy(httpPort);
  pebble = await startPebble({ httpPort, dnsServer: dns.address });
  subgraph = await startTestSubgraph(brandingSubgraph, 'in-process', {
    env: {
      ...process.env,
      ACME_DIRECTORY_URL: pebble.directoryUrl,
      ACME_CA_FILE: pebble.caFile,
      ACME_CONTACT_EMAIL: 'certificates@bilten.test',
      DATA_ENCRYPTION_KEYS,
      // The service's own job waits a day: the tests run passes themselves, when they choose.
      CERTIFICATE_JOB_MS: '86400000',
      CERTIFICATE_RETRY_BASE_MS: String(RETRY_BASE_MS),
    },
  });
  proxy.target = subgraph.service.url;
  activations = await recordEvents(subgraph.testBus.bus, domainActivated);
  contexts = await recordEvents(subgraph.testBus.bus, brandKitChanged);
}, 60_000);

afterAll(async () => {
  await Promise.all(runners.map((runner) => runner.close()));
  await subgraph?.dispose();
  await pebble?.stop();
  await proxy?.close();
  await dns?.close();
});

// ---------------------------------------------------------------- helpers

/** A job runner as another replica would be: its own connections, CA client and metrics. */
function replica(): CertificateWork {
  const handle = connectDatabase({
    url: subgraph.database.url,
    poolSize: 2,
    applicationName: 'certificate-replica',
  });
  runners.push(handle);
  const config = brandingEnv.parse({
    ...process.env,
    ACME_DIRECTORY_URL: pebble.directoryUrl,
    ACME_CA_FILE: pebble.caFile,
    DATA_ENCRYPTION_KEYS,
    CERTIFICATE_RETRY_BASE_MS: String(RETRY_BASE_MS),
  });
  return {
    db: handle.db,
    outbox: createOutbox(eventStore, 'branding'),
    log: createLogger({ service: 'branding-test', level: 'silent' }),
    config,
    keyRing: ring,
    authority: certificateAuthorityOf(config, handle.db, ring)!,
    metrics: createCertificateMetrics(),
  };
}

/** ACME orders that reached validation: distinct challenge tokens the CA fetched (it fetches each from several vantage points). */
const challengesServed = () => new Set(proxy.served).size;

const counted = async (work: CertificateWork, outcome: string, kind: string) =>
  (await work.metrics.issuance.get()).values.find(
    (value) => value.labels.outcome === outcome && value.labels.kind === kind,
  )?.value ?? 0;

/** An organization with a kit and a VERIFIED domain whose name resolves to this machine (pebble's view). */
async function verifiedDomain(state = 'VERIFIED') {
  const organizationId = uuidv7();
  const domainId = uuidv7();
  const hostname = `tickets-${randomBytes(4).toString('hex')}.example-org.test`;
  await subgraph.sql`insert into branding.brand_kits (id, organization_id, primary_color, accent_color)
    values (${uuidv7()}, ${organizationId}, '#1F2937', '#2563EB')`;
  await subgraph.sql`insert into branding.custom_domains (id, organization_id, hostname, state, verification_token, verified_at)
    values (${domainId}, ${organizationId}, ${hostname}, ${state}, 'token', now())`;
  dns.set(hostname, { A: ['127.0.0.1'] });
  return { organizationId, domainId, hostname };
}

const domainRow = async (domainId: string) => {
  const [row] = await subgraph.sql`select * from branding.custom_domains where id = ${domainId}`;
  return row!;
};

const admin = (organizationId: string) => subgraph.bearer({ orgs: { [organizationId]: 'ADMIN' } });

const DOMAIN_FIELDS =
  'customDomain { id state activatedAt certificate { issuedAt expiresAt renewsAt lastError } } errors { code message field }';

interface DomainPayload {
  customDomain: {
    id: string;
    state: string;
    activatedAt: string | null;
    certificate: { issuedAt: string; expiresAt: string; renewsAt: string; lastError: string | null } | null;
  } | null;
  errors: Array<{ code: string; message: string; field: string[] | null }>;
}

const requestCertificate = async (domainId: string, headers: Record<string, string>) =>
  (
    await subgraph.gql<{ requestDomainCertificate: DomainPayload }>(
      `mutation ($input: CustomDomainInput!) { requestDomainCertificate(input: $input) { ${DOMAIN_FIELDS} } }`,
      { input: { domainId } },
      headers,
    )
  ).data?.requestDomainCertificate;

const activate = async (domainId: string, headers: Record<string, string>) =>
  (
    await subgraph.gql<{ activateCustomDomain: DomainPayload }>(
      `mutation ($input: CustomDomainInput!) { activateCustomDomain(input: $input) { ${DOMAIN_FIELDS} } }`,
      { input: { domainId } },
      headers,
    )
  ).data?.activateCustomDomain;

/** The stored chain and key, decrypted; the certificate parsed. */
function storedCertificate(row: Record<string, unknown>) {
  const chain = ring.decrypt(
    String(row.certificate_chain_encrypted),
    columnAad(CERTIFICATE_CHAIN_COLUMN, String(row.id)),
  );
  const key = ring.decrypt(
    String(row.certificate_key_encrypted),
    columnAad(CERTIFICATE_KEY_COLUMN, String(row.id)),
  );
  return { chain, key, certificate: new X509Certificate(chain) };
}

// ---------------------------------------------------------------- tests

describe('first certificate through HTTP-01 (requestDomainCertificate)', () => {
  let domain: Awaited<ReturnType<typeof verifiedDomain>>;

  beforeAll(async () => {
    domain = await verifiedDomain();
  });

  it('issues it, stores it encrypted, activates the domain and announces it', async () => {
    const before = challengesServed();
    const payload = await requestCertificate(domain.domainId, await admin(domain.organizationId));
    expect(payload?.errors).toEqual([]);
    expect(payload?.customDomain?.state).toBe('ACTIVE');
    const certificate = payload!.customDomain!.certificate!;
    expect(new Date(certificate.expiresAt).getTime()).toBeGreaterThan(Date.now());
    expect(new Date(certificate.expiresAt).getTime() - new Date(certificate.renewsAt).getTime()).toBe(
      30 * 86_400_000,
    );
    expect(certificate.lastError).toBeNull();
    // Pebble fetched the challenge from the platform (through the proxy standing in for the gateway).
    expect(challengesServed()).toBe(before + 1);

    const row = await domainRow(domain.domainId);
    expect(row.certificate_chain_encrypted).toMatch(/^v1\.t1\./);
    expect(row.certificate_chain_encrypted).not.toContain('BEGIN');
    expect(row.certificate_key_encrypted).not.toContain('BEGIN');
    const { chain, key, certificate: x509 } = storedCertificate(row);
    expect(chain).toContain('-----BEGIN CERTIFICATE-----');
    expect(key).toContain('PRIVATE KEY');
    expect(x509.subjectAltName).toBe(`DNS:${domain.hostname}`);
    expect(x509.checkPrivateKey(createPrivateKey(key))).toBe(true);
    expect(new Date(row.certificate_expires_at).toISOString()).toBe(new Date(x509.validTo).toISOString());
    expect(row.certificate_attempts).toBe(0);
    expect(row.certificate_lease_until).toBeNull();
    expect(new Date(row.certificate_due_at).getTime()).toBe(
      new Date(row.certificate_expires_at).getTime() - 30 * 86_400_000,
    );
    // The challenge is gone once answered; the account is stored once, its key encrypted.
    expect(await subgraph.sql`select * from branding.acme_challenges`).toHaveLength(0);
    const accounts = await subgraph.sql`select * from branding.acme_accounts`;
    expect(accounts).toHaveLength(1);
    expect(accounts[0]!.account_key_encrypted).toMatch(/^v1\.t1\./);
    expect(accounts[0]!.account_url).toMatch(/^https:\/\/localhost:/);

    await waitFor(async () => activations.some((event) => event.payload.domainId === domain.domainId));
    const activated = activations.find((event) => event.payload.domainId === domain.domainId)!;
    expect(activated.payload).toMatchObject({
      organizationId: domain.organizationId,
      hostname: domain.hostname,
    });
    await waitFor(async () =>
      contexts.some(
        (event) =>
          event.payload.organizationId === domain.organizationId && event.payload.domain === domain.hostname,
      ),
    );
    const metrics = await (await fetch(new URL('/metrics', subgraph.service.url))).text();
    const expiry = /^bilten_certificate_expiry_timestamp_seconds\{[^}]*\} (\S+)$/m.exec(metrics)?.[1];
    expect(Number(expiry)).toBe(new Date(row.certificate_expires_at).getTime() / 1000);
    expect(metrics).toMatch(/^bilten_certificate_issuance_total\{outcome="success",kind="issue"[^}]*\} 1$/m);
  });

  it('lists the three encrypted columns for key rotation', () => {
    expect(encryptedColumns.map((column) => `${column.table}.${column.column}`).sort()).toEqual([
      'acme_accounts.account_key_encrypted',
      'custom_domains.certificate_chain_encrypted',
      'custom_domains.certificate_key_encrypted',
    ]);
  });

  it('renews when expiry nears, once, though two replicas run the job at the same moment', async () => {
    const before = storedCertificate(await domainRow(domain.domainId)).certificate;
    const [account] = await subgraph.sql`select account_url from branding.acme_accounts`;
    const accountUrl = account!.account_url;
    await subgraph.sql`update branding.custom_domains
      set certificate_expires_at = now() + interval '10 days', certificate_due_at = now() - interval '1 second'
      where id = ${domain.domainId}`;
    const [first, second] = [replica(), replica()];
    const served = challengesServed();
    const claimed = await Promise.all([runCertificatePass(first), runCertificatePass(second)]);
    expect(claimed.reduce((sum, n) => sum + n, 0)).toBe(1);
    expect(challengesServed()).toBe(served + 1);
    expect((await counted(first, 'success', 'renewal')) + (await counted(second, 'success', 'renewal'))).toBe(
      1,
    );

    const row = await domainRow(domain.domainId);
    const after = storedCertificate(row).certificate;
    expect(after.serialNumber).not.toBe(before.serialNumber);
    expect(after.subjectAltName).toBe(`DNS:${domain.hostname}`);
    expect(row.state).toBe('ACTIVE');
    expect(new Date(row.certificate_expires_at).getTime()).toBeGreaterThan(Date.now() + 20 * 86_400_000);
    expect(new Date(row.certificate_due_at).getTime()).toBeGreaterThan(Date.now());
    // Not due any more: the next pass takes nothing.
    expect(await runCertificatePass(first)).toBe(0);
    // The replicas (new CA clients, as after a restart) used the stored account: still one.
    expect(await subgraph.sql`select account_url from branding.acme_accounts`).toEqual([
      { account_url: accountUrl },
    ]);
  });

  it('schedules a retry with backoff when the CA cannot validate, and counts the failure', async () => {
    dns.set(domain.hostname, undefined);
    await subgraph.sql`update branding.custom_domains set certificate_due_at = now() - interval '1 second'
      where id = ${domain.domainId}`;
    const work = replica();
    const started = Date.now();
    expect(await runCertificatePass(work)).toBe(1);
    const row = await domainRow(domain.domainId);
    expect(row.state).toBe('ACTIVE');
    expect(row.certificate_attempts).toBe(1);
    // The CA's own words: it could not resolve the name.
    expect(row.certificate_error).toMatch(/could not resolve/);
    expect(row.certificate_lease_until).toBeNull();
    const retryAt = new Date(row.certificate_due_at).getTime();
    expect(retryAt).toBeGreaterThanOrEqual(started);
    expect(retryAt).toBeLessThanOrEqual(Date.now() + RETRY_BASE_MS);
    expect(await counted(work, 'failure', 'renewal')).toBe(1);
    expect(await subgraph.sql`select * from branding.acme_challenges`).toHaveLength(0);
    // The API shows the error while retries go on.
    const { data } = await subgraph.gql<{ customDomain: { certificate: { lastError: string } } }>(
      'query ($id: ID!) { customDomain(id: $id) { certificate { lastError } } }',
      { id: domain.domainId },
      await admin(domain.organizationId),
    );
    expect(data?.customDomain.certificate.lastError).toBe(row.certificate_error);
    dns.set(domain.hostname, { A: ['127.0.0.1'] });
  });
});

describe('first certificates that keep failing', () => {
  it('become FAILED with the reason after five attempts', async () => {
    const domain = await verifiedDomain();
    dns.set(domain.hostname, undefined);
    // Earlier tests' domains may come due again (retries with jitter): keep these passes to this one.
    await subgraph.sql`update branding.custom_domains set certificate_due_at = now() + interval '1 day'
      where id <> ${domain.domainId} and certificate_due_at is not null`;
    const work = replica();
    for (let attempt = 1; attempt <= 5; attempt++) {
      await subgraph.sql`update branding.custom_domains set certificate_due_at = now() - interval '1 second'
        where id = ${domain.domainId}`;
      expect(await runCertificatePass(work)).toBe(1);
    }
    const row = await domainRow(domain.domainId);
    expect(row.state).toBe('FAILED');
    expect(row.certificate_attempts).toBe(5);
    expect(row.failure_reason).toMatch(/^No certificate could be issued: /);
    expect(row.certificate_due_at).toBeNull();
    expect(await counted(work, 'failure', 'issue')).toBe(5);
  });
});

describe('requestDomainCertificate and activateCustomDomain refusals', () => {
  it('refuses a domain not verified, and hides domains from non-admins', async () => {
    const domain = await verifiedDomain('PENDING_VERIFICATION');
    const pending = await requestCertificate(domain.domainId, await admin(domain.organizationId));
    expect(pending?.errors).toMatchObject([{ code: 'CONFLICT', field: ['input', 'domainId'] }]);
    expect((await domainRow(domain.domainId)).certificate_due_at).toBeNull();

    const staff = await subgraph.bearer({ orgs: { [domain.organizationId]: 'STAFF' } });
    expect((await requestCertificate(domain.domainId, staff))?.errors).toMatchObject([{ code: 'NOT_FOUND' }]);
    expect((await activate(domain.domainId, staff))?.errors).toMatchObject([{ code: 'NOT_FOUND' }]);
    expect(
      (await requestCertificate('not-a-uuid', await admin(domain.organizationId)))?.errors,
    ).toMatchObject([{ code: 'INVALID_INPUT' }]);
    const anonymous = await subgraph.gql(
      'mutation ($input: CustomDomainInput!) { activateCustomDomain(input: $input) { errors { code } } }',
      { input: { domainId: domain.domainId } },
    );
    expect(anonymous.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect((await activate(domain.domainId, await admin(domain.organizationId)))?.errors).toMatchObject([
      { code: 'CONFLICT' },
    ]);
    expect((await domainRow(domain.domainId)).state).toBe('PENDING_VERIFICATION');
  });

  it('answers that a certificate is under way while another replica holds the lease', async () => {
    const domain = await verifiedDomain();
    await subgraph.sql`update branding.custom_domains set certificate_lease_until = now() + interval '5 minutes'
      where id = ${domain.domainId}`;
    const payload = await requestCertificate(domain.domainId, await admin(domain.organizationId));
    expect(payload?.errors).toMatchObject([{ code: 'CONFLICT', message: expect.stringMatching(/already/) }]);
    expect(payload?.customDomain?.state).toBe('VERIFIED');
  });

  it('switches the ACTIVE domain: the previous one goes back to CERTIFICATE_ISSUED', async () => {
    const first = await verifiedDomain('ACTIVE');
    await subgraph.sql`update branding.custom_domains
      set certificate_issued_at = now(), certificate_expires_at = now() + interval '90 days' where id = ${first.domainId}`;
    const secondId = uuidv7();
    await subgraph.sql`insert into branding.custom_domains (id, organization_id, hostname, state, verification_token,
        certificate_issued_at, certificate_expires_at)
      values (${secondId}, ${first.organizationId}, ${`www-${randomBytes(3).toString('hex')}.example-org.test`},
        'CERTIFICATE_ISSUED', 'token', now(), now() + interval '90 days')`;
    const payload = await activate(secondId, await admin(first.organizationId));
    expect(payload?.errors).toEqual([]);
    expect(payload?.customDomain).toMatchObject({ id: secondId, state: 'ACTIVE' });
    expect(payload?.customDomain?.activatedAt).not.toBeNull();
    expect((await domainRow(first.domainId)).state).toBe('CERTIFICATE_ISSUED');
    await waitFor(async () => activations.some((event) => event.payload.domainId === secondId));
    // Activating it again changes nothing and announces nothing more.
    const again = await activate(secondId, await admin(first.organizationId));
    expect(again?.customDomain?.state).toBe('ACTIVE');
    expect(activations.filter((event) => event.payload.domainId === secondId)).toHaveLength(1);
  });
});

describe('GET /internal/acme-challenge/:token', () => {
  const challenge = (token: string) =>
    fetch(new URL(`/internal/acme-challenge/${token}`, subgraph.service.url));

  it('answers a stored challenge as text/plain, and 404 for unknown, expired or malformed tokens', async () => {
    // The longest token the route takes: 128 characters.
    const token = randomBytes(96).toString('base64url');
    const expired = randomBytes(16).toString('base64url');
    await subgraph.sql`insert into branding.acme_challenges (token, key_authorization, hostname, expires_at) values
      (${token}, ${`${token}.thumbprint`}, 'a.example-org.test', now() + interval '1 hour'),
      (${expired}, ${`${expired}.thumbprint`}, 'a.example-org.test', now() - interval '1 second')`;
    const found = await challenge(token);
    expect(found.status).toBe(200);
    expect(found.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(await found.text()).toBe(`${token}.thumbprint`);
    expect((await challenge(expired)).status).toBe(404);
    expect((await challenge('unknown')).status).toBe(404);
    expect((await challenge('a'.repeat(129))).status).toBe(404);
    expect((await challenge('a/b')).status).toBe(404);
    expect((await challenge('bad%20token')).status).toBe(404);
    expect((await challenge("x'%3Bdrop")).status).toBe(404);
  });
});

describe('without ACME_DIRECTORY_URL (certificates managed by a TLS proxy or cert-manager)', () => {
  let plain: TestSubgraph;
  beforeAll(async () => {
    const { ACME_DIRECTORY_URL: _unset, ...env } = process.env;
    plain = await startTestSubgraph(brandingSubgraph, 'in-process', { env });
  });
  afterAll(() => plain?.dispose());

  it('requests no certificate, and activates a VERIFIED domain directly', async () => {
    const organizationId = uuidv7();
    const [first, second] = [uuidv7(), uuidv7()];
    for (const id of [first, second])
      await plain.sql`insert into branding.custom_domains (id, organization_id, hostname, state, verification_token, verified_at)
        values (${id}, ${organizationId}, ${`d-${randomBytes(4).toString('hex')}.example-org.test`}, 'VERIFIED', 'token', now())`;
    const headers = await plain.bearer({ orgs: { [organizationId]: 'OWNER' } });
    const call = async (field: string, domainId: string) =>
      (
        await plain.gql<Record<string, DomainPayload>>(
          `mutation ($input: CustomDomainInput!) { ${field}(input: $input) { ${DOMAIN_FIELDS} } }`,
          { input: { domainId } },
          headers,
        )
      ).data?.[field];
    expect((await call('requestDomainCertificate', first))?.errors).toMatchObject([
      { code: 'CONFLICT', message: expect.stringMatching(/ACME_DIRECTORY_URL/) },
    ]);
    expect((await call('activateCustomDomain', first))?.customDomain?.state).toBe('ACTIVE');
    expect((await call('activateCustomDomain', second))?.customDomain?.state).toBe('ACTIVE');
    const states =
      await plain.sql`select id, state from branding.custom_domains where organization_id = ${organizationId}`;
    // The one ACTIVE before has no certificate: back to VERIFIED, not CERTIFICATE_ISSUED.
    expect(Object.fromEntries(states.map((row) => [row.id, row.state]))).toEqual({
      [first]: 'VERIFIED',
      [second]: 'ACTIVE',
    });
    const metrics = await (await fetch(new URL('/metrics', plain.service.url))).text();
    expect(metrics).not.toContain('bilten_certificate_issuance_total');
  });
});
