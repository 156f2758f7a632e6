import { Resolver } from 'node:dns/promises';

/** The DNS answers domain verification reads. A name with no such record answers `[]`. */
export interface DnsRecordLookup {
  txt(name: string): Promise<string[]>;
  cname(name: string): Promise<string[]>;
}

/** Codes meaning "no such record" rather than "could not ask". */
const ABSENT = new Set(['ENOTFOUND', 'ENODATA', 'NXDOMAIN']);

/**
 * `node:dns` asking `servers` (`ip` or `ip:port`; DNS_SERVERS), or the system's resolvers when
 * none are given. Failures to ask (timeouts, refused) throw, so verification says so rather than
 * calling the record missing.
 */
export function dnsRecordLookup(servers: string[], timeoutMs = 3000): DnsRecordLookup {
  const resolver = new Resolver({ timeout: timeoutMs, tries: 2 });
  if (servers.length) resolver.setServers(servers);
  const orNone = async <T>(ask: () => Promise<T[]>): Promise<T[]> => {
    try {
      return await ask();
    } catch (err) {
      if (ABSENT.has((err as NodeJS.ErrnoException).code ?? '')) return [];
      throw err;
    }
  };
  return {
    txt: async (name) => (await orNone(() => resolver.resolveTxt(name))).map((chunks) => chunks.join('')),
    cname: (name) => orNone(() => resolver.resolveCname(name)),
  };
}
