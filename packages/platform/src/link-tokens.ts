import { createHmac, timingSafeEqual } from 'node:crypto';
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

/**
 * Links that open one file without signing in (a ticket's or a receipt's PDF, from a mail): the
 * token is an HMAC of `kind:id` under a key derived from the service's secret, so nothing is
 * stored; events carry it sealed under MAIL_LINK_SECRET for messaging alone to open.
 */
export interface FileLinks {
  /** The token that opens this object's file. */
  token(id: string): string;
  /** Whether `token` opens this object's file (constant time). */
  opens(id: string, token: string): boolean;
  /** The token sealed for this object under MAIL_LINK_SECRET: what events carry for messaging. */
  sealed(id: string): string;
}

export function createFileLinks(options: {
  env: { NODE_ENV: string; MAIL_LINK_SECRET?: string | undefined };
  /** What the links open (`ticket`, `receipt`): a token for one kind opens no other. */
  kind: string;
  /** The variable holding the HMAC secret (required in production), its value and a development one. */
  variable: string;
  secret: string | undefined;
  developmentSecret: string;
  salt: string;
}): FileLinks {
  const mailLinks = linkTokenSeal(options.env);
  const key = keyFromSecret({ ...options, info: `${options.kind}-links` });
  const token = (id: string) => createHmac('sha256', key).update(`${options.kind}:${id}`).digest('base64url');
  return {
    token,
    opens(id, candidate) {
      const expected = Buffer.from(token(id));
      const given = Buffer.from(candidate);
      return given.length === expected.length && timingSafeEqual(given, expected);
    },
    sealed: (id) => mailLinks.seal(token(id), id),
  };
}
