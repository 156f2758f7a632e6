import { personalDataErased, personalDataExported } from '@bilten/contracts/billing';
import { brandContextConsumer, type ConsumerFactory, privacyRequestConsumers } from '@bilten/platform';
import { paymentProvidersOf } from './adapters/providers.ts';
import { createReceiptLinks } from './adapters/receipt-links.ts';
import type { BillingConfig } from './config.ts';
import type { BillingServices } from './context.ts';
import { brandContexts } from './db/schema.ts';
import { orderChargeConsumer } from './domain/order-charges.ts';
import { organizationCreatedConsumer, organizationUpdatedConsumer } from './domain/organizations.ts';
import { billingPersonalDataSteps } from './domain/personal-data.ts';
import { refundConsumer } from './domain/refunds.ts';

/** What billing publishes; the contracts themselves live in packages/contracts. */
/** FORBIDDEN and RATE_LIMITED answers, reported by the kit (security-events.ts, issue 18). */
export {
  paymentFailed,
  paymentSucceeded,
  personalDataAccessed,
  personalDataErased,
  personalDataExported,
  receiptIssued,
  refundFailed,
  refundSucceeded,
  securityEventsRecorded,
} from '@bilten/contracts/billing';

/**
 * Every consumer this subgraph runs: its copy of the orders to charge and of the organizations
 * (the sellers on receipts), and the refunds orders asks for (through the providers server.ts
 * registered, hence looked up at event time), and its copy of each organization's brand
 * (branding's brand_kit.changed), which receipts print with.
 */
export const consumers: ConsumerFactory<BillingConfig, BillingServices> = ({
  log,
  outbox,
  config,
  services,
}) => [
  orderChargeConsumer(services.buyerKeys),
  refundConsumer(log, outbox, {
    providers: () => paymentProvidersOf(config),
    deadlineMs: config.PAYMENT_DEADLINE_MS,
    receiptLinks: createReceiptLinks(config),
    buyerKeys: services.buyerKeys,
  }),
  organizationCreatedConsumer,
  organizationUpdatedConsumer,
  brandContextConsumer(brandContexts),
  // Its step of a user's export and erasure (issue 18): domain/personal-data.ts.
  ...privacyRequestConsumers({
    service: 'billing',
    outbox,
    exported: personalDataExported,
    erased: personalDataErased,
    steps: billingPersonalDataSteps(services.buyerKeys),
  }),
];
