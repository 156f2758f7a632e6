import { mailLinkSecret, personKeysEnv, port, serviceEnv, usageJumpEnv } from '@bilten/platform';
import { z } from 'zod';

const httpUrl = z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' });

/** Orders' variables: the kit's common ones, its port, and how long reservations hold tickets. */
export const ordersEnv = serviceEnv({
  ORDERS_PORT: port(4003),
  RESERVATION_TTL_SECONDS: z.coerce.number().int().min(1).max(86_400).default(600),
  /** Most live guest holds (reservations by callers not signed in) one client address may have per event. */
  GUEST_HOLDS_PER_ADDRESS: z.coerce.number().int().min(1).max(1_000).default(4),
  /** Most holds, orders or tickets one batch (one transaction) of the cancellation saga handles. */
  CANCELLATION_BATCH_SIZE: z.coerce.number().int().min(1).max(10_000).default(200),
  /** Encrypts the private ticket-signing keys at rest (adapters/ticket-keys.ts); required in production. */
  TICKET_KEY_ENCRYPTION_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  /** Seals ticket link tokens in events for messaging (the same secret as messaging's); required in production. */
  MAIL_LINK_SECRET: mailLinkSecret,
  /** How long a waiting-list offer holds its tickets for the buyer it was made for (domain/waiting-list.ts). */
  WAITING_LIST_OFFER_TTL_SECONDS: z.coerce.number().int().min(1).max(86_400).default(600),
  /** How often the waiting-list sweep offers released stock and closes lapsed offers, in milliseconds. */
  WAITING_LIST_SWEEP_MS: z.coerce.number().int().min(10).max(3_600_000).default(5000),
  /** How often lapsed holds and unpaid orders are recorded and announced (domain/expiry-sweep.ts). */
  EXPIRY_SWEEP_MS: z.coerce.number().int().min(10).max(3_600_000).default(5000),
  /** Where branding serves `/assets/{sha256}`: the logo a PDF embeds is fetched from there (and checked against its hash). */
  BRAND_ASSETS_URL: httpUrl.default('http://localhost:4006'),
  /** The gateway's public URL: the printed link's base for an organization without an active custom domain. */
  PUBLIC_GATEWAY_URL: httpUrl.default('http://localhost:4000'),
  /** PERSON_KEK_KEYS and BLIND_INDEX_KEY: buyers' and attendees' personal data sealed per person (db/person-data.ts). */
  ...personKeysEnv,
  // The usage jump watch (platform usage.ts, issue 19).
  ...usageJumpEnv,
});
export type OrdersConfig = z.infer<typeof ordersEnv>;
