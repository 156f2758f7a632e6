import type { BaseContext, SubgraphContext } from '@bilten/platform';
import type { PasswordHasher } from './adapters/password-hasher.ts';
import { createLoaders } from './db/loaders.ts';
import type { SigningKeys } from './domain/signing-keys.ts';

/** Made once at start-up (see server.ts) and shared by every request. */
export interface IdentityServices {
  passwords: PasswordHasher;
  keys: SigningKeys;
  limits: { registrationsPerIpPerHour: number };
}

export type Context = SubgraphContext<ReturnType<typeof createLoaders>> & IdentityServices;

export const createContext = (base: BaseContext, services: IdentityServices): Context => ({
  ...base,
  loaders: createLoaders(base.db),
  ...services,
});
