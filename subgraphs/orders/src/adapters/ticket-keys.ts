import { randomUUID } from 'node:crypto';
import { type Database, keyFromSecret, type Logger, seal, type Transaction, unseal } from '@bilten/platform';
import {
  CompactSign,
  compactVerify,
  decodeProtectedHeader,
  exportJWK,
  generateKeyPair,
  importJWK,
  type JWK,
} from 'jose';
import { z } from 'zod';
import type { OrdersConfig } from '../config.ts';
import type { TicketSigningKeyRow } from '../db/schema.ts';
import {
  currentTicketSigningKey,
  hasTicketSigningKey,
  insertTicketSigningKey,
  lockTicketSigningKeys,
  ticketSigningKey,
} from '../db/tickets.ts';

// Orders' Ed25519 ticket-signing keys: made and used with jose, stored in orders.ticket_signing_keys
// with the private half sealed by AES-256-GCM under a key derived from TICKET_KEY_ENCRYPTION_SECRET.
// A scanner needs only the public JWK (`kid` names it) to tell a real ticket from a forged one.

export type TicketKeyEnv = Pick<OrdersConfig, 'NODE_ENV' | 'TICKET_KEY_ENCRYPTION_SECRET'>;
type Key = Awaited<ReturnType<typeof importJWK>>;
export const DEV_SECRET = 'bilten-development-only-ticket-key-encryption-secret';
/** The JWS `typ` of a ticket: a token of another kind (an access token) is never a ticket. */
export const TICKET_TOKEN_TYPE = 'bilten-ticket+jws';

/** What a ticket's QR code carries, signed. */
export const ticketPayload = z.strictObject({
  ticketId: z.uuid(),
  eventId: z.uuid(),
  ticketTypeId: z.uuid(),
  code: z.string().min(16).max(64),
  kid: z.string().min(1),
});
export type TicketPayload = z.infer<typeof ticketPayload>;

/** The AES-256-GCM key for private ticket keys at rest, derived from TICKET_KEY_ENCRYPTION_SECRET. */
export function ticketKeyEncryptionKey(env: TicketKeyEnv): Buffer {
  return keyFromSecret({
    env,
    variable: 'TICKET_KEY_ENCRYPTION_SECRET',
    secret: env.TICKET_KEY_ENCRYPTION_SECRET,
    developmentSecret: DEV_SECRET,
    salt: 'bilten-orders',
    info: 'ticket-signing-keys',
  });
}

async function newKeyRow(encryptionKey: Buffer, activatesAt?: Date) {
  const { publicKey, privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
  const kid = randomUUID();
  return {
    kid,
    publicJwk: { ...(await exportJWK(publicKey)), kid, alg: 'EdDSA', use: 'sig' },
    privateJwkEncrypted: seal(encryptionKey, JSON.stringify(await exportJWK(privateKey)), kid),
    ...(activatesAt ? { activatesAt } : {}),
  };
}

export interface TicketKeys {
  /** Creates the first key when there is none (at start-up; safe on every replica at once). */
  ensureKey(db: Database, log: Logger): Promise<void>;
  /** Signs the ticket's payload with the current key, inside the transaction that issues it. */
  sign(tx: Transaction, claims: Omit<TicketPayload, 'kid'>): Promise<{ kid: string; signedPayload: string }>;
  /** The payload when `token` is a ticket signed by one of our keys, unaltered; else null. */
  verify(db: Database | Transaction, token: string): Promise<TicketPayload | null>;
  /**
   * Rotation: stores a new key that signs from `activatesAt`. Older keys stay: the tickets they
   * signed remain valid. Returns its kid.
   */
  addKey(db: Database, activatesAt: Date): Promise<string>;
}

/**
 * The keys, read from the database when used (so a rotation by another replica applies at once)
 * and imported once each per process.
 */
export function createTicketKeys(env: TicketKeyEnv): TicketKeys {
  const encryptionKey = ticketKeyEncryptionKey(env);
  const imported = new Map<string, { publicKey: Promise<Key>; privateKey?: Promise<Key> }>();
  const entry = (row: TicketSigningKeyRow) => {
    let found = imported.get(row.kid);
    if (!found) {
      found = { publicKey: importJWK(row.publicJwk as JWK, 'EdDSA') };
      imported.set(row.kid, found);
    }
    return found;
  };
  const privateKey = (row: TicketSigningKeyRow) => {
    const found = entry(row);
    found.privateKey ??= importJWK(
      JSON.parse(unseal(encryptionKey, row.privateJwkEncrypted, row.kid)),
      'EdDSA',
    );
    return found.privateKey;
  };

  return {
    async ensureKey(db, log) {
      await db.transaction(async (tx) => {
        await lockTicketSigningKeys(tx);
        if (await hasTicketSigningKey(tx)) return;
        const row = await newKeyRow(encryptionKey);
        await insertTicketSigningKey(tx, row);
        log.info({ kid: row.kid }, 'ticket signing key created');
      });
    },
    async sign(tx, claims) {
      const row = await currentTicketSigningKey(tx);
      if (!row) throw new Error('no ticket signing key: the service creates one at start-up');
      const payload: TicketPayload = { ...claims, kid: row.kid };
      const signedPayload = await new CompactSign(new TextEncoder().encode(JSON.stringify(payload)))
        .setProtectedHeader({ alg: 'EdDSA', kid: row.kid, typ: TICKET_TOKEN_TYPE })
        .sign(await privateKey(row));
      return { kid: row.kid, signedPayload };
    },
    async verify(db, token) {
      try {
        const header = decodeProtectedHeader(token);
        if (header.alg !== 'EdDSA' || header.typ !== TICKET_TOKEN_TYPE || typeof header.kid !== 'string')
          return null;
        // A key never changes once stored: one imported before needs no second look-up.
        let publicKey = imported.get(header.kid)?.publicKey;
        if (!publicKey) {
          const row = await ticketSigningKey(db, header.kid);
          if (!row) return null;
          publicKey = entry(row).publicKey;
        }
        const { payload } = await compactVerify(token, await publicKey, {
          algorithms: ['EdDSA'],
        });
        const parsed = ticketPayload.safeParse(JSON.parse(new TextDecoder().decode(payload)));
        // The key id inside the signed payload must name the key that signed it.
        return parsed.success && parsed.data.kid === header.kid ? parsed.data : null;
      } catch {
        return null;
      }
    },
    async addKey(db, activatesAt) {
      const row = await newKeyRow(encryptionKey, activatesAt);
      await db.transaction(async (tx) => {
        await lockTicketSigningKeys(tx);
        await insertTicketSigningKey(tx, row);
      });
      return row.kid;
    },
  };
}
