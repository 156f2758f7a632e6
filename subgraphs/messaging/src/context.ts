import type { BaseContext, KeyRing, SubgraphContext } from '@bilten/platform';
import { createLoaders } from './db/loaders.ts';
import type { MessagingKeys } from './db/person-keys.ts';
import type { Renderer } from './domain/channels.ts';
import type { TargetPolicy } from './domain/webhook-targets.ts';

/** Made once at start-up (see server.ts) and shared by every request. */
export interface MessagingServices {
  /** Encrypts template data and webhook secrets (DATA_ENCRYPTION_KEYS). */
  ring: KeyRing;
  /** Seals what messaging keeps about people (addresses, numbers, names) under each person's key. */
  keys: MessagingKeys;
  /** The VAPID public key browsers subscribe with; null when web push is not configured. */
  webPushPublicKey: string | null;
  /** Outside production, push endpoints on 127.0.0.1/localhost over http are accepted (tests, local push services). */
  production: boolean;
  /** Where webhook endpoints may point (WEBHOOK_ALLOW_HTTP, WEBHOOK_ALLOWED_HOSTS). */
  webhookTargets: TargetPolicy;
  /** Renders previews as the delivery worker renders mails (links, assets on the gateway). */
  renderer: Renderer;
}

export type Context = SubgraphContext<ReturnType<typeof createLoaders>> & MessagingServices;

export const createContext = (base: BaseContext, services: MessagingServices): Context => ({
  ...base,
  loaders: createLoaders(base.db, services.keys),
  ...services,
});
