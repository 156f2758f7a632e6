import { hash, randomBytes } from 'node:crypto';

/** 32 random bytes, base64url, with an optional recognizable prefix. */
export function newToken(prefix = ''): string {
  return `${prefix}${randomBytes(32).toString('base64url')}`;
}

/** Only this is stored: a database leak yields no usable token. */
export function tokenHash(token: string): string {
  return hash('sha256', token, 'hex');
}
