import type { ConsumerFactory } from '@bilten/platform';
import { organizationClosureConsumer } from './domain/organization-closure.ts';
import { salesConsumer } from './domain/sales.ts';
import { testModeOrganizationConsumer } from './domain/test-mode.ts';

/** What catalog publishes; the contracts themselves live in packages/contracts. */
export {
  eventCancelled,
  eventOfferChanged,
  eventPublished,
  eventRescheduled,
  organizationClosureRefused,
  organizationEventsClosed,
} from '@bilten/contracts/catalog';

/**
 * Every consumer this subgraph runs (identity's closure requests and test-mode organizations,
 * orders' sales), one durable subscription each.
 */
export const consumers: ConsumerFactory = ({ outbox, log }) => [
  organizationClosureConsumer(outbox),
  salesConsumer(log),
  testModeOrganizationConsumer,
];
