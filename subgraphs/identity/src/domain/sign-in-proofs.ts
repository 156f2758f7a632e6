import { createHash, createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import { type KeyEncryptionEnv, keyEncryptionKey } from '../adapters/key-store.ts';

const DEVICE_TOKEN_TTL_SECONDS = 180 * 24 * 60 * 60;
const CHALLENGE_TTL_SECONDS = 10 * 60;
const NONCE = /^[\x21-\x7e]{1,64}$/;

/** A solved challenge as `login` receives it. */
export interface ProofOfWork {
  challenge: string;
  nonce: string;
}

/**
 * What an account's owner can show when many failed sign-ins by others made the account ask for
 * more than a password: a token of a device that signed in before, or a solved proof of work.
 * Both are stateless, HMAC-signed under a key of their own (derived from
 * AUTH_KEY_ENCRYPTION_SECRET), and bound to their account.
 */
export interface SignInProofs {
  /** For the device that just signed in to `userId`: presented with a later sign-in, it proves the device. */
  deviceToken(userId: string): string;
  isDeviceOf(token: string | null | undefined, userId: string | undefined): boolean;
  /** A hashcash challenge for the next password check of `account`, issued when it had counted `attempts`. */
  challenge(account: string, attempts: number, difficulty: number): string;
  /** The `attempts` a genuine, unexpired challenge of `account` was issued for, if `nonce` solves it; else null. */
  solved(proof: ProofOfWork | null | undefined, account: string): number | null;
}

/** Whether SHA-256 of `challenge:nonce` starts with `difficulty` zero bits: what a client searches nonces for. */
export function meetsDifficulty(challenge: string, nonce: string, difficulty: number): boolean {
  const digest = createHash('sha256').update(`${challenge}:${nonce}`).digest();
  for (let bit = 0; bit < difficulty; bit++) {
    if (digest[bit >> 3]! & (0x80 >> (bit & 7))) return false;
  }
  return true;
}

export function createSignInProofs(env: KeyEncryptionEnv): SignInProofs {
  const key = Buffer.from(hkdfSync('sha256', keyEncryptionKey(env), 'bilten-identity', 'sign-in-proofs', 32));
  // The purpose is signed too: a device token never passes as a challenge, nor the other way round.
  const mac = (purpose: string, body: string) =>
    createHmac('sha256', key).update(`${purpose}.${body}`).digest();
  const seal = (purpose: string, claims: object) => {
    const body = Buffer.from(JSON.stringify(claims)).toString('base64url');
    return `${body}.${mac(purpose, body).toString('base64url')}`;
  };
  function open(purpose: string, token: string | null | undefined): Record<string, unknown> | null {
    const [body, signature, extra] = (token ?? '').split('.');
    if (!body || !signature || extra !== undefined) return null;
    const expected = mac(purpose, body);
    const given = Buffer.from(signature, 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
    const claims = JSON.parse(Buffer.from(body, 'base64url').toString()) as Record<string, unknown>;
    return typeof claims.exp === 'number' && claims.exp > Date.now() / 1000 ? claims : null;
  }
  const expiresIn = (seconds: number) => Math.floor(Date.now() / 1000) + seconds;

  return {
    deviceToken: (userId) => seal('device', { sub: userId, exp: expiresIn(DEVICE_TOKEN_TTL_SECONDS) }),
    isDeviceOf(token, userId) {
      return userId !== undefined && open('device', token)?.sub === userId;
    },
    challenge: (account, attempts, difficulty) =>
      seal('challenge', { account, attempts, difficulty, exp: expiresIn(CHALLENGE_TTL_SECONDS) }),
    solved(proof, account) {
      const claims = proof && NONCE.test(proof.nonce) ? open('challenge', proof.challenge) : null;
      if (!claims || claims.account !== account || typeof claims.attempts !== 'number') return null;
      return meetsDifficulty(proof!.challenge, proof!.nonce, Number(claims.difficulty))
        ? claims.attempts
        : null;
    },
  };
}
