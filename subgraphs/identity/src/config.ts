import {
  dataEncryptionEnv,
  fieldRateLimit,
  mailLinkSecret,
  optionalUrl,
  personKeysEnv,
  port,
  serviceEnv,
  USAGE_METRICS,
  usageJumpEnv,
} from '@bilten/platform';
import { z } from 'zod';

/**
 * The price sheet usage reports are estimated with (issue 19): per-unit prices in minor units of
 * `currency`, fractions allowed (an API call at 0.01 is 1 cent per 100 calls); a metric it leaves
 * out costs nothing. Storage is priced per byte stored at the month's end.
 */
const priceSheet = z
  .string()
  .transform((value, ctx) => {
    try {
      return JSON.parse(value) as unknown;
    } catch {
      ctx.addIssue({ code: 'custom', message: 'must be JSON' });
      return z.NEVER;
    }
  })
  .pipe(
    z.object({
      currency: z.string().regex(/^[A-Z]{3}$/, 'currency must be an ISO 4217 code'),
      unitPrices: z.partialRecord(z.enum(USAGE_METRICS), z.number().min(0)),
    }),
  );

export const DEFAULT_PRICE_SHEET = JSON.stringify({
  currency: 'EUR',
  unitPrices: {
    api_calls: 0.01,
    graphql_cost: 0.0001,
    tickets_sold: 5,
    emails: 0.1,
    sms: 6,
    pushes: 0.01,
    webhook_deliveries: 0.01,
    storage_bytes: 0.000002,
  },
});

/** Identity's variables: the kit's common ones, its port, key encryption, sign-up limits, the first admin. */
export const identityEnv = serviceEnv({
  IDENTITY_PORT: port(4001),
  AUTH_KEY_ENCRYPTION_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  /** Seals the tokens of mailed links for messaging (see linkTokenSeal); required in production. */
  MAIL_LINK_SECRET: mailLinkSecret,
  AUTH_REGISTRATIONS_PER_IP_PER_HOUR: z.coerce.number().int().min(1).default(20),
  // Calls per client address (`max/seconds` or `off`), counted in Redis when REDIS_URL is set (field-rate-limits.ts).
  RATE_LIMIT_SIGN_UP: fieldRateLimit('10/3600'),
  RATE_LIMIT_PASSWORD_RESET: fieldRateLimit('5/3600'),
  RATE_LIMIT_VERIFICATION_RESEND: fieldRateLimit('5/3600'),
  REDIS_URL: optionalUrl,
  /** On start, make sure this account exists as a verified platform ADMIN. */
  BOOTSTRAP_ADMIN_EMAIL: z.string().optional(),
  /** Its password if the account has to be created (an existing one keeps its own). */
  BOOTSTRAP_ADMIN_PASSWORD: z.string().optional(),
  /** How often the access log's head is anchored on NATS (bilten.identity.audit.anchor), when it moved. */
  AUDIT_ANCHOR_MS: z.coerce.number().int().min(100).default(60_000),
  // Security monitoring's detection rules (domain/security-monitoring.ts, issue 18).
  /** Credential stuffing: this many failed sign-ins from one address, ... */
  SECURITY_STUFFING_FAILURES: z.coerce.number().int().min(1).default(30),
  /** ... over at least this many distinct accounts, ... */
  SECURITY_STUFFING_ACCOUNTS: z.coerce.number().int().min(1).default(10),
  /** ... within this many seconds. */
  SECURITY_STUFFING_WINDOW_SECONDS: z.coerce.number().int().min(1).default(600),
  /** A burst: this many FORBIDDEN answers to one caller within SECURITY_FORBIDDEN_WINDOW_SECONDS. */
  SECURITY_FORBIDDEN_BURST: z.coerce.number().int().min(1).default(20),
  SECURITY_FORBIDDEN_WINDOW_SECONDS: z.coerce.number().int().min(1).default(300),
  /** An admin reading in bulk: this many reads of others' personal data within SECURITY_ADMIN_READS_WINDOW_SECONDS. */
  SECURITY_ADMIN_READS: z.coerce.number().int().min(1).default(200),
  SECURITY_ADMIN_READS_WINDOW_SECONDS: z.coerce.number().int().min(1).default(600),
  /** Security events (client addresses in clear, for the rules above) are deleted past this many days. */
  SECURITY_EVENTS_RETENTION_DAYS: z.coerce.number().int().min(1).default(90),
  // Privacy requests (issue 18): the export private keys and archives are encrypted under DATA_ENCRYPTION_KEYS.
  ...dataEncryptionEnv,
  // Per-person keys (issue 18): users' addresses and names sealed under each user's own key.
  ...personKeysEnv,
  /** The public door, for the download links of data exports. */
  PUBLIC_GATEWAY_URL: z
    .url({ protocol: /^https?$/, error: 'must be an http(s) URL' })
    .default('http://localhost:4000'),
  /** Privacy requests still in progress this long (ms) are asked again; expired export archives are deleted as often. */
  PRIVACY_REQUEST_RETRY_MS: z.coerce
    .number()
    .int()
    .min(100)
    .default(15 * 60_000),
  USAGE_PRICE_SHEET: priceSheet.prefault(DEFAULT_PRICE_SHEET),
  /**
   * The bearer token Alertmanager's webhook presents at POST /internal/alertmanager (issue 19);
   * unset (or empty), the route answers 503 and no alert reaches the admins in-app.
   */
  ALERTMANAGER_WEBHOOK_TOKEN: z
    .string()
    .min(32, 'must be at least 32 characters')
    .or(z.literal('').transform(() => undefined))
    .optional(),
  // The usage jump watch (platform usage.ts): API calls and GraphQL cost here.
  ...usageJumpEnv,
});
export type IdentityConfig = z.infer<typeof identityEnv>;
