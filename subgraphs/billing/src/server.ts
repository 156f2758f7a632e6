import { createOutbox, defineSubgraph, type EncryptedColumn, keyRingFromEnv } from '@bilten/platform';
import { braintreeAdapterFromConfig, braintreeGatewayFromConfig } from './adapters/braintree.ts';
import { registerBraintreeWebhooks } from './adapters/braintree-webhooks.ts';
import { paymentProvidersOf } from './adapters/providers.ts';
import { createReceiptLinks } from './adapters/receipt-links.ts';
import { stripeAdapterFromConfig } from './adapters/stripe.ts';
import { registerStripeWebhooks } from './adapters/stripe-webhooks.ts';
import { billingEnv } from './config.ts';
import { type BillingServices, createContext } from './context.ts';
import { eventStore, PAYMENT_TOKEN_COLUMN } from './db/schema.ts';
import { consumers } from './events.ts';
import { resolvers } from './resolvers/index.ts';

/** Billing's encrypted columns, for `npm run keys:rotate`. */
export const encryptedColumns: EncryptedColumn[] = [PAYMENT_TOKEN_COLUMN];

export const billingSubgraph = defineSubgraph({
  name: 'billing',
  directory: new URL('../', import.meta.url),
  config: billingEnv,
  port: (config) => config.BILLING_PORT,
  resolvers,
  eventTables: eventStore,
  createContext,
  consumers,
  async setup({ config, db, log }) {
    // The Sandbox is always there; each live provider is one `providers.register(...)` line here.
    const providers = paymentProvidersOf(config);
    const braintreeAdapter = braintreeAdapterFromConfig(config);
    if (braintreeAdapter) providers.register(braintreeAdapter);
    const stripeAdapter = stripeAdapterFromConfig(config);
    if (stripeAdapter) providers.register(stripeAdapter);
    const services: BillingServices = {
      providers,
      paymentDeadlineMs: config.PAYMENT_DEADLINE_MS,
      ledgerDb: db,
      tokenKey: keyRingFromEnv(config),
      receiptLinks: createReceiptLinks(config),
    };
    // Provider webhooks write payments and events like a consumer: the same outbox as resolvers.
    const webhookOutbox = createOutbox(eventStore, 'billing');
    const braintreeGateway = braintreeGatewayFromConfig(config);
    return {
      services,
      routes: (app) => {
        if (braintreeGateway)
          registerBraintreeWebhooks(app, { gateway: braintreeGateway, db, outbox: webhookOutbox, log });
        if (config.STRIPE_WEBHOOK_SECRET)
          registerStripeWebhooks(app, {
            secret: config.STRIPE_WEBHOOK_SECRET,
            db,
            outbox: webhookOutbox,
            log,
          });
      },
    };
  },
});
