import { personalDataErased, personalDataExported } from '@bilten/contracts/catalog';
import { type ConsumerFactory, privacyRequestConsumers } from '@bilten/platform';
import { organizationClosureConsumer } from './domain/organization-closure.ts';
import { catalogPersonalData } from './domain/personal-data.ts';
import { salesConsumer } from './domain/sales.ts';
import { testModeOrganizationConsumer } from './domain/test-mode.ts';

/** What catalog publishes; the contracts themselves live in packages/contracts. */
/** FORBIDDEN and RATE_LIMITED answers, reported by the kit (security-events.ts, issue 18). */
export {
  eventCancelled,
  eventOfferChanged,
  eventPublished,
  eventRescheduled,
  organizationClosureRefused,
  organizationEventsClosed,
  personalDataErased,
  personalDataExported,
  securityEventsRecorded,
} from '@bilten/contracts/catalog';

/**
 * Every consumer this subgraph runs (identity's closure requests and test-mode organizations,
 * orders' sales), one durable subscription each.
 */
export const consumers: ConsumerFactory = ({ outbox, log }) => [
  organizationClosureConsumer(outbox),
  salesConsumer(log),
  testModeOrganizationConsumer,
  // Identity's privacy requests (issue 18): this service's part of an export, or its erasure.
  ...privacyRequestConsumers({
    service: 'catalog',
    outbox,
    exported: personalDataExported,
    erased: personalDataErased,
    steps: catalogPersonalData,
  }),
];
