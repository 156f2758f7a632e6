import { randomUUID } from 'node:crypto';
import { type Database, keyFromSecret, type Logger, seal, unseal } from '@bilten/platform';
import {
  exportJWK,
  generateKeyPair,
  importJWK,
  type JSONWebKeySet,
  type JWK,
  type JWTPayload,
  type JWTVerifyGetKey,
  SignJWT,
} from 'jose';
import type { IdentityConfig } from '../config.ts';
import type { SigningKeyRow } from '../db/schema.ts';
import {
  hasUnretiredSigningKey,
  insertSigningKey,
  lockSigningKeys,
  publishedSigningKeys,
  retireSigningKeys,
} from '../db/signing-keys.ts';

// Identity's Ed25519 signing keys: made and used with jose, stored in identity.signing_keys with
// the private half sealed by AES-256-GCM, and held in memory for signing and verifying.

export type KeyEncryptionEnv = Pick<IdentityConfig, 'NODE_ENV' | 'AUTH_KEY_ENCRYPTION_SECRET'>;
type Key = Awaited<ReturnType<typeof importJWK>>;
const DEV_SECRET = 'bilten-development-only-signing-key-encryption-secret';

/** The AES-256-GCM key for private signing keys at rest, derived from AUTH_KEY_ENCRYPTION_SECRET. */
export function keyEncryptionKey(env: KeyEncryptionEnv): Buffer {
  return keyFromSecret({
    env,
    variable: 'AUTH_KEY_ENCRYPTION_SECRET',
    secret: env.AUTH_KEY_ENCRYPTION_SECRET,
    developmentSecret: DEV_SECRET,
    salt: 'bilten-identity',
    info: 'signing-keys',
  });
}

async function newKeyRow(encryptionKey: Buffer) {
  const { publicKey, privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
  const kid = randomUUID();
  return {
    kid,
    publicJwk: { ...(await exportJWK(publicKey)), kid, alg: 'EdDSA', use: 'sig' },
    privateJwkEncrypted: seal(encryptionKey, JSON.stringify(await exportJWK(privateKey)), kid),
  };
}

export interface KeyStore {
  /** Signs a JWT with the newest key whose activation time has come. */
  sign(claims: JWTPayload, expiresInSeconds: number): Promise<string>;
  /** The public keys: upcoming, current, and retired ones still within the grace period. */
  jwks(): Promise<JSONWebKeySet>;
  /** For identity's own token verifier: keys from the store, reloaded on an unknown `kid`. */
  getKey: JWTVerifyGetKey;
  /** Stores a new key that signs from `activatesAt`, when the keys before it retire; returns its kid. */
  addKey(activatesAt: Date): Promise<string>;
}

/** Opens the store, creating the first key when there is none. */
export async function openKeyStore(options: {
  db: Database;
  env: KeyEncryptionEnv;
  issuer: string;
  audience: string;
  log: Logger;
  /** How long a retired key stays published, so that the tokens it signed still verify. */
  retiredKeyGraceMs: number;
}): Promise<KeyStore> {
  const { db, issuer, audience, log, retiredKeyGraceMs } = options;
  const encryptionKey = keyEncryptionKey(options.env);
  const publishedKeys = () => publishedSigningKeys(db, new Date(Date.now() - retiredKeyGraceMs));
  const keyOf = async (row: SigningKeyRow) => {
    let privateKey: Promise<Key> | undefined;
    return {
      kid: row.kid,
      activatesAt: row.activatesAt,
      publicKey: await importJWK(row.publicJwk as JWK, 'EdDSA'),
      // Decrypted when first needed: most published keys never sign here again.
      privateKey: () => {
        privateKey ??= importJWK(
          JSON.parse(unseal(encryptionKey, row.privateJwkEncrypted, row.kid)),
          'EdDSA',
        );
        return privateKey;
      },
    };
  };

  let keys: Array<Awaited<ReturnType<typeof keyOf>>> = [];
  let loadedAt = 0;
  const load = async () => {
    keys = await Promise.all((await publishedKeys()).map(keyOf));
    loadedAt = Date.now();
  };

  await db.transaction(async (tx) => {
    await lockSigningKeys(tx);
    if (!(await hasUnretiredSigningKey(tx))) {
      const row = await newKeyRow(encryptionKey);
      await insertSigningKey(tx, row);
      log.info({ kid: row.kid }, 'signing key created');
    }
  });
  await load();

  return {
    async sign(claims, expiresInSeconds) {
      // Another replica may have rotated; pick that up within a minute.
      if (Date.now() - loadedAt > 60_000) await load();
      const now = Date.now();
      const current = keys.find((key) => key.activatesAt.getTime() <= now) ?? keys.at(-1)!;
      return new SignJWT(claims)
        .setProtectedHeader({ alg: 'EdDSA', kid: current.kid, typ: 'JWT' })
        .setIssuedAt()
        .setIssuer(issuer)
        .setAudience(audience)
        .setExpirationTime(`${expiresInSeconds}s`)
        .sign(await current.privateKey());
    },
    async jwks() {
      return { keys: (await publishedKeys()).map((row) => row.publicJwk as JWK) };
    },
    async getKey(header) {
      if (header.alg !== 'EdDSA' || !header.kid) throw new Error('unsupported token header');
      if (!keys.some((key) => key.kid === header.kid) && Date.now() - loadedAt > 1_000) await load();
      const key = keys.find((candidate) => candidate.kid === header.kid);
      if (!key) throw new Error('unknown signing key');
      return key.publicKey;
    },
    async addKey(activatesAt) {
      const row = { ...(await newKeyRow(encryptionKey)), activatesAt };
      await db.transaction(async (tx) => {
        await lockSigningKeys(tx);
        await retireSigningKeys(tx, activatesAt);
        await insertSigningKey(tx, row);
      });
      await load();
      return row.kid;
    },
  };
}
