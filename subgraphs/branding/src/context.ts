import type { BaseContext, KeyRing, SubgraphContext } from '@bilten/platform';
import type { CertificateAuthority, CertificateMetrics } from './adapters/acme.ts';
import type { AssetStorage } from './adapters/asset-storage.ts';
import type { DnsRecordLookup } from './adapters/dns-records.ts';
import type { BrandingConfig } from './config.ts';
import { createLoaders } from './db/loaders.ts';

/** Made once at start-up (see server.ts) and shared by every request. */
export interface BrandingServices {
  config: BrandingConfig;
  /** Asset bytes by content hash (ASSET_STORAGE). */
  storage: AssetStorage;
  /** TXT and CNAME lookups for domain verification (DNS_SERVERS). */
  dns: DnsRecordLookup;
  /** Encrypts certificates and ACME account keys at rest (DATA_ENCRYPTION_KEYS). */
  keyRing: KeyRing;
  /** The ACME CA and the certificate metrics; undefined when ACME_DIRECTORY_URL is unset. */
  certificates?: {
    config: BrandingConfig;
    keyRing: KeyRing;
    authority: CertificateAuthority;
    metrics: CertificateMetrics;
  };
}

export type Context = SubgraphContext<ReturnType<typeof createLoaders>> & BrandingServices;

export const createContext = (base: BaseContext, services: BrandingServices): Context => ({
  ...base,
  loaders: createLoaders(base.db),
  ...services,
});
