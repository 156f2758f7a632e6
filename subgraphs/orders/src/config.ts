import { mailLinkSecret, port, serviceEnv } from '@bilten/platform';
import { z } from 'zod';

/** Orders' variables: the kit's common ones, its port, and how long reservations hold tickets. */
export const ordersEnv = serviceEnv({
  ORDERS_PORT: port(4003),
  RESERVATION_TTL_SECONDS: z.coerce.number().int().min(1).max(86_400).default(600),
  /** Most holds, orders or tickets one batch (one transaction) of the cancellation saga handles. */
  CANCELLATION_BATCH_SIZE: z.coerce.number().int().min(1).max(10_000).default(200),
  /** Encrypts the private ticket-signing keys at rest (adapters/ticket-keys.ts); required in production. */
  TICKET_KEY_ENCRYPTION_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  /** Seals ticket link tokens in events for messaging (the same secret as messaging's); required in production. */
  MAIL_LINK_SECRET: mailLinkSecret,
});
export type OrdersConfig = z.infer<typeof ordersEnv>;
