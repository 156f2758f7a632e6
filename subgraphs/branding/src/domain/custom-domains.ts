import { randomBytes } from 'node:crypto';
import { domainRemoved, domainVerified } from '@bilten/contracts/branding';
import {
  mutationRule,
  ORGANIZATION_ROLES,
  requireOrgRole,
  requireUser,
  type UserError,
  uuidInput,
  type Viewer,
} from '@bilten/platform';
import { v7 as uuidv7 } from 'uuid';
import { z } from 'zod';
import type { DnsRecordLookup } from '../adapters/dns-records.ts';
import type { Context } from '../context.ts';
import {
  deleteDomain,
  domainByHostname,
  domainCountOf,
  domainsByIds,
  insertDomainUnlessTaken,
  lockDomain,
  lockOrganizationDomains,
  updateDomain,
  VERIFIED_STATES,
  verifiedDomainByHostname,
} from '../db/custom-domains.ts';
import type { BrandKitRow, CustomDomainRow } from '../db/schema.ts';
import { announceBrandedContext } from './branded-context.ts';
import { checkHostname, cnameRecordOf, isApex, normalHostname, verificationRecordOf } from './hostnames.ts';

/*
 * Custom domains: an organization claims a hostname, proves it holds it with a TXT record and
 * points it at the platform with a CNAME; once both are seen the domain is VERIFIED and the
 * certificate job (certificates.ts) takes it further. A hostname belongs to one organization.
 */

type DomainContext = Pick<Context, 'db' | 'viewer' | 'outbox' | 'config' | 'dns'>;

interface DomainResult {
  customDomain: CustomDomainRow | null;
  errors: UserError[];
}
interface RemoveResult {
  removedDomainId: string | null;
  errors: UserError[];
}

const failed = (errors: UserError[]): DomainResult => ({ customDomain: null, errors });
const noSuchDomain = (): UserError => ({
  code: 'NOT_FOUND',
  message: 'no such custom domain',
  field: ['input', 'domainId'],
});

/** ADMIN and OWNER manage an organization's domains; nobody else learns they exist. */
function managesDomainsOf(viewer: Viewer, organizationId: string): boolean {
  if (viewer.kind !== 'user') return false;
  const role = viewer.organizations[organizationId];
  return !!role && ORGANIZATION_ROLES.indexOf(role) >= ORGANIZATION_ROLES.indexOf('ADMIN');
}

/** 160 random bits, hex: unguessable, and safe in a TXT record as is. */
const newVerificationToken = () => randomBytes(20).toString('hex');

const addCustomDomainInput = z.object({ organizationId: uuidInput, hostname: z.string().max(1000) });
const customDomainInput = z.object({ domainId: uuidInput });

/**
 * Claims `hostname` for the organization, PENDING_VERIFICATION until its DNS records are seen.
 * The same organization adding it again gets its domain back; another organization is refused
 * without learning whose it is. The unique index on the hostname settles a race between two.
 */
export const addCustomDomain = mutationRule(
  { input: addCustomDomainInput, caller: requireUser, invalid: failed },
  async (ctx: DomainContext, { organizationId, hostname: typed }): Promise<DomainResult> => {
    const user = requireOrgRole(ctx.viewer, organizationId, 'ADMIN');
    // The CNAME target is the platform's too, wherever it lives.
    const platform = [...ctx.config.PLATFORM_DOMAINS, ctx.config.CUSTOM_DOMAIN_CNAME_TARGET];
    const checked = checkHostname(typed, platform);
    if (!checked.ok)
      return failed([{ code: 'INVALID_INPUT', message: checked.reason, field: ['input', 'hostname'] }]);
    const claimedElsewhere = failed([
      {
        code: 'ALREADY_EXISTS',
        message: `${checked.displayHostname} is already claimed by another organization`,
        field: ['input', 'hostname'],
      },
    ]);
    const cap = ctx.config.CUSTOM_DOMAINS_PER_ORGANIZATION;
    return ctx.db.transaction(async (tx) => {
      await lockOrganizationDomains(tx, organizationId);
      const existing = await domainByHostname(tx, checked.hostname);
      if (existing)
        return existing.organizationId === organizationId
          ? { customDomain: existing, errors: [] }
          : claimedElsewhere;
      if ((await domainCountOf(tx, organizationId)) >= cap)
        return failed([
          {
            code: 'CONFLICT',
            message: `an organization may have at most ${cap} custom domains: remove one first`,
            field: ['input', 'hostname'],
          },
        ]);
      const customDomain = await insertDomainUnlessTaken(tx, {
        id: uuidv7(),
        organizationId,
        hostname: checked.hostname,
        verificationToken: newVerificationToken(),
        createdBy: user.userId,
      });
      return customDomain ? { customDomain, errors: [] } : claimedElsewhere;
    });
  },
);

