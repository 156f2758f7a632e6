import { z } from 'zod';
import { keyFromSecret, seal, unseal } from './sealing.ts';

/**
 * The single-use tokens of mailed links (verification, password reset, invitation) travel from
 * identity to messaging inside events, which outlive them in outboxes, streams and backups. So
 * they travel sealed (AES-256-GCM) under a key derived from `MAIL_LINK_SECRET`, which only
 * identity and messaging hold: a copy of the database or the stream opens no account.
 */
export const mailLinkSecret = z.string().min(32, 'must be at least 32 characters').optional();

const DEV_SECRET = 'bilten-development-only-mail-link-secret';

export interface LinkTokenSeal {
  /** `token` sealed for the one object it is for (a user or invitation id). */
  seal(token: string, boundTo: string): string;
  /** The token, or an error when `sealed` was tampered with, moved to another object or sealed under another key. */
  open(sealed: string, boundTo: string): string;
}

export function linkTokenSeal(env: {
  NODE_ENV: string;
  MAIL_LINK_SECRET?: string | undefined;
}): LinkTokenSeal {
  const key = keyFromSecret({
    env,
    variable: 'MAIL_LINK_SECRET',
    secret: env.MAIL_LINK_SECRET,
    developmentSecret: DEV_SECRET,
    salt: 'bilten',
    info: 'mail-links',
  });
  return {
    seal: (token, boundTo) => seal(key, token, boundTo),
    open: (sealed, boundTo) => unseal(key, sealed, boundTo),
  };
}
