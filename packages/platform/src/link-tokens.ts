import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { z } from 'zod';
import { ConfigError } from './config.ts';

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
  if (!env.MAIL_LINK_SECRET && env.NODE_ENV === 'production')
    throw new ConfigError(['MAIL_LINK_SECRET: required in production']);
  const key = Buffer.from(hkdfSync('sha256', env.MAIL_LINK_SECRET ?? DEV_SECRET, 'bilten', 'mail-links', 32));
  return {
    seal(token, boundTo) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key, iv).setAAD(Buffer.from(boundTo));
      const body = Buffer.concat([cipher.update(token, 'utf8'), cipher.final()]);
      return Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url');
    },
    open(sealed, boundTo) {
      const raw = Buffer.from(sealed, 'base64url');
      const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12)).setAAD(Buffer.from(boundTo));
      decipher.setAuthTag(raw.subarray(12, 28));
      return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
    },
  };
}
