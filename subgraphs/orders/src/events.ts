import type { ConsumerFactory } from '@bilten/platform';
import { offerCopyConsumer } from './domain/offers.ts';
import { orderPaymentConsumers } from './domain/order-payments.ts';

/** What orders publishes; the contracts themselves live in packages/contracts. */
export { eventSalesChanged, orderCreated, refundRequested } from '@bilten/contracts/orders';

/**
 * Every consumer this subgraph runs, one durable subscription each: its copy of catalog's offers,
 * and billing's payments and refunds, which drive the order's state machine.
 */
export const consumers: ConsumerFactory = ({ log, outbox }) => [
  offerCopyConsumer,
  ...orderPaymentConsumers(log, outbox),
];
