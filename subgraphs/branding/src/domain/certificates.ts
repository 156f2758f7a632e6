import { X509Certificate } from 'node:crypto';
import { domainActivated } from '@bilten/contracts/branding';
import {
  columnAad,
  type Database,
  type KeyRing,
  type Logger,
  mutationRule,
  type Outbox,
  requireUser,
  runPeriodically,
  type Transaction,
  type UserError,
  uuidInput,
} from '@bilten/platform';
import { z } from 'zod';
import {
  acmeCertificateAuthority,
  type CertificateAuthority,
  type CertificateMetrics,
} from '../adapters/acme.ts';
import type { BrandingConfig } from '../config.ts';
import type { Context } from '../context.ts';
import {
  ACME_ACCOUNT_KEY_COLUMN,
  acmeAccountOf,
  CERTIFIABLE_STATES,
  CERTIFICATE_CHAIN_COLUMN,
  CERTIFICATE_KEY_COLUMN,
  claimDueDomains,
  deleteAcmeChallenge,
  insertAcmeAccountOnce,
  insertAcmeChallenge,
  makeCertificateDue,
  otherActiveDomain,
  recordCertificateFailure,
  setAcmeAccountUrl,
  setDomainState,
  soonestCertificateExpiry,
  storeCertificate,
} from '../db/certificates.ts';
import { lockDomain, lockOrganizationDomains } from '../db/custom-domains.ts';
import type { CustomDomainRow } from '../db/schema.ts';
import { announceBrandedContext } from './branded-context.ts';
import { customDomainById } from './custom-domains.ts';

/*
 * Certificates for custom domains: the certificate job (any replica may run it; a lease per domain
 * lets only one work on a domain at a time) gets a VERIFIED domain its first certificate through
 * ACME HTTP-01, renews it CERTIFICATE_RENEW_DAYS before expiry, and retries failures with backoff.
 */

type CertificateConfig = Pick<
  BrandingConfig,
  'CERTIFICATE_RENEW_DAYS' | 'CERTIFICATE_RETRY_BASE_MS' | 'PUBLIC_ASSETS_URL'
>;

/** What the job (and `requestDomainCertificate`) works with. */
export interface CertificateWork {
  db: Database;
  outbox: Outbox;
  log: Logger;
  config: CertificateConfig;
  keyRing: KeyRing;
  authority: CertificateAuthority;
  metrics: CertificateMetrics;
}

const DAY_MS = 86_400_000;
/** Longer than one issuance can take (acme-client polls for at most a few minutes). */
const LEASE_MS = 10 * 60_000;
/** Domains one pass takes on; the rest wait for the next pass (or another replica). */
const PER_PASS = 10;
/** A first certificate that failed this often makes the domain FAILED; renewals keep trying. */
const MAX_FIRST_ATTEMPTS = 5;

/** The CA of ACME_DIRECTORY_URL, its account key and challenges kept in the database; undefined when unset. */
export function certificateAuthorityOf(
  config: Pick<BrandingConfig, 'ACME_DIRECTORY_URL' | 'ACME_CONTACT_EMAIL' | 'ACME_CA_FILE'>,
  db: Database,
  keyRing: KeyRing,
): CertificateAuthority | undefined {
  const directoryUrl = config.ACME_DIRECTORY_URL;
  if (!directoryUrl) return undefined;
  const aad = columnAad(ACME_ACCOUNT_KEY_COLUMN, directoryUrl);
  return acmeCertificateAuthority({
    directoryUrl,
    contactEmail: config.ACME_CONTACT_EMAIL,
    caFile: config.ACME_CA_FILE,
    store: {
      async account(url) {
        const row = await acmeAccountOf(db, url);
        return (
          row && { accountKey: keyRing.decrypt(row.accountKeyEncrypted, aad), accountUrl: row.accountUrl }
        );
      },
      async saveAccountKey(url, accountKey) {
        const row = await insertAcmeAccountOnce(db, url, keyRing.encrypt(accountKey, aad));
        return keyRing.decrypt(row.accountKeyEncrypted, aad);
      },
      saveAccountUrl: (url, accountUrl) => setAcmeAccountUrl(db, url, accountUrl),
      putChallenge: (challenge) => insertAcmeChallenge(db, challenge),
      removeChallenge: (token) => deleteAcmeChallenge(db, token),
    },
  });
}

/** Runs a certificate pass every `intervalMs` (the subgraph's `background`). */
export function startCertificateJob(work: CertificateWork, intervalMs: number): { stop(): Promise<void> } {
  return runPeriodically(
    intervalMs,
    async () => void (await runCertificatePass(work)),
    (error) => work.log.error({ err: error }, 'certificate pass failed'),
  );
}

