import { randomBytes } from 'node:crypto';
import { inSpan } from '@bilten/platform';
import { hash, verify } from '@node-rs/argon2';

/** OWASP's argon2id baseline: 19 MiB, 2 passes, 1 lane. The library hashes on libuv's thread pool. */
// `algorithm: 2` is Algorithm.Argon2id (a const enum, which this build cannot import).
const ARGON2_OPTIONS = { algorithm: 2, memoryCost: 19_456, timeCost: 2, parallelism: 1 };

export interface PasswordHasher {
  hash(password: string): Promise<string>;
  verify(passwordHash: string, password: string): Promise<boolean>;
  /** Costs what a real check costs, for unknown accounts: no timing difference to enumerate with. */
  verifyNobody(password: string): Promise<false>;
}

export async function createPasswordHasher(): Promise<PasswordHasher> {
  const dummy = await hash(randomBytes(16).toString('base64'), ARGON2_OPTIONS);
  // Spans (tracing on) show how much of a sign-in or sign-up is the hashing.
  const check = (passwordHash: string, password: string) =>
    inSpan('identity', 'argon2.verify', {}, () =>
      verify(passwordHash, password, ARGON2_OPTIONS).catch(() => false),
    );
  return {
    hash: (password) => inSpan('identity', 'argon2.hash', {}, () => hash(password, ARGON2_OPTIONS)),
    verify: check,
    async verifyNobody(password) {
      await check(dummy, password);
      return false;
    },
  };
}