/** Why `node:dns` could not ask, in words an organizer can act on (its codes read like our own faults). */
const DNS_FAILURES: Record<string, string> = {
  ETIMEOUT: 'the DNS servers did not answer in time',
  ECONNREFUSED: 'the DNS servers refused the connection',
  ESERVFAIL: 'the DNS servers failed to answer (SERVFAIL)',
  EREFUSED: 'the DNS servers refused the question',
};

/** What the DNS answers said: null when both records are right, otherwise why not. */
export async function dnsProblems(
  dns: DnsRecordLookup,
  domain: Pick<CustomDomainRow, 'hostname' | 'verificationToken'>,
  cnameTarget: string,
): Promise<string | null> {
  const txt = verificationRecordOf(domain.hostname, domain.verificationToken);
  const target = cnameTarget.toLowerCase().replace(/\.$/, '');
  let found: [string[], string[]];
  try {
    found = await Promise.all([dns.txt(txt.name), dns.cname(domain.hostname)]);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? '';
    return `could not ask DNS: ${DNS_FAILURES[code] ?? `the lookup failed (${code || 'unknown error'})`}; the records were not checked, try again later`;
  }
  const [texts, cnames] = found;
  const listed = (values: string[]) =>
    values.length ? `found ${values.map((value) => JSON.stringify(value)).join(', ')}` : 'found none';
  const problems: string[] = [];
  if (!texts.includes(txt.value))
    problems.push(`TXT record ${txt.name}: expected "${txt.value}", ${listed(texts)}`);
  const names = cnames.map((name) => name.toLowerCase().replace(/\.$/, ''));
  if (!names.includes(target)) {
    const apexHint = isApex(domain.hostname)
      ? ' (most DNS hosts allow no CNAME on a domain itself: use a name under it, e.g. tickets.' +
        `${domain.hostname})`
      : '';
    problems.push(`CNAME record ${domain.hostname}: expected "${target}", ${listed(names)}${apexHint}`);
  }
  return problems.length ? problems.join('; ') : null;
}

/**
 * Looks the records up now. Both right: VERIFIED, `domain.verified` announced and the certificate
 * due at once. Otherwise it stays (or becomes again, from FAILED) PENDING_VERIFICATION with what was
 * found against what was expected. A domain already verified is answered as it is.
 */
export const verifyCustomDomain = mutationRule(
  { input: customDomainInput, caller: requireUser, invalid: failed },
  async (ctx: DomainContext, { domainId }): Promise<DomainResult> => {
    const [before] = await domainsByIds(ctx.db, [domainId]);
    if (!before || !managesDomainsOf(ctx.viewer, before.organizationId)) return failed([noSuchDomain()]);
    if (VERIFIED_STATES.includes(before.state)) return { customDomain: before, errors: [] };
    // Asked outside the transaction: DNS may take seconds, and no row should stay locked meanwhile.
    const problems = await dnsProblems(ctx.dns, before, ctx.config.CUSTOM_DOMAIN_CNAME_TARGET);
    return ctx.db.transaction(async (tx) => {
      const domain = await lockDomain(tx, domainId);
      if (!domain) return failed([noSuchDomain()]);
      // Verified meanwhile (a second click), or the token changed: the latest state stands.
      if (VERIFIED_STATES.includes(domain.state) || domain.verificationToken !== before.verificationToken)
        return { customDomain: domain, errors: [] };
      const now = new Date();
      if (problems)
        return {
          customDomain: await updateDomain(tx, domainId, {
            state: 'PENDING_VERIFICATION',
            failureReason: problems,
            lastCheckedAt: now,
          }),
          errors: [],
        };
      const verified = await updateDomain(tx, domainId, {
        state: 'VERIFIED',
        failureReason: null,
        lastCheckedAt: now,
        verifiedAt: now,
        certificateDueAt: now,
        certificateAttempts: 0,
      });
      await ctx.outbox.publish(tx, domainVerified, verified.id, {
        domainId: verified.id,
        organizationId: verified.organizationId,
        hostname: verified.hostname,
        occurredAt: now.toISOString(),
      });
      return { customDomain: verified, errors: [] };
    });
  },
);

