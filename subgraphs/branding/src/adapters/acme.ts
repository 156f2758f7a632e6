import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Agent } from 'node:https';
import { rootCertificates } from 'node:tls';
import * as acme from 'acme-client';
import { Counter, Gauge, type Registry } from 'prom-client';

/** A challenge the platform answers at `/.well-known/acme-challenge/{token}` while the CA validates it. */
export interface PendingChallenge {
  token: string;
  keyAuthorization: string;
  hostname: string;
  expiresAt: Date;
}

/** Where the adapter keeps what outlives one order (db/certificates.ts through domain/certificates.ts). */
export interface AcmeStore {
  /** The stored account of the directory, if any (keys are PEM here: the store encrypts them). */
  account(directoryUrl: string): Promise<{ accountKey: string; accountUrl: string | null } | undefined>;
  /** Stores a new key unless a replica did first; answers the key that is stored. */
  saveAccountKey(directoryUrl: string, accountKey: string): Promise<string>;
  saveAccountUrl(directoryUrl: string, accountUrl: string): Promise<void>;
  putChallenge(challenge: PendingChallenge): Promise<void>;
  removeChallenge(token: string): Promise<void>;
}

export interface IssuedChain {
  /** The certificate and its intermediates, PEM. */
  chainPem: string;
  /** The certificate's own private key, PEM (new for every certificate). */
  keyPem: string;
}

/** Issues certificates for hostnames: the only thing the certificate job needs from a CA. */
export interface CertificateAuthority {
  issue(hostname: string): Promise<IssuedChain>;
}

export interface AcmeOptions {
  directoryUrl: string;
  contactEmail?: string | undefined;
  /** PEM of a CA to trust for the directory's TLS besides the system's (pebble's). */
  caFile?: string | undefined;
  store: AcmeStore;
}

/** How long a stored challenge is answered: longer than any order takes, short enough to go stale. */
const CHALLENGE_TTL_MS = 60 * 60_000;

// acme-client sends every request through one axios instance of its own; an agent per directory
// origin trusts that directory's CA there only, never for the rest of the process.
const agentsByOrigin = new Map<string, Agent>();
let httpConfigured = false;

/** Once, when the first CA is made (not on import): acme-client's axios instance, as explained above. */
function configureAcmeHttp() {
  if (httpConfigured) return;
  httpConfigured = true;
  acme.axios.interceptors.request.use((request) => {
    const agent = request.url ? agentsByOrigin.get(new URL(request.url).origin) : undefined;
    if (agent) request.httpsAgent = agent;
    return request;
  });
  // Failures are retried by the certificate job (with backoff); acme-client's five retries of a
  // directory that is down would hold a pass for over a minute.
  const defaults = acme.axios.defaults as typeof acme.axios.defaults & {
    acmeSettings: Record<string, unknown>;
  };
  defaults.acmeSettings = { ...defaults.acmeSettings, retryMaxAttempts: 1 };
}

/** Polling a pending authorization or order: soon at first (validations take seconds), then up to 30 s apart. */
const POLLING = { backoffAttempts: 10, backoffMin: 500, backoffMax: 30_000 };

/**
 * ACME (RFC 8555) with HTTP-01: one account per directory URL, its key made once and stored
 * (encrypted by the store) so every replica and restart uses the same account.
 */
