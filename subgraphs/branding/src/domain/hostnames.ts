import { isIP } from 'node:net';
import { domainToASCII, domainToUnicode } from 'node:url';
import { parse } from 'tldts';

/**
 * Custom domains' hostnames, pure: the one normal form every lookup uses (ASCII/punycode, lower
 * case, no trailing dot) and the reasons a name cannot be an organization's domain.
 */

export type HostnameCheck =
  | { ok: true; hostname: string; displayHostname: string; apex: boolean }
  | { ok: false; reason: string };

const MAX_HOSTNAME = 253;
const MAX_LABEL = 63;
/** Letters, digits and inner hyphens (LDH), after punycode: what a certificate and DNS both accept. */
const LDH_LABEL = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/;

const refuse = (reason: string): HostnameCheck => ({ ok: false, reason });

/** Whether `hostname` is one of `platformDomains` or a name under one. */
export const isPlatformHostname = (hostname: string, platformDomains: readonly string[]) =>
  platformDomains.some((platform) => {
    const own = platform.toLowerCase().replace(/\.$/, '');
    return hostname === own || hostname.endsWith(`.${own}`);
  });

/**
 * Normalises what an organizer typed and checks that it can be their domain: a registrable name
 * (the apex, e.g. example.org) or a name under one, never a bare public suffix (co.uk, github.io),
 * an address, a wildcard or the platform's own domains.
 */
export function checkHostname(input: string, platformDomains: readonly string[]): HostnameCheck {
  let name = input.trim().toLowerCase();
  if (!name) return refuse('give a hostname, e.g. tickets.example.org');
  if (/^[a-z][a-z0-9+.-]*:\/\//.test(name) || /[/?#@\\]/.test(name))
    return refuse('give the hostname only, e.g. tickets.example.org (no scheme, path or user)');
  if (name.startsWith('[') || isIP(name) || isIP(name.replace(/\.$/, '')))
    return refuse('an IP address cannot be a custom domain: give a hostname');
  if (/:\d*$/.test(name)) return refuse('give the hostname only, without a port');
  if (name.includes('*')) return refuse('wildcards are not supported: add each hostname');
  if (name.endsWith('.')) name = name.slice(0, -1);
  if (!name || name.startsWith('.') || name.includes('..'))
    return refuse('a hostname cannot have an empty label (two dots in a row, or a leading dot)');
  if (/\s/.test(name)) return refuse('a hostname cannot contain spaces');

  const ascii = domainToASCII(name);
  if (!ascii) return refuse('not a valid hostname (it has characters no domain name may hold)');
  if (ascii.length > MAX_HOSTNAME) return refuse(`a hostname has at most ${MAX_HOSTNAME} characters`);
  const labels = ascii.split('.');
  const long = labels.find((label) => label.length > MAX_LABEL);
  if (long) return refuse(`each part between dots has at most ${MAX_LABEL} characters`);
  const bad = labels.find((label) => !LDH_LABEL.test(label));
  if (bad !== undefined)
    return refuse(
      `"${bad}" is not a valid part of a hostname: letters, digits and hyphens only, not at either end`,
    );
  // Numeric forms that are still addresses to some resolvers (e.g. 127.1).
  if (labels.every((label) => /^\d+$/.test(label)) || isIP(ascii))
    return refuse('an IP address cannot be a custom domain: give a hostname');
  if (labels.length < 2) return refuse('give a full hostname such as tickets.example.org, not a single name');
  if (isPlatformHostname(ascii, platformDomains))
    return refuse("the platform's own domains and names under them cannot be custom domains");

  const parsed = parse(ascii, { allowPrivateDomains: true });
  if (parsed.isIp) return refuse('an IP address cannot be a custom domain: give a hostname');
  if (!parsed.domain)
    return refuse(
      `"${ascii}" is a public suffix (like co.uk or github.io) that anyone registers names under: give your own domain`,
    );
  return {
    ok: true,
    hostname: ascii,
    displayHostname: displayHostnameOf(ascii),
    apex: ascii === parsed.domain,
  };
}

/** The Unicode form of a (punycode) hostname, for display. */
export const displayHostnameOf = (hostname: string) => domainToUnicode(hostname) || hostname;

/** Whether `hostname` (normal form) is a registrable domain itself (example.org), where DNS allows no CNAME. */
export const isApex = (hostname: string) =>
  parse(hostname, { allowPrivateDomains: true }).domain === hostname;

/** The normal form of a hostname to look up (a Host header, the ask endpoint's `domain`), or null when it cannot be one. */
export function normalHostname(input: string, platformDomains: readonly string[] = []): string | null {
  const checked = checkHostname(input, platformDomains);
  return checked.ok ? checked.hostname : null;
}

/** The TXT record's name and value that prove an organization holds `hostname`. */
export const verificationRecordOf = (hostname: string, token: string) => ({
  type: 'TXT',
  name: `_bilten-challenge.${hostname}`,
  value: `bilten-verification=${token}`,
});

/** The CNAME that points `hostname` at the platform. */
export const cnameRecordOf = (hostname: string, target: string) => ({
  type: 'CNAME',
  name: hostname,
  value: target,
});
