import {
  ConfigError,
  defineSubgraph,
  type EncryptedColumn,
  keyRingFromEnv,
  startUsageJumpWatch,
  usageJumpRulesOf,
} from '@bilten/platform';
import { createCertificateMetrics } from './adapters/acme.ts';
import { registerAcmeChallengeRoute } from './adapters/acme-routes.ts';
import { registerAssetRoutes } from './adapters/asset-routes.ts';
import { type AssetStorage, diskStorage } from './adapters/asset-storage.ts';
import { dnsRecordLookup } from './adapters/dns-records.ts';
import { registerDomainRoutes } from './adapters/domain-routes.ts';
import { s3Storage } from './adapters/s3-storage.ts';
import { type BrandingConfig, brandingEnv } from './config.ts';
import { type BrandingServices, createContext } from './context.ts';
import {
  ACME_ACCOUNT_KEY_COLUMN,
  CERTIFICATE_CHAIN_COLUMN,
  CERTIFICATE_KEY_COLUMN,
} from './db/certificates.ts';
import { eventStore, usage } from './db/schema.ts';
import { certificateAuthorityOf, startCertificateJob } from './domain/certificates.ts';
import * as published from './events.ts';
import { consumers } from './events.ts';
import { resolvers } from './resolvers/index.ts';

/** The certificate job's metrics, which stack/test/monitoring.test.ts checks the alert rules against. */
export { createCertificateMetrics };

/** Branding's encrypted columns (certificates and ACME account keys), for `npm run keys:rotate`. */
export const encryptedColumns: EncryptedColumn[] = [
  CERTIFICATE_CHAIN_COLUMN,
  CERTIFICATE_KEY_COLUMN,
  ACME_ACCOUNT_KEY_COLUMN,
];

/** ASSET_STORAGE: local disk (default) or an S3 bucket. */
function assetStorageOf(config: BrandingConfig): AssetStorage {
  if (config.ASSET_STORAGE === 'disk') return diskStorage(config.ASSET_STORAGE_DIR);
  if (!config.ASSET_S3_BUCKET) throw new ConfigError(['ASSET_S3_BUCKET: required when ASSET_STORAGE=s3']);
  return s3Storage({
    bucket: config.ASSET_S3_BUCKET,
    region: config.ASSET_S3_REGION,
    ...(config.ASSET_S3_ENDPOINT ? { endpoint: config.ASSET_S3_ENDPOINT } : {}),
    forcePathStyle: config.ASSET_S3_FORCE_PATH_STYLE,
  });
}

export const brandingSubgraph = defineSubgraph({
  name: 'branding',
  directory: new URL('../', import.meta.url),
  config: brandingEnv,
  port: (config) => config.BRANDING_PORT,
  resolvers,
  eventTables: eventStore,
  createContext,
  consumers,
  securityEvents: published.securityEventsRecorded,
  async setup({ config, db }) {
    const services: BrandingServices = {
      config,
      storage: assetStorageOf(config),
      dns: dnsRecordLookup(config.DNS_SERVERS),
      keyRing: keyRingFromEnv(config),
    };
    const authority = certificateAuthorityOf(config, db, services.keyRing);
    if (authority)
      services.certificates = {
        config,
        keyRing: services.keyRing,
        authority,
        metrics: createCertificateMetrics(),
      };
    return {
      services,
      routes(app, { verifyToken }) {
        // `POST /assets` (uploads) and `GET /assets/{sha256}`, also at the gateway (brand-assets.ts).
        registerAssetRoutes(app, { services: { db, storage: services.storage, config }, verifyToken });
        // The gateway's host map and on-demand-TLS ask endpoint (custom domains).
        registerDomainRoutes(app, { db });
        // HTTP-01 answers, which the gateway serves at /.well-known/acme-challenge/ on every host.
        registerAcmeChallengeRoute(app, { db });
      },
      // Without ACME_DIRECTORY_URL no certificate is requested (a TLS proxy or cert-manager does it).
      // And usage jumps announced (platform usage.ts, issue 19).
      background: (deps) => {
        const { db: jobDb, outbox, log, registry } = deps;
        const jobs = [
          startUsageJumpWatch(deps, {
            tables: usage,
            event: published.usageJumped,
            rules: usageJumpRulesOf(config),
            intervalMs: config.USAGE_JUMP_CHECK_MS,
          }),
        ];
        const certificates = services.certificates;
        if (certificates) {
          certificates.metrics.register(registry);
          jobs.push(
            startCertificateJob({ ...certificates, db: jobDb, outbox, log }, config.CERTIFICATE_JOB_MS),
          );
        }
        return { stop: async () => void (await Promise.all(jobs.map((job) => job.stop()))) };
      },
    };
  },
});
