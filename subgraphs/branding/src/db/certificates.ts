import type { Database, EncryptedColumn, Transaction } from '@bilten/platform';
import { and, asc, eq, gt, inArray, isNull, lte, min, ne, or, sql } from 'drizzle-orm';
import { acmeAccounts, acmeChallenges, type CustomDomainRow, customDomains } from './schema.ts';

type Db = Database | Transaction;

/** The encrypted certificate columns, bound to the domain's id; the account key to its directory URL. */
export const CERTIFICATE_CHAIN_COLUMN: EncryptedColumn = {
  schema: 'branding',
  table: 'custom_domains',
  column: 'certificate_chain_encrypted',
};
export const CERTIFICATE_KEY_COLUMN: EncryptedColumn = {
  schema: 'branding',
  table: 'custom_domains',
  column: 'certificate_key_encrypted',
};
export const ACME_ACCOUNT_KEY_COLUMN: EncryptedColumn = {
  schema: 'branding',
  table: 'acme_accounts',
  column: 'account_key_encrypted',
  key: 'directory_url',
};

/** States whose domain may get a certificate: a first one (VERIFIED) or a renewal. */
export const CERTIFIABLE_STATES = ['VERIFIED', 'CERTIFICATE_ISSUED', 'ACTIVE'] as const;

/**
 * Takes up to `limit` domains whose certificate work is due (a first issue, a renewal or a retry)
 * and not leased by another replica, and leases them for `leaseMs`. SKIP LOCKED: two replicas
 * claiming at once get disjoint domains. A VERIFIED domain no one scheduled yet is due now.
 * `onlyId` narrows it to one domain (`requestDomainCertificate`).
 */
export async function claimDueDomains(
  db: Db,
  { limit, leaseMs, onlyId }: { limit: number; leaseMs: number; onlyId?: string },
): Promise<CustomDomainRow[]> {
  const due = db
    .select({ id: customDomains.id })
    .from(customDomains)
    .where(
      and(
        inArray(customDomains.state, [...CERTIFIABLE_STATES]),
        or(
          lte(customDomains.certificateDueAt, sql`now()`),
          and(isNull(customDomains.certificateDueAt), eq(customDomains.state, 'VERIFIED')),
        ),
        or(isNull(customDomains.certificateLeaseUntil), lte(customDomains.certificateLeaseUntil, sql`now()`)),
        onlyId ? eq(customDomains.id, onlyId) : undefined,
      ),
    )
    .orderBy(asc(customDomains.certificateDueAt))
    .limit(limit)
    .for('update', { skipLocked: true });
  return db
    .update(customDomains)
    .set({ certificateLeaseUntil: sql`now() + make_interval(secs => ${leaseMs / 1000})` })
    .where(inArray(customDomains.id, due))
    .returning();
}

/** Ends a lease without recording anything (the work was not attempted). */
export async function releaseLease(db: Db, domainId: string): Promise<void> {
  await db.update(customDomains).set({ certificateLeaseUntil: null }).where(eq(customDomains.id, domainId));
}

/** Makes the domain's certificate work due now (`requestDomainCertificate`). */
export async function makeCertificateDue(db: Db, domainId: string): Promise<void> {
  await db
    .update(customDomains)
    .set({ certificateDueAt: sql`now()`, updatedAt: sql`now()` })
    .where(eq(customDomains.id, domainId));
}

export interface IssuedCertificate {
  chainEncrypted: string;
  keyEncrypted: string;
  issuedAt: Date;
  expiresAt: Date;
  dueAt: Date;
}

/**
 * Stores a new certificate and ends the lease; a VERIFIED domain becomes CERTIFICATE_ISSUED. Only
 * while the domain is still certifiable: a domain removed or failed meanwhile keeps what it has.
 */
export async function storeCertificate(
  db: Db,
  domainId: string,
  certificate: IssuedCertificate,
): Promise<CustomDomainRow | undefined> {
  const [row] = await db
    .update(customDomains)
    .set({
      certificateChainEncrypted: certificate.chainEncrypted,
      certificateKeyEncrypted: certificate.keyEncrypted,
      certificateIssuedAt: certificate.issuedAt,
      certificateExpiresAt: certificate.expiresAt,
      certificateDueAt: certificate.dueAt,
      certificateLeaseUntil: null,
      certificateAttempts: 0,
      certificateError: null,
      failureReason: null,
      state: sql`case when ${customDomains.state} = 'VERIFIED' then 'CERTIFICATE_ISSUED'::branding.domain_state else ${customDomains.state} end`,
      updatedAt: sql`now()`,
    })
    .where(and(eq(customDomains.id, domainId), inArray(customDomains.state, [...CERTIFIABLE_STATES])))
    .returning();
  return row;
}

