import type { ConsumerFactory } from '@bilten/platform';
import { paymentProvidersOf } from './adapters/providers.ts';
import type { BillingConfig } from './config.ts';
import { orderChargeConsumer } from './domain/order-charges.ts';
import { refundConsumer } from './domain/refunds.ts';

/** What billing publishes; the contracts themselves live in packages/contracts. */
export { paymentFailed, paymentSucceeded, refundFailed, refundSucceeded } from '@bilten/contracts/billing';

/**
 * Every consumer this subgraph runs: its copy of the orders to charge, and the refunds orders
 * asks for (through the providers server.ts registered, hence looked up at event time).
 */
export const consumers: ConsumerFactory<BillingConfig> = ({ log, outbox, config }) => [
  orderChargeConsumer,
  refundConsumer(log, outbox, {
    providers: () => paymentProvidersOf(config),
    deadlineMs: config.PAYMENT_DEADLINE_MS,
  }),
];
