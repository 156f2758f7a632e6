import { createCipheriv, createDecipheriv, hkdfSync, randomBytes, randomUUID } from 'node:crypto';
import {
  ConfigError,
  type Database,
  type Logger,
  type PlatformEnv,
  requireAdmin,
  userErrorsFrom,
  type Viewer,
} from '@bilten/platform';
import { desc, gt, isNull, or, sql } from 'drizzle-orm';
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
import { z } from 'zod';
import { signingKeys } from '../db/schema.ts';

export const ACCESS_TOKEN_TTL_SECONDS = 15 * 60;
/** A retired key stays published this long: every token it signed has expired by then (plus clock skew). */
const RETIRED_KEY_GRACE_MS = (ACCESS_TOKEN_TTL_SECONDS + 5 * 60) * 1000;
type Key = Awaited<ReturnType<typeof importJWK>>;
const DEV_SECRET = 'bilten-development-only-signing-key-encryption-secret';

/** The AES-256-GCM key for private signing keys at rest, derived from AUTH_KEY_ENCRYPTION_SECRET. */
export function keyEncryptionKey(env: Pick<PlatformEnv, 'NODE_ENV' | 'AUTH_KEY_ENCRYPTION_SECRET'>): Buffer {
  const secret = env.AUTH_KEY_ENCRYPTION_SECRET;
  if (!secret && env.NODE_ENV === 'production')
    throw new ConfigError(['AUTH_KEY_ENCRYPTION_SECRET: required in production']);
  return Buffer.from(hkdfSync('sha256', secret ?? DEV_SECRET, 'bilten-identity', 'signing-keys', 32));
}

// The key id is the additional data: a ciphertext moved to another row does not decrypt.
function encrypt(key: Buffer, kid: string, plaintext: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv).setAAD(Buffer.from(kid));
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url');
}

function decrypt(key: Buffer, kid: string, sealed: string): string {
  const raw = Buffer.from(sealed, 'base64url');
  const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12)).setAAD(Buffer.from(kid));
  decipher.setAuthTag(raw.subarray(12, 28));
  return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
}

async function newKeyRow(encryptionKey: Buffer) {
  const { publicKey, privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
  const kid = randomUUID();
  return {
    kid,
    publicJwk: { ...(await exportJWK(publicKey)), kid, alg: 'EdDSA', use: 'sig' },
    privateJwkEncrypted: encrypt(encryptionKey, kid, JSON.stringify(await exportJWK(privateKey))),
  };
}

// Serializes key creation and rotation across replicas.
const lockKeys = sql`select pg_advisory_xact_lock(hashtext('identity.signing_keys'))`;

/**
 * A rotated-in key is published this long before it signs: longer than the 30 s a verifier
 * waits before fetching the JWKS again, so every service has the key before the first token.
 */
export const DEFAULT_ACTIVATION_DELAY_SECONDS = 60;

export interface SigningKeys {
  /** Signs an access token with the current key, valid 15 minutes unless told otherwise. */
  sign(claims: JWTPayload & { sub: string; jti: string }, expiresInSeconds?: number): Promise<string>;
  /** The public keys: upcoming, current, and retired ones whose tokens may still be valid. */
  jwks(): Promise<JSONWebKeySet>;
  /** For identity's own token verifier: keys from the store, reloaded on an unknown `kid`. */
  getKey: JWTVerifyGetKey;
  /**
   * A new key that takes over after `activationDelaySeconds`; the old one keeps verifying until
   * its tokens expired, so nobody is signed out. Returns the new kid.
   */
  rotate(activationDelaySeconds?: number): Promise<{ kid: string; activatesAt: Date }>;
}

export async function openSigningKeys(options: {
  db: Database;
  env: Pick<PlatformEnv, 'NODE_ENV' | 'AUTH_KEY_ENCRYPTION_SECRET'>;
  issuer: string;
  audience: string;
  log: Logger;
}): Promise<SigningKeys> {
  const { db, issuer, audience, log } = options;
  const encryptionKey = keyEncryptionKey(options.env);

  const publishedKeys = () =>
    db
      .select()
      .from(signingKeys)
      .where(
        or(
          isNull(signingKeys.retiredAt),
          gt(signingKeys.retiredAt, new Date(Date.now() - RETIRED_KEY_GRACE_MS)),
        ),
      )
      .orderBy(desc(signingKeys.activatesAt));

  let keys: Array<{ kid: string; activatesAt: Date; publicKey: Key; privateKey: () => Promise<Key> }> = [];
  let loadedAt = 0;
  const load = async () => {
    const rows = await publishedKeys();
    keys = await Promise.all(
      rows.map(async (row) => {
        let privateKey: Promise<Key> | undefined;
        return {
          kid: row.kid,
          activatesAt: row.activatesAt,
          publicKey: await importJWK(row.publicJwk as JWK, 'EdDSA'),
          // Decrypted when first needed: most published keys never sign here again.
          privateKey: () => {
            privateKey ??= importJWK(
              JSON.parse(decrypt(encryptionKey, row.kid, row.privateJwkEncrypted)),
              'EdDSA',
            );
            return privateKey;
          },
        };
      }),
    );
    loadedAt = Date.now();
  };

  await db.transaction(async (tx) => {
    await tx.execute(lockKeys);
    const [current] = await tx
      .select({ kid: signingKeys.kid })
      .from(signingKeys)
      .where(isNull(signingKeys.retiredAt));
    if (!current) {
      const row = await newKeyRow(encryptionKey);
      await tx.insert(signingKeys).values(row);
      log.info({ kid: row.kid }, 'signing key created');
    }
  });
  await load();

  return {
    async sign(claims, expiresInSeconds = ACCESS_TOKEN_TTL_SECONDS) {
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
    async rotate(activationDelaySeconds = DEFAULT_ACTIVATION_DELAY_SECONDS) {
      const activatesAt = new Date(Date.now() + activationDelaySeconds * 1000);
      const row = { ...(await newKeyRow(encryptionKey)), activatesAt };
      await db.transaction(async (tx) => {
        await tx.execute(lockKeys);
        await tx.update(signingKeys).set({ retiredAt: activatesAt }).where(isNull(signingKeys.retiredAt));
        await tx.insert(signingKeys).values(row);
      });
      await load();
      log.info({ kid: row.kid, activatesAt }, 'signing key rotated');
      return { kid: row.kid, activatesAt };
    },
  };
}

const rotateInput = z
  .object({ activateInSeconds: z.number().int().min(0).max(3600).nullish() })
  .nullish()
  .transform((input) => input?.activateInSeconds ?? DEFAULT_ACTIVATION_DELAY_SECONDS);

export async function rotateSigningKey(
  ctx: { viewer: Viewer; keys: SigningKeys; log: Logger },
  input: unknown,
) {
  const admin = requireAdmin(ctx.viewer);
  const parsed = rotateInput.safeParse(input);
  if (!parsed.success) return { kid: null, activatesAt: null, errors: userErrorsFrom(parsed.error) };
  const { kid, activatesAt } = await ctx.keys.rotate(parsed.data);
  ctx.log.info({ admin: admin.userId, kid }, 'signing key rotated by an administrator');
  return { kid, activatesAt, errors: [] };
}