/** Records a failed attempt and when to retry (null: give up, the domain becomes FAILED). */
export async function recordCertificateFailure(
  db: Db,
  domainId: string,
  { error, retryAt }: { error: string; retryAt: Date | null },
): Promise<CustomDomainRow | undefined> {
  const [row] = await db
    .update(customDomains)
    .set({
      certificateAttempts: sql`${customDomains.certificateAttempts} + 1`,
      certificateError: error,
      certificateDueAt: retryAt,
      certificateLeaseUntil: null,
      updatedAt: sql`now()`,
      ...(retryAt
        ? {}
        : { state: 'FAILED' as const, failureReason: `No certificate could be issued: ${error}` }),
    })
    .where(and(eq(customDomains.id, domainId), inArray(customDomains.state, [...CERTIFIABLE_STATES])))
    .returning();
  return row;
}

/** The organization's ACTIVE domain other than `exceptId`, locked. */
export async function otherActiveDomain(
  db: Transaction,
  organizationId: string,
  exceptId: string,
): Promise<CustomDomainRow | undefined> {
  const [row] = await db
    .select()
    .from(customDomains)
    .where(
      and(
        eq(customDomains.organizationId, organizationId),
        eq(customDomains.state, 'ACTIVE'),
        ne(customDomains.id, exceptId),
      ),
    )
    .for('update');
  return row;
}

export async function setDomainState(
  db: Db,
  domainId: string,
  state: 'ACTIVE' | 'CERTIFICATE_ISSUED' | 'VERIFIED',
): Promise<CustomDomainRow | undefined> {
  const [row] = await db
    .update(customDomains)
    .set({
      state,
      ...(state === 'ACTIVE' ? { activatedAt: sql`now()` } : {}),
      updatedAt: sql`now()`,
    })
    .where(eq(customDomains.id, domainId))
    .returning();
  return row;
}

/** The soonest expiry among domains holding a certificate (the expiry gauge), or null. */
export async function soonestCertificateExpiry(db: Db): Promise<Date | null> {
  const [row] = await db
    .select({ soonest: min(customDomains.certificateExpiresAt) })
    .from(customDomains)
    .where(inArray(customDomains.state, ['CERTIFICATE_ISSUED', 'ACTIVE']));
  return row?.soonest ? new Date(row.soonest) : null;
}

// ---------------------------------------------------------------- ACME account and challenges

export async function acmeAccountOf(db: Db, directoryUrl: string) {
  const [row] = await db.select().from(acmeAccounts).where(eq(acmeAccounts.directoryUrl, directoryUrl));
  return row;
}

/** Stores a new account key unless another replica stored one first; either way, the stored one. */
export async function insertAcmeAccountOnce(db: Db, directoryUrl: string, accountKeyEncrypted: string) {
  await db.insert(acmeAccounts).values({ directoryUrl, accountKeyEncrypted }).onConflictDoNothing();
  return (await acmeAccountOf(db, directoryUrl))!;
}

export async function setAcmeAccountUrl(db: Db, directoryUrl: string, accountUrl: string): Promise<void> {
  await db.update(acmeAccounts).set({ accountUrl }).where(eq(acmeAccounts.directoryUrl, directoryUrl));
}

export async function insertAcmeChallenge(
  db: Db,
  challenge: typeof acmeChallenges.$inferInsert,
): Promise<void> {
  await db
    .insert(acmeChallenges)
    .values(challenge)
    .onConflictDoUpdate({
      target: acmeChallenges.token,
      set: {
        keyAuthorization: challenge.keyAuthorization,
        hostname: challenge.hostname,
        expiresAt: challenge.expiresAt,
      },
    });
}

export async function deleteAcmeChallenge(db: Db, token: string): Promise<void> {
  await db.delete(acmeChallenges).where(eq(acmeChallenges.token, token));
}

/** The key authorization of an unexpired challenge, or undefined. */
export async function acmeChallengeAnswer(db: Db, token: string): Promise<string | undefined> {
  const [row] = await db
    .select({ keyAuthorization: acmeChallenges.keyAuthorization })
    .from(acmeChallenges)
    .where(and(eq(acmeChallenges.token, token), gt(acmeChallenges.expiresAt, sql`now()`)));
  return row?.keyAuthorization;
}