export function acmeCertificateAuthority(options: AcmeOptions): CertificateAuthority {
  const { directoryUrl, store } = options;
  configureAcmeHttp();
  if (options.caFile) {
    const ca = [...rootCertificates, readFileSync(options.caFile, 'utf8')];
    agentsByOrigin.set(new URL(directoryUrl).origin, new Agent({ ca, keepAlive: true }));
  }
  let client: Promise<acme.Client> | undefined;

  async function connect(): Promise<acme.Client> {
    let stored = await store.account(directoryUrl);
    if (!stored) {
      const fresh = (await acme.crypto.createPrivateEcdsaKey('P-256')).toString();
      stored = { accountKey: await store.saveAccountKey(directoryUrl, fresh), accountUrl: null };
    }
    const accountClient = new acme.Client({
      directoryUrl,
      accountKey: stored.accountKey,
      ...POLLING,
      ...(stored.accountUrl ? { accountUrl: stored.accountUrl } : {}),
    });
    if (!stored.accountUrl) {
      // Registering an existing key answers the existing account: safe when replicas race here.
      await accountClient.createAccount({
        termsOfServiceAgreed: true,
        ...(options.contactEmail ? { contact: [`mailto:${options.contactEmail}`] } : {}),
      });
      await store.saveAccountUrl(directoryUrl, accountClient.getAccountUrl());
    }
    return accountClient;
  }

  const accountClient = () => {
    client ??= connect().catch((error) => {
      client = undefined;
      throw error;
    });
    return client;
  };

  return {
    async issue(hostname) {
      const acmeClient = await accountClient();
      const order = await acmeClient.createOrder({ identifiers: [{ type: 'dns', value: hostname }] });
      const authorizations = await acmeClient.getAuthorizations(order);
      for (const authorization of authorizations) {
        // A valid authorization (reused by the CA) needs no challenge.
        if (authorization.status === 'valid') continue;
        const challenge = authorization.challenges.find((candidate) => candidate.type === 'http-01');
        if (!challenge) throw new Error(`the CA offered no HTTP-01 challenge for ${hostname}`);
        const keyAuthorization = await acmeClient.getChallengeKeyAuthorization(challenge);
        // Stored before the CA is told: whichever replica its request reaches must answer it.
        await store.putChallenge({
          token: challenge.token,
          keyAuthorization,
          hostname,
          expiresAt: new Date(Date.now() + CHALLENGE_TTL_MS),
        });
        try {
          await acmeClient.completeChallenge(challenge);
          await acmeClient.waitForValidStatus(authorization);
        } catch (error) {
          throw new Error(await whyInvalid(acmeClient, authorization, error));
        } finally {
          await store.removeChallenge(challenge.token);
        }
      }
      // A new key per certificate. The CSR through acme-client's forge helpers: its @peculiar/x509
      // ones fail while two @peculiar/asn1-schema versions are installed ("Cannot get schema for
      // 'CertificationRequestInfo'"), which mailauth's pin causes here.
      const key = generateKeyPairSync('rsa', {
        modulusLength: 2048,
        publicKeyEncoding: { type: 'spki', format: 'pem' },
        privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
      }).privateKey;
      const [, csr] = await acme.forge.createCsr({ commonName: hostname, altNames: [hostname] }, key);
      const finalized = await acmeClient.finalizeOrder(order, csr);
      const chainPem = await acmeClient.getCertificate(finalized);
      return { chainPem, keyPem: key };
    },
  };
}

/** The CA's own words for a failed validation (e.g. "connection refused"), not only "invalid". */
async function whyInvalid(client: acme.Client, authorization: acme.Authorization, error: unknown) {
  const fallback = error instanceof Error ? error.message : String(error);
  try {
    const [current] = await client.getAuthorizations({
      authorizations: [authorization.url],
    } as acme.Order);
    const detail = current?.challenges.find((challenge) => challenge.type === 'http-01')?.error;
    return detail && typeof detail === 'object' && 'detail' in detail ? String(detail.detail) : fallback;
  } catch {
    return fallback;
  }
}

/** The certificate job's Prometheus series (alerts: k8s/monitoring/prometheus-rules.yaml). */
export interface CertificateMetrics {
  issuance: Counter<'outcome' | 'kind'>;
  /** Unix seconds of the soonest expiry among issued certificates. */
  soonestExpiry: Gauge;
  /** Puts both on the registry `/metrics` serves (made before it is known: at setup). */
  register(registry: Registry): void;
}

export function createCertificateMetrics(): CertificateMetrics {
  const issuance = new Counter({
    name: 'bilten_certificate_issuance_total',
    help: 'ACME certificate orders by outcome (success|failure) and kind (issue|renewal)',
    labelNames: ['outcome', 'kind'] as const,
    registers: [],
  });
  const soonestExpiry = new Gauge({
    name: 'bilten_certificate_expiry_timestamp_seconds',
    help: 'When the soonest-expiring custom domain certificate expires (Unix seconds)',
    registers: [],
  });
  return {
    issuance,
    soonestExpiry,
    register(registry) {
      registry.registerMetric(issuance);
      registry.registerMetric(soonestExpiry);
    },
  };
}