/**
 * Deletes the domain (its hostname may be claimed again) and announces `domain.removed`; when it
 * was the ACTIVE one, the organization's brand is announced again without a domain.
 */
export const removeCustomDomain = mutationRule(
  {
    input: customDomainInput,
    caller: requireUser,
    invalid: (errors): RemoveResult => ({ removedDomainId: null, errors }),
  },
  async (ctx: DomainContext, { domainId }): Promise<RemoveResult> =>
    ctx.db.transaction(async (tx) => {
      const domain = await lockDomain(tx, domainId);
      if (!domain || !managesDomainsOf(ctx.viewer, domain.organizationId))
        return { removedDomainId: null, errors: [noSuchDomain()] };
      await deleteDomain(tx, domain.id);
      await ctx.outbox.publish(tx, domainRemoved, domain.id, {
        domainId: domain.id,
        organizationId: domain.organizationId,
        hostname: domain.hostname,
        occurredAt: new Date().toISOString(),
      });
      if (domain.state === 'ACTIVE')
        await announceBrandedContext(tx, ctx.outbox, ctx.config, domain.organizationId);
      return { removedDomainId: domain.id, errors: [] };
    }),
);

/** `customDomain(id:)` and `CustomDomain` references: ADMIN+ of its organization; null for anyone else, as for an unknown id. */
export async function customDomainById(
  ctx: Pick<Context, 'viewer' | 'loaders'>,
  { id }: { id: string },
): Promise<CustomDomainRow | null> {
  const domain = await ctx.loaders.customDomain.load(id);
  return domain && managesDomainsOf(ctx.viewer, domain.organizationId) ? domain : null;
}

/** `Organization.customDomains`, oldest first: ADMIN+ of the organization (FORBIDDEN otherwise). */
export function customDomainsOf(
  ctx: Pick<Context, 'viewer' | 'loaders'>,
  { organizationId }: { organizationId: string },
): Promise<CustomDomainRow[]> {
  requireOrgRole(ctx.viewer, organizationId, 'ADMIN');
  return ctx.loaders.customDomainsOfOrganization.load(organizationId);
}

/** `brandKitForHost`: the kit of the organization a verified (or later) hostname belongs to; null for any other host. */
export async function brandKitForHost(
  ctx: Pick<Context, 'db' | 'loaders'>,
  { hostname }: { hostname: string },
): Promise<BrandKitRow | null> {
  const normal = normalHostname(hostname);
  const domain = normal && (await verifiedDomainByHostname(ctx.db, normal));
  return domain ? ctx.loaders.brandKitOfOrganization.load(domain.organizationId) : null;
}

/** `CustomDomain`'s records, as the organizer creates them at their DNS host. */
export const dnsRecordsOf = (
  domain: CustomDomainRow,
  config: Pick<Context['config'], 'CUSTOM_DOMAIN_CNAME_TARGET'>,
) => ({
  verificationRecord: verificationRecordOf(domain.hostname, domain.verificationToken),
  cnameRecord: cnameRecordOf(domain.hostname, config.CUSTOM_DOMAIN_CNAME_TARGET),
});
