import type { ConsumerFactory } from '@bilten/platform';
import { defaultBrandKitConsumer } from './domain/brand-kits.ts';

/** What branding publishes: every brand kit as created or changed (messaging styles mails with it). */
export { brandKitChanged } from '@bilten/contracts/branding';

// It consumes identity's organization.created to give each organization its default kit.

/** Every consumer this subgraph runs, one durable subscription each. */
export const consumers: ConsumerFactory = ({ outbox }) => [defaultBrandKitConsumer(outbox)];
