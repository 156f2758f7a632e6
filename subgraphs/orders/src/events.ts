import type { ConsumerFactory } from '@bilten/platform';
import { offerCopyConsumer } from './domain/offers.ts';

// Orders publishes nothing yet: order created and paid arrive with checkout, as contracts in
// packages/contracts, re-exported here like catalog's.

/** Every consumer this subgraph runs (its copy of catalog's offers), one durable subscription each. */
export const consumers: ConsumerFactory = () => [offerCopyConsumer];
