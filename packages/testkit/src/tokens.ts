import { randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, type JSONWebKeySet, SignJWT } from 'jose';

export interface TestSigner {
  /** The public keys, as identity will publish them at /.well-known/jwks.json. */
  jwks: JSONWebKeySet;
  issuer: string;
  audience: string;
  /** A signed access token; `claims` and `options` override the defaults to forge bad ones. */
  sign(
    claims?: { sub?: string; roles?: string[]; orgs?: Record<string, string>; [claim: string]: unknown },
    options?: { expiresIn?: string; issuer?: string; audience?: string; kid?: string },
  ): Promise<string>;
}

/** An Ed25519 key pair that signs access tokens the way identity does, for tests (verified email unless told otherwise). */
export async function createTestSigner(issuer = 'bilten-identity', audience = 'bilten'): Promise<TestSigner> {
  const { publicKey, privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
  const kid = randomUUID();
  const jwk = { ...(await exportJWK(publicKey)), kid, alg: 'EdDSA', use: 'sig' };
  return {
    jwks: { keys: [jwk] },
    issuer,
    audience,
    async sign(claims = {}, options = {}) {
      const { sub = randomUUID(), ...rest } = claims;
      return new SignJWT({ roles: [], orgs: {}, email_verified: true, ...rest })
        .setProtectedHeader({ alg: 'EdDSA', kid: options.kid ?? kid })
        .setSubject(sub)
        .setJti(randomUUID())
        .setIssuedAt()
        .setIssuer(options.issuer ?? issuer)
        .setAudience(options.audience ?? audience)
        .setExpirationTime(options.expiresIn ?? '15m')
        .sign(privateKey);
    },
  };
}
