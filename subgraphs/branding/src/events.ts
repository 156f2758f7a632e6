import type { ConsumerFactory } from '@bilten/platform';
import type { BrandingConfig } from './config.ts';
import { defaultBrandKitConsumer } from './domain/brand-kits.ts';

/**
 * What branding publishes: every organization's whole BrandedContext (kit and active domain) as
 * created or changed; every rendering service keeps a copy from it. And its custom domains'
 * lifecycle (verified, activated, removed), which the gateway's host map follows.
 */
export {
  brandKitChanged,
  domainActivated,
  domainRemoved,
  domainVerified,
} from '@bilten/contracts/branding';

// It consumes identity's organization.created to give each organization its default kit.

/** Every consumer this subgraph runs, one durable subscription each. */
export const consumers: ConsumerFactory<BrandingConfig> = ({ outbox, config }) => [
  defaultBrandKitConsumer(outbox, config),
];
