import { createHmac } from 'node:crypto';
import { keyFromSecret } from '@bilten/platform';
import type { Channel } from '../db/schema.ts';

/** The HMAC naming one address on one channel: what suppression, the hourly limit and stats compare. */
export type AddressHash = (address: string, channel: Channel) => string;

/** How addresses compare: mail addresses whatever their case and spacing; numbers and subscription ids as they are. */
const normalized = (address: string, channel: Channel) =>
  channel === 'EMAIL' ? address.trim().toLowerCase() : address;

/**
 * Keyed from MAIL_LINK_SECRET rather than the data keys: DATA_ENCRYPTION_KEYS rotate, and a hash
 * that changed with them would forget every suppressed address.
 */
export function createAddressHash(env: {
  NODE_ENV: string;
  MAIL_LINK_SECRET?: string | undefined;
}): AddressHash {
  const key = keyFromSecret({
    env,
    variable: 'MAIL_LINK_SECRET',
    secret: env.MAIL_LINK_SECRET,
    developmentSecret: 'bilten-development-only-mail-link-secret',
    salt: 'bilten',
    info: 'delivery-address-hash',
  });
  return (address, channel) =>
    createHmac('sha256', key)
      .update(`${channel}:${normalized(address, channel)}`)
      .digest('base64url');
}
