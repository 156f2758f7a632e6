import { dataEncryptionEnv, mailLinkSecret, port, serviceEnv } from '@bilten/platform';
import { z } from 'zod';

const httpUrl = z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' });

/** Messaging's variables: the kit's common ones, its port, where mail goes and what links point to. */
export const messagingEnv = serviceEnv({
  MESSAGING_PORT: port(4005),
  SMTP_URL: z
    .url({ protocol: /^smtps?$/, error: 'must be an smtp:// or smtps:// URL' })
    .optional()
    .or(z.literal('').transform(() => undefined)),
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
  /** Encrypts the recipients' addresses (the book, db/schema.ts `recipients`). */
  ...dataEncryptionEnv,
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