/**
 * One pass: claims the domains due (SKIP LOCKED, leased) and works on each in turn; answers how many
 * it took. Replicas running passes at once take disjoint domains.
 */
export async function runCertificatePass(work: CertificateWork): Promise<number> {
  const claimed = await claimDueDomains(work.db, { limit: PER_PASS, leaseMs: LEASE_MS });
  for (const domain of claimed) await certify(work, domain);
  await refreshExpiryGauge(work);
  return claimed.length;
}

/** The soonest expiry, for the alert on certificates about to expire; 0 while none is issued (the rule skips 0). */
async function refreshExpiryGauge(work: Pick<CertificateWork, 'db' | 'metrics'>) {
  const soonest = await soonestCertificateExpiry(work.db);
  work.metrics.soonestExpiry.set(soonest ? soonest.getTime() / 1000 : 0);
}

/** Full jitter: anywhere up to the doubled delay, so that retries of many domains spread out. */
const retryDelayMs = (baseMs: number, attempts: number) =>
  Math.random() * Math.min(DAY_MS, baseMs * 2 ** attempts);

/**
 * Issues (or renews) the leased domain's certificate and records the outcome. A first certificate
 * makes the domain CERTIFICATE_ISSUED, and ACTIVE when the organization has no ACTIVE domain yet.
 * Answers the domain as it now is (undefined when it was removed meanwhile).
 */
async function certify(work: CertificateWork, domain: CustomDomainRow): Promise<CustomDomainRow | undefined> {
  const kind = domain.state === 'VERIFIED' ? 'issue' : 'renewal';
  let issued: { chainPem: string; keyPem: string; issuedAt: Date; expiresAt: Date };
  try {
    const { chainPem, keyPem } = await work.authority.issue(domain.hostname);
    const leaf = new X509Certificate(chainPem);
    issued = { chainPem, keyPem, issuedAt: new Date(leaf.validFrom), expiresAt: new Date(leaf.validTo) };
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    work.metrics.issuance.inc({ outcome: 'failure', kind });
    const giveUp = kind === 'issue' && domain.certificateAttempts + 1 >= MAX_FIRST_ATTEMPTS;
    const retryAt = giveUp
      ? null
      : new Date(
          Date.now() + retryDelayMs(work.config.CERTIFICATE_RETRY_BASE_MS, domain.certificateAttempts),
        );
    work.log.warn(
      { domainId: domain.id, hostname: domain.hostname, kind, reason, retryAt },
      'certificate not issued',
    );
    return recordCertificateFailure(work.db, domain.id, { error: reason.slice(0, 500), retryAt });
  }
  work.metrics.issuance.inc({ outcome: 'success', kind });
  work.log.info(
    { domainId: domain.id, hostname: domain.hostname, kind, expiresAt: issued.expiresAt },
    'certificate issued',
  );
  const stored = await work.db.transaction(async (tx) => {
    const stored = await storeCertificate(tx, domain.id, {
      chainEncrypted: work.keyRing.encrypt(issued.chainPem, columnAad(CERTIFICATE_CHAIN_COLUMN, domain.id)),
      keyEncrypted: work.keyRing.encrypt(issued.keyPem, columnAad(CERTIFICATE_KEY_COLUMN, domain.id)),
      issuedAt: issued.issuedAt,
      expiresAt: issued.expiresAt,
      dueAt: new Date(issued.expiresAt.getTime() - work.config.CERTIFICATE_RENEW_DAYS * DAY_MS),
    });
    if (!stored || kind !== 'issue') return stored;
    // The organization's first usable domain is where its links point from now on.
    await lockOrganizationDomains(tx, stored.organizationId);
    if (await otherActiveDomain(tx, stored.organizationId, stored.id)) return stored;
    const active = await setDomainState(tx, stored.id, 'ACTIVE');
    await announceActivation(tx, work, active!);
    return active;
  });
  await refreshExpiryGauge(work);
  return stored;
}

/** `domain.activated`, then the organization's whole branded context (its links now use this host). */
async function announceActivation(
  tx: Transaction,
  { outbox, config }: Pick<CertificateWork, 'outbox' | 'config'>,
  domain: CustomDomainRow,
) {
  await outbox.publish(tx, domainActivated, domain.id, {
    domainId: domain.id,
    organizationId: domain.organizationId,
    hostname: domain.hostname,
    occurredAt: (domain.activatedAt ?? new Date()).toISOString(),
  });
  await announceBrandedContext(tx, outbox, config, domain.organizationId);
}

// ---------------------------------------------------------------- mutations and fields

interface DomainResult {
  customDomain: CustomDomainRow | null;
  errors: UserError[];
}
const failed = (errors: UserError[]): DomainResult => ({ customDomain: null, errors });
const domainError = (code: UserError['code'], message: string): UserError => ({
  code,
  message,
  field: ['input', 'domainId'],
});
const customDomainInput = z.object({ domainId: uuidInput });

