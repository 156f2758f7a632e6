import { brandContextConsumer, type ConsumerFactory } from '@bilten/platform';
import type { OrdersConfig } from './config.ts';
import { brandContexts } from './db/schema.ts';
import { cancellationConsumers } from './domain/cancellation.ts';
import { offerCopyConsumer } from './domain/offers.ts';
import { orderPaymentConsumers, paidOrderServices } from './domain/order-payments.ts';

/** What orders publishes; the contracts themselves live in packages/contracts. */
export {
  eventAvailabilityChanged,
  eventCancellationProgressed,
  eventSalesChanged,
  orderCreated,
  orderPaid,
  orderStatusChanged,
  personalDataAccessed,
  refundRequested,
  ticketCheckedIn,
  ticketTransferred,
  waitingListOffered,
} from '@bilten/contracts/orders';

/**
 * Every consumer this subgraph runs, one durable subscription each: its copy of catalog's offers,
 * billing's payments and refunds, which drive the order's state machine, and its copy of each
 * organization's brand (branding's brand_kit.changed), which tickets and their QR pages render with.
 */
export const consumers: ConsumerFactory<OrdersConfig> = ({ log, outbox, config }) => [
  offerCopyConsumer,
  ...orderPaymentConsumers(log, outbox, paidOrderServices(config)),
  ...cancellationConsumers(log, outbox, { batchSize: config.CANCELLATION_BATCH_SIZE }),
  brandContextConsumer(brandContexts),
];
