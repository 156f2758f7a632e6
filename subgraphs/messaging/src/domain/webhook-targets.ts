import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';

/**
 * Where outbound webhooks may go (SSRF): an https URL (http only where WEBHOOK_ALLOW_HTTP is set)
 * without credentials, whose host resolves only to public addresses, unless WEBHOOK_ALLOWED_HOSTS
 * names it. Checked when an endpoint is saved and again at every send, on the very address the
 * sender connects to (adapters/webhook-sender.ts), so a DNS answer changed since (rebinding) gains
 * nothing.
 */
export interface TargetPolicy {
  allowHttp: boolean;
  /** Lower-case host names or addresses (IPv6 without brackets). */
  allowedHosts: string[];
}

export const MAX_URL_LENGTH = 2_048;

/** Loopback, private, link-local (cloud metadata), CGNAT, "this network", multicast, reserved, unspecified. */
const INTERNAL = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4],
  // Reserved, and the broadcast address.
  ['240.0.0.0', 4],
] as const)
  INTERNAL.addSubnet(network, prefix, 'ipv4');
for (const [network, prefix] of [
  // Unspecified and loopback. (IPv4-mapped addresses, ::ffff:a.b.c.d, meet the IPv4 rules above.)
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
] as const)
  INTERNAL.addSubnet(network, prefix, 'ipv6');

/** Whether an endpoint may never be reached at this address (whatever its host is called). */
export function isInternalAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return true;
  return INTERNAL.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

/** The URL's host as WEBHOOK_ALLOWED_HOSTS and isIP compare it: lower case, IPv6 without brackets. */
export const hostOf = (url: URL) => url.hostname.toLowerCase().replace(/^\[|\]$/g, '');

export const isAllowedHost = (policy: TargetPolicy, host: string) => policy.allowedHosts.includes(host);

/** Why `text` is no URL a webhook may go to (what can be told without DNS), or its parsed URL. */
export function parseTargetUrl(text: string, policy: TargetPolicy): { url: URL } | { problem: string } {
  if (text.length > MAX_URL_LENGTH) return { problem: `must be at most ${MAX_URL_LENGTH} characters` };
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return { problem: 'must be an absolute https:// URL' };
  }
  if (url.protocol !== 'https:' && !(policy.allowHttp && url.protocol === 'http:'))
    return { problem: policy.allowHttp ? 'must be an http:// or https:// URL' : 'must be an https:// URL' };
  if (url.username || url.password) return { problem: 'must not carry credentials' };
  if (!url.hostname) return { problem: 'must name a host' };
  return { url };
}

export type Resolve = (host: string) => Promise<string[]>;

/** Every address the system resolver gives for `host`, as the sender's connection would see them. */
export const resolveAll: Resolve = async (host) =>
  (await lookup(host, { all: true, verbatim: true })).map((entry) => entry.address);

/**
 * Why the URL's host may not be reached, or undefined: an internal address, or a name resolving to
 * one (any of its addresses), or to none. Allowed hosts are not looked at.
 */
export async function targetAddressProblem(
  url: URL,
  policy: TargetPolicy,
  resolve: Resolve = resolveAll,
): Promise<string | undefined> {
  const host = hostOf(url);
  if (isAllowedHost(policy, host)) return undefined;
  if (isIP(host))
    return isInternalAddress(host) ? 'must not be a private, loopback or link-local address' : undefined;
  let addresses: string[];
  try {
    addresses = await resolve(host);
  } catch {
    return `its host ${host} does not resolve`;
  }
  if (!addresses.length) return `its host ${host} does not resolve`;
  return addresses.some(isInternalAddress)
    ? `its host ${host} resolves to a private, loopback or link-local address`
    : undefined;
}