type CertificateContext = Pick<
  Context,
  'db' | 'viewer' | 'outbox' | 'config' | 'loaders' | 'log' | 'keyRing' | 'certificates'
>;

/**
 * Makes the domain's certificate due now and, when no replica holds it, issues (or renews) it
 * within the request; when one does, answers the domain as it is with a CONFLICT saying so.
 */
export const requestDomainCertificate = mutationRule(
  { input: customDomainInput, caller: requireUser, invalid: failed },
  async (ctx: CertificateContext, { domainId }): Promise<DomainResult> => {
    const domain = await customDomainById(ctx, { id: domainId });
    if (!domain) return failed([domainError('NOT_FOUND', 'no such custom domain')]);
    if (!(CERTIFIABLE_STATES as readonly string[]).includes(domain.state))
      return {
        customDomain: domain,
        errors: [
          domainError('CONFLICT', `the domain is ${domain.state}: verify it first (verifyCustomDomain)`),
        ],
      };
    if (!ctx.certificates)
      return {
        customDomain: domain,
        errors: [
          domainError('CONFLICT', 'certificates are not requested here (ACME_DIRECTORY_URL is unset)'),
        ],
      };
    await makeCertificateDue(ctx.db, domainId);
    const [claimed] = await claimDueDomains(ctx.db, { limit: 1, leaseMs: LEASE_MS, onlyId: domainId });
    if (!claimed)
      return {
        customDomain: domain,
        errors: [domainError('CONFLICT', 'a certificate for this domain is already being requested')],
      };
    const after = await certify(
      { ...ctx.certificates, db: ctx.db, outbox: ctx.outbox, log: ctx.log },
      claimed,
    );
    if (!after) return failed([domainError('NOT_FOUND', 'no such custom domain')]);
    return {
      customDomain: after,
      errors:
        after.certificateError && after.certificateAttempts > 0
          ? [domainError('CONFLICT', `no certificate yet: ${after.certificateError}`)]
          : [],
    };
  },
);

/**
 * Makes a domain with a certificate the organization's ACTIVE one (where its links point); the one
 * ACTIVE before goes back to CERTIFICATE_ISSUED. Activating the ACTIVE domain changes nothing.
 * Without ACME_DIRECTORY_URL a VERIFIED domain may be activated (certificates are managed outside).
 */
export const activateCustomDomain = mutationRule(
  { input: customDomainInput, caller: requireUser, invalid: failed },
  async (ctx: CertificateContext, { domainId }): Promise<DomainResult> => {
    const visible = await customDomainById(ctx, { id: domainId });
    if (!visible) return failed([domainError('NOT_FOUND', 'no such custom domain')]);
    return ctx.db.transaction(async (tx) => {
      await lockOrganizationDomains(tx, visible.organizationId);
      const domain = await lockDomain(tx, domainId);
      if (!domain) return failed([domainError('NOT_FOUND', 'no such custom domain')]);
      if (domain.state === 'ACTIVE') return { customDomain: domain, errors: [] };
      // Without built-in ACME, TLS is someone else's (a TLS proxy, cert-manager): verified is enough.
      const ready = ctx.certificates ? ['CERTIFICATE_ISSUED'] : ['CERTIFICATE_ISSUED', 'VERIFIED'];
      if (!ready.includes(domain.state))
        return {
          customDomain: domain,
          errors: [domainError('CONFLICT', `the domain is ${domain.state}: it needs a certificate first`)],
        };
      const previous = await otherActiveDomain(tx, domain.organizationId, domain.id);
      if (previous)
        await setDomainState(
          tx,
          previous.id,
          previous.certificateIssuedAt ? 'CERTIFICATE_ISSUED' : 'VERIFIED',
        );
      const active = await setDomainState(tx, domain.id, 'ACTIVE');
      await announceActivation(tx, ctx, active!);
      return { customDomain: active!, errors: [] };
    });
  },
);

/** `CustomDomain.certificate`: null before the first certificate. */
export function certificateOf(
  domain: CustomDomainRow,
  config: Pick<BrandingConfig, 'CERTIFICATE_RENEW_DAYS'>,
): { issuedAt: Date; expiresAt: Date; renewsAt: Date; lastError: string | null } | null {
  if (!domain.certificateIssuedAt || !domain.certificateExpiresAt) return null;
  return {
    issuedAt: domain.certificateIssuedAt,
    expiresAt: domain.certificateExpiresAt,
    renewsAt: new Date(domain.certificateExpiresAt.getTime() - config.CERTIFICATE_RENEW_DAYS * DAY_MS),
    lastError: domain.certificateError,
  };
}
