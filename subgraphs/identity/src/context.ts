import type { BaseContext, LinkTokenSeal, SubgraphContext } from '@bilten/platform';
import type { PasswordHasher } from './adapters/password-hasher.ts';
import { createLoaders } from './db/loaders.ts';
import type { SignInProofs } from './domain/sign-in-proofs.ts';
import type { SigningKeys } from './domain/signing-keys.ts';

/** Made once at start-up (see server.ts) and shared by every request. */
export interface IdentityServices {
  passwords: PasswordHasher;
  keys: SigningKeys;
  limits: { registrationsPerIpPerHour: number };
  /** Seals the tokens of mailed links before they go into events. */
  links: LinkTokenSeal;
  /** Known-device tokens and proof-of-work challenges of sign-in (see password-guard.ts). */
  signInProofs: SignInProofs;
}

export type Context = SubgraphContext<ReturnType<typeof createLoaders>> & IdentityServices;

export const createContext = (base: BaseContext, services: IdentityServices): Context => ({
  ...base,
  loaders: createLoaders(base.db),
  ...services,
});
