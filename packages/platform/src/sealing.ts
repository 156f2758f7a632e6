import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { ConfigError } from './config.ts';

/**
 * The AES-256-GCM key of one use (`info`), derived from the secret in `variable`: required in
 * production, a fixed development value elsewhere, so a laptop needs no configuration.
 */
export function keyFromSecret(options: {
  env: { NODE_ENV: string };
  variable: string;
  secret: string | undefined;
  developmentSecret: string;
  salt: string;
  info: string;
}): Buffer {
  if (!options.secret && options.env.NODE_ENV === 'production')
    throw new ConfigError([`${options.variable}: required in production`]);
  const secret = options.secret ?? options.developmentSecret;
  return Buffer.from(hkdfSync('sha256', secret, options.salt, options.info, 32));
}

/**
 * `plaintext` sealed with AES-256-GCM (base64url of iv ‖ tag ‖ ciphertext). `boundTo` is the
 * additional data: sealed for one object (a key id, a user), it does not open for another.
 */
export function seal(key: Buffer, plaintext: string, boundTo: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv).setAAD(Buffer.from(boundTo));
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url');
}

/** What `seal` sealed; throws when it was tampered with, moved to another object or sealed under another key. */
export function unseal(key: Buffer, sealed: string, boundTo: string): string {
  const raw = Buffer.from(sealed, 'base64url');
  const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12)).setAAD(Buffer.from(boundTo));
  decipher.setAuthTag(raw.subarray(12, 28));
  return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
}
