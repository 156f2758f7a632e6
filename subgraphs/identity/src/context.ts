import type {
  BaseContext,
  KeyRing,
  LinkTokenSeal,
  PersonKeys,
  PersonVault,
  SecurityEventSink,
  SubgraphContext,
} from '@bilten/platform';
import type { PasswordHasher } from './adapters/password-hasher.ts';
import type { IdentityConfig } from './config.ts';
import { createLoaders } from './db/loaders.ts';
import type { SecurityMonitor } from './domain/security-monitoring.ts';
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
  /** Where identity's own security events go: straight into the stream (domain/security-monitoring.ts). */
  securityEvents: SecurityEventSink;
  /** The detection rules' thresholds and outlets, for alerts raised outside the stream (an admin's export). */
  securityMonitor: SecurityMonitor;
  /** DATA_ENCRYPTION_KEYS: data export keys and archives at rest (domain/privacy-requests.ts). */
  dataKeys: KeyRing;
  /** Each user's data key and the blind index of addresses (db/users.ts): the same instance for resolvers and consumers. */
  personKeys: PersonKeys;
  /** The same keys table for people without an account (invitees, by the blind index of their address): renews after a shred. */
  guestVault: PersonVault;
  /** PUBLIC_GATEWAY_URL: the base of data export download links. */
  publicGatewayUrl: string;
  /** USAGE_PRICE_SHEET: what usage reports' estimated costs are priced with (domain/usage.ts). */
  usagePrices: IdentityConfig['USAGE_PRICE_SHEET'];
}

export type Context = SubgraphContext<ReturnType<typeof createLoaders>> & IdentityServices;

export const createContext = (base: BaseContext, services: IdentityServices): Context => ({
  ...base,
  loaders: createLoaders(base.db, services.personKeys),
  ...services,
});
