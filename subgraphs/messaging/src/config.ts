import {
  dataEncryptionEnv,
  mailLinkSecret,
  optionalFile,
  personKeysEnv,
  port,
  serviceEnv,
  usageJumpEnv,
} from '@bilten/platform';
import { z } from 'zod';

const httpUrl = z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' });
const optionalSmtpUrl = z
  .url({ protocol: /^smtps?$/, error: 'must be an smtp:// or smtps:// URL' })
  .optional()
  .or(z.literal('').transform(() => undefined));
const optionalText = z
  .string()
  .optional()
  .transform((value) => value || undefined);

/** A host as WEBHOOK_ALLOWED_HOSTS lists it: lower case, IPv6 without brackets. */
const hostName = (host: string) =>
  host
    .trim()
    .toLowerCase()
    .replace(/^\[|\]$/g, '');

/** Messaging's variables: the kit's common ones, its port, where mail goes and what links point to. */
export const messagingEnv = serviceEnv({
  MESSAGING_PORT: port(4005),
  SMTP_URL: optionalSmtpUrl,
  MAIL_FROM: z
    .string()
    .regex(/^[^\r\n]+@[^\r\n]+$/, 'must be one line with an address, e.g. "Bilten <no-reply@bilten.local>"')
    .default('Bilten <no-reply@bilten.local>'),
  /** The web app; unset (or empty): links go to the gateway's own account pages instead. */
  PUBLIC_WEB_URL: httpUrl.optional().or(z.literal('').transform(() => undefined)),
  /** Most mails one address gets an hour, whatever triggers them (mail bombing). */
  MAIL_PER_RECIPIENT_PER_HOUR: z.coerce.number().int().min(1).default(10),
  /** Opens the link tokens identity and orders sealed (the same secret as theirs); required in production. */
  MAIL_LINK_SECRET: mailLinkSecret,
  /** Where people reach the gateway, for those pages. */
  PUBLIC_GATEWAY_URL: httpUrl.default('http://localhost:4000'),
  /** Encrypts template data and webhook secrets. */
  ...dataEncryptionEnv,
  /** KEKs and blind-index secrets of the per-person keys sealing addresses, numbers and names (db/person-keys.ts). */
  ...personKeysEnv,
  /** A second SMTP server: takes over while the primary keeps failing (domain/deliveries.ts). */
  SMTP_FALLBACK_URL: optionalSmtpUrl,
  /** A PEM file of the CA that signs the SMTP servers' certificates (smtps:// or STARTTLS), beside the system's. */
  SMTP_TLS_CA_FILE: optionalFile,
  /** DKIM signing of every mail when all three are set: the signing domain, the selector, a PEM private key. */
  DKIM_DOMAIN: optionalText,
  DKIM_SELECTOR: optionalText,
  DKIM_PRIVATE_KEY: optionalText,
  /** Web push (VAPID, RFC 8292): both keys, base64url (`npx web-push generate-vapid-keys`), or no web push. */
  VAPID_PUBLIC_KEY: optionalText,
  VAPID_PRIVATE_KEY: optionalText,
  /** Who runs the pushes: a `mailto:` or https URL the push services may contact. */
  VAPID_SUBJECT: z.string().default('mailto:ops@bilten.local'),
  /** A Twilio-style SMS API (`{SMS_API_URL}/Accounts/{SID}/Messages.json`); unset: SMS are written to the log. */
  SMS_API_URL: httpUrl.optional().or(z.literal('').transform(() => undefined)),
  SMS_ACCOUNT_SID: optionalText,
  SMS_AUTH_TOKEN: optionalText,
  SMS_FROM: optionalText,
  /** Signs the provider webhooks (bounces, complaints, SMS statuses) messaging accepts; unset: refused. */
  DELIVERY_WEBHOOK_SECRET: optionalText,
  /** How often the delivery worker looks for due deliveries when nothing woke it (NOTIFY wakes it at once). */
  DELIVERY_POLL_MS: z.coerce.number().int().min(10).default(5_000),
  /** Attempts before a delivery gives up (FAILED, and a critical one falls back to another channel). */
  DELIVERY_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(20).default(6),
  /** The first retry's delay; each next one doubles, with full jitter, up to an hour. */
  DELIVERY_RETRY_BASE_MS: z.coerce.number().int().min(1).default(30_000),
  /** How often the reminder sweep looks for events starting within a day. */
  REMINDER_SWEEP_MS: z.coerce.number().int().min(10).default(60_000),
  /** Outbound webhooks to http:// URLs too (development, tests); otherwise https only. */
  WEBHOOK_ALLOW_HTTP: z.stringbool().default(false),
  /** Hosts (comma-separated) webhooks may reach even when they resolve to private or loopback addresses. */
  WEBHOOK_ALLOWED_HOSTS: z
    .string()
    .default('')
    .transform((value) => value.split(',').flatMap((host) => hostName(host) || [])),
  /** Multiplies the retry schedule (5 s … 10 h): 0.001 in tests turns hours into seconds. */
  WEBHOOK_RETRY_SCALE: z.coerce.number().min(0).max(1).default(1),
  /** How often the webhook worker looks for due retries when no new delivery woke it. */
  WEBHOOK_POLL_MS: z.coerce.number().int().min(10).default(1_000),
  /** How long an endpoint has to answer one delivery. */
  WEBHOOK_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(15_000),
  // The usage jump watch (platform usage.ts, issue 19).
  ...usageJumpEnv,
});
export type MessagingConfig = z.infer<typeof messagingEnv>;

/**
 * What the links in mails start with: the web app's `/verify-email`, `/reset-password` and
 * `/accept-invitation` when `PUBLIC_WEB_URL` is set, otherwise the gateway's pages under
 * `/account/` (gateway/src/account-pages.ts serves the same three paths there).
 */
export function linkBaseOf(config: Pick<MessagingConfig, 'PUBLIC_WEB_URL' | 'PUBLIC_GATEWAY_URL'>): string {
  return config.PUBLIC_WEB_URL ?? `${config.PUBLIC_GATEWAY_URL.replace(/\/+$/, '')}/account`;
}
