import { personalDataErased, personalDataExported } from '@bilten/contracts/branding';
import { type ConsumerFactory, privacyRequestConsumers } from '@bilten/platform';
import type { BrandingConfig } from './config.ts';
import { defaultBrandKitConsumer } from './domain/brand-kits.ts';
import { brandingPersonalData } from './domain/personal-data.ts';

/**
 * What branding publishes: every organization's whole BrandedContext (kit and active domain) as
 * created or changed; every rendering service keeps a copy from it. And its custom domains'
 * lifecycle (verified, activated, removed), which the gateway's host map follows.
 */
/** FORBIDDEN and RATE_LIMITED answers, reported by the kit (security-events.ts, issue 18). */
export {
  brandKitChanged,
  domainActivated,
  domainRemoved,
  domainVerified,
  personalDataErased,
  personalDataExported,
  securityEventsRecorded,
  usageJumped,
} from '@bilten/contracts/branding';

// It consumes identity's organization.created to give each organization its default kit, and its
// privacy requests (issue 18): this service's part of an export, or its erasure.

/** Every consumer this subgraph runs, one durable subscription each. */
export const consumers: ConsumerFactory<BrandingConfig> = ({ outbox, config }) => [
  defaultBrandKitConsumer(outbox, config),
  ...privacyRequestConsumers({
    service: 'branding',
    outbox,
    exported: personalDataExported,
    erased: personalDataErased,
    steps: brandingPersonalData,
  }),
];
