import { brandLinkBase } from '@bilten/platform';

// An organization's mails link to its own domain when it has an ACTIVE one: the pages and files
// of its content (event pages, tickets, receipts, orders) move there, because the domain is a
// CNAME to the gateway, which serves the same paths on every host it answers. What stays on the
// platform: account pages (verification, password reset, invitations: the platform's, not the
// organization's), the one-click unsubscribe (it must keep working after a domain is removed) and
// click/open tracking (signed, platform machinery); attachments are fetched from the gateway itself.

/** The paths of an organization's content, the only ones a domain takes over. */
const CONTENT_PATHS = ['/events/', '/tickets/', '/receipts/', '/orders/'];

/** An ASCII hostname, lower case, no trailing dot: what branding publishes (checked again). */
const HOSTNAME =
  /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** `https://<domain>` for a well-formed domain; null for none (or anything that is no hostname). */
export function domainBaseOf(domain: string | null | undefined): string | null {
  return domain && HOSTNAME.test(domain) ? brandLinkBase({ domain }, '') : null;
}

/** The platform's public bases (PUBLIC_WEB_URL, the gateway), without trailing slashes, each once. */
export const platformBases = (...bases: Array<string | undefined>): string[] => [
  ...new Set(bases.filter((base): base is string => Boolean(base)).map((base) => base.replace(/\/+$/, ''))),
];

/**
 * `url` on `domainBase` when it is a content link under one of the platform's bases
 * (`https://web.example/events/1` → `https://tickets.example.org/events/1`); otherwise unchanged.
 * A site-relative content path (`/orders/1`) is put on the domain too.
 */
export function rebaseLink(url: string, bases: readonly string[], domainBase: string): string {
  if (CONTENT_PATHS.some((path) => url.startsWith(path))) return `${domainBase}${url}`;
  for (const base of bases) {
    if (!url.startsWith(`${base}/`)) continue;
    const rest = url.slice(base.length);
    return CONTENT_PATHS.some((path) => rest.startsWith(path)) ? `${domainBase}${rest}` : url;
  }
  return url;
}

/** `data` with every absolute content link in it (at any depth) on `domainBase`; a new object, `data` untouched. */
export function rebaseLinks<T>(data: T, bases: readonly string[], domainBase: string): T {
  const walk = (value: unknown): unknown => {
    // Absolute URLs only: a person's text that happens to start with `/events/` stays as written.
    if (typeof value === 'string')
      return /^https?:\/\//.test(value) ? rebaseLink(value, bases, domainBase) : value;
    if (Array.isArray(value)) return value.map(walk);
    if (value && typeof value === 'object')
      return Object.fromEntries(Object.entries(value).map(([key, entry]) => [key, walk(entry)]));
    return value;
  };
  return walk(data) as T;
}
