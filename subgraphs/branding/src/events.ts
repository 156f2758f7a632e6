import { defaultBrandKitConsumer } from './domain/brand-kits.ts';

// Branding publishes nothing yet. It consumes identity's organization.created (its contract lives
// in packages/contracts).

/** Every consumer this subgraph runs, one durable subscription each. */
export const consumers = () => [defaultBrandKitConsumer];
