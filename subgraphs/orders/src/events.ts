import { personalDataErased, personalDataExported } from '@bilten/contracts/orders';
import { brandContextConsumer, type ConsumerFactory, privacyRequestConsumers } from '@bilten/platform';
import type { OrdersConfig } from './config.ts';
import type { OrdersServices } from './context.ts';
import { brandContexts } from './db/schema.ts';
import { cancellationConsumers } from './domain/cancellation.ts';
import { offerCopyConsumer } from './domain/offers.ts';
import { orderPaymentConsumers } from './domain/order-payments.ts';
import { organizerSharingConsumer } from './domain/organizer-sharing.ts';
import { ordersPersonalDataSteps } from './domain/personal-data.ts';

/** What orders publishes; the contracts themselves live in packages/contracts. */
/** FORBIDDEN and RATE_LIMITED answers, reported by the kit (security-events.ts, issue 18). */
export {
  eventAvailabilityChanged,
  eventCancellationProgressed,
  eventSalesChanged,
  orderCreated,
  orderPaid,
  orderStatusChanged,
  personalDataAccessed,
  personalDataErased,
  personalDataExported,
  refundRequested,
  securityEventsRecorded,
  ticketCheckedIn,
  ticketTransferred,
  usageJumped,
  waitingListOffered,
} from '@bilten/contracts/orders';

/**
 * Every consumer this subgraph runs, one durable subscription each: its copy of catalog's offers,
 * billing's payments and refunds, which drive the order's state machine, and its copy of each
 * organization's brand (branding's brand_kit.changed), which tickets and their QR pages render with.
 */
export const consumers: ConsumerFactory<OrdersConfig, OrdersServices> = ({
  log,
  outbox,
  config,
  services,
}) => [
  offerCopyConsumer,
  ...orderPaymentConsumers(log, outbox, services.paidOrders),
  ...cancellationConsumers(log, outbox, { batchSize: config.CANCELLATION_BATCH_SIZE }),
  brandContextConsumer(brandContexts),
  // Buyers' ORGANIZER_SHARING consents (identity's consent.changed): domain/organizer-sharing.ts.
  organizerSharingConsumer(services.people),
  // Its step of a user's export and erasure (issue 18): domain/personal-data.ts.
  ...privacyRequestConsumers({
    service: 'orders',
    outbox,
    exported: personalDataExported,
    erased: personalDataErased,
    steps: ordersPersonalDataSteps(outbox, services.people),
  }),
];
