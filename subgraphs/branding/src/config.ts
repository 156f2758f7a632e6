import { dataEncryptionEnv, optionalUrl, port, serviceEnv, usageJumpEnv } from '@bilten/platform';
import { z } from 'zod';

const httpUrl = z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' });
const commaList = (fallback = '') =>
  z
    .string()
    .default(fallback)
    .transform((value) =>
      value
        .split(',')
        .map((item) => item.trim())
        .filter(Boolean),
    );
const flag = (fallback: 'on' | 'off') =>
  z
    .enum(['on', 'off'])
    .default(fallback)
    .transform((value) => value === 'on');

/** Branding's variables: the kit's common ones, its port, assets, domains and certificates. */
export const brandingEnv = serviceEnv({
  BRANDING_PORT: port(4006),
  /** Encrypts ACME account keys and certificates at rest (the platform's key ring). */
  ...dataEncryptionEnv,

  // ---------------------------------------------------------------- assets
  /** Where `/assets/{sha256}` is public (the gateway): the base of `BrandAsset.url` and `BrandKit.logoUrl`. */
  PUBLIC_ASSETS_URL: httpUrl.default('http://localhost:4000'),
  /** `disk` (default, `ASSET_STORAGE_DIR`) or `s3` (`ASSET_S3_*`, credentials from the AWS SDK's usual chain). */
  ASSET_STORAGE: z.enum(['disk', 's3']).default('disk'),
  ASSET_STORAGE_DIR: z.string().default('.data/assets'),
  ASSET_S3_BUCKET: z.string().optional(),
  ASSET_S3_REGION: z.string().default('us-east-1'),
  /** An S3-compatible endpoint (MinIO, R2, a test server); unset: AWS. */
  ASSET_S3_ENDPOINT: optionalUrl,
  ASSET_S3_FORCE_PATH_STYLE: flag('off'),
  /** Largest upload accepted, in bytes (refused before it is read whole). */
  ASSET_MAX_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .max(100 * 1024 * 1024)
    .default(10 * 1024 * 1024),
  /** Most pixels (width × height) an image may declare: decompression bombs are refused before decoding. */
  ASSET_MAX_PIXELS: z.coerce.number().int().min(10_000).max(500_000_000).default(40_000_000),

  // ---------------------------------------------------------------- custom domains
  /** What organizers' hostnames must be a CNAME of (the platform's ingress for custom domains). */
  CUSTOM_DOMAIN_CNAME_TARGET: z.string().default('domains.bilten.localhost'),
  /** The platform's own domains: no custom domain may be one of them or under them. */
  PLATFORM_DOMAINS: commaList('bilten.localhost,localhost'),
  /** DNS servers (`ip` or `ip:port`, comma-separated) verification asks; unset: the system's resolvers. */
  DNS_SERVERS: commaList(),
  /** Most custom domains one organization may have. */
  CUSTOM_DOMAINS_PER_ORGANIZATION: z.coerce.number().int().min(1).max(1000).default(20),

  // ---------------------------------------------------------------- certificates (ACME)
  /** The ACME directory (Let's Encrypt, or pebble in tests); unset: no certificates are requested. */
  ACME_DIRECTORY_URL: optionalUrl,
  /** The account's contact (`mailto:` is added). */
  ACME_CONTACT_EMAIL: z.email().optional(),
  /** A PEM file of the CA that signed the ACME directory's TLS certificate (pebble's), trusted besides the system's. */
  ACME_CA_FILE: z.string().optional(),
  /** Renewal starts this many days before a certificate expires. */
  CERTIFICATE_RENEW_DAYS: z.coerce.number().int().min(1).max(60).default(30),
  /** How often the certificate job looks for domains due (first issue, renewal, retry), in milliseconds. */
  CERTIFICATE_JOB_MS: z.coerce.number().int().min(10).max(86_400_000).default(60_000),
  /** First retry delay after a failed issue or renewal; doubles per attempt (with jitter), capped at a day. */
  CERTIFICATE_RETRY_BASE_MS: z.coerce.number().int().min(10).max(86_400_000).default(60_000),
  // The usage jump watch (platform usage.ts, issue 19).
  ...usageJumpEnv,
});
export type BrandingConfig = z.infer<typeof brandingEnv>;
