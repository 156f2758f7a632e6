import type { People } from '@bilten/platform';
import {
  createBrandImages,
  createOutbox,
  type Database,
  defineSubgraph,
  type EncryptedColumn,
  keyRingFromEnv,
  peopleFromEnv,
} from '@bilten/platform';
import { braintreeAdapterFromConfig, braintreeGatewayFromConfig } from './adapters/braintree.ts';
import { registerBraintreeWebhooks } from './adapters/braintree-webhooks.ts';
import {
  braintreeGatewayOfAccount,
  type PaymentProviders,
  paymentProvidersOf,
} from './adapters/providers.ts';
import { registerReceiptFiles } from './adapters/receipt-files.ts';
import { createReceiptLinks } from './adapters/receipt-links.ts';
import { stripeAdapterFromConfig } from './adapters/stripe.ts';
import { registerStripeWebhooks } from './adapters/stripe-webhooks.ts';
import { type BillingConfig, billingEnv } from './config.ts';
import { type BillingServices, createContext } from './context.ts';
import { sealPlaintextBuyers } from './db/buyers.ts';
import { eventStore, PAYMENT_TOKEN_COLUMN, PROVIDER_CREDENTIALS_COLUMN, personKeys } from './db/schema.ts';
import { startStalePaymentSweep } from './domain/stale-payments.ts';
import * as published from './events.ts';
import { consumers } from './events.ts';
import { resolvers } from './resolvers/index.ts';

/** Billing's encrypted columns, for `npm run keys:rotate`. */
export const encryptedColumns: EncryptedColumn[] = [PAYMENT_TOKEN_COLUMN, PROVIDER_CREDENTIALS_COLUMN];

/**
 * The providers of this configuration: the Sandbox always, each live provider one
 * `providers.register(...)` line here. Also for the CLIs (cli/reconcile.ts).
 */
export function billingProviders(config: BillingConfig, db: Database): PaymentProviders {
  const providers = paymentProvidersOf(config);
  const braintreeAdapter = braintreeAdapterFromConfig(config);
  if (braintreeAdapter) providers.register(braintreeAdapter);
  const stripeAdapter = stripeAdapterFromConfig(config);
  if (stripeAdapter) providers.register(stripeAdapter);
  // Organizations' own accounts are read from here (payments through them, their webhooks).
  providers.useDatabase(db);
  return providers;
}

/** The vaults over billing.person_keys: signed-in buyers' (never renewed) and guests' (renewed when they buy again). */
export const billingBuyerKeys = (config: Parameters<typeof peopleFromEnv>[2], db: Database): People =>
  peopleFromEnv(db, personKeys, config);

export const billingSubgraph = defineSubgraph({
  name: 'billing',
  directory: new URL('../', import.meta.url),
  config: billingEnv,
  port: (config) => config.BILLING_PORT,
  resolvers,
  eventTables: eventStore,
  createContext,
  consumers,
  securityEvents: published.securityEventsRecorded,
  async setup({ config, db, log }) {
    const providers = billingProviders(config, db);
    const buyerKeys = billingBuyerKeys(config, db);
    // Rows written before per-person keys are sealed before this replica serves (idempotent).
    const sealed = await sealPlaintextBuyers(db, buyerKeys);
    if (sealed.charges || sealed.receipts) log.info(sealed, 'sealed plaintext buyers');
    const services: BillingServices = {
      providers,
      paymentDeadlineMs: config.PAYMENT_DEADLINE_MS,
      ledgerDb: db,
      tokenKey: keyRingFromEnv(config),
      receiptLinks: createReceiptLinks(config),
      buyerKeys,
    };
    // Provider webhooks write payments and events like a consumer: the same outbox as resolvers.
    const webhookOutbox = createOutbox(eventStore, 'billing');
    const braintreeGateway = braintreeGatewayFromConfig(config);
    return {
      services,
      // Payments and refunds left PENDING are asked about again (domain/stale-payments.ts).
      background: ({ db: sweepDb, outbox, log: sweepLog }) =>
        startStalePaymentSweep(
          { ...services, db: sweepDb, outbox, log: sweepLog, staleSeconds: config.STALE_PAYMENT_SECONDS },
          config.PAYMENT_SWEEP_MS,
        ),
      routes: (app, { verifyToken }) => {
        // `GET /receipts/{id}.pdf`, which the gateway serves at its own door (gateway/src/subgraph-files.ts).
        registerReceiptFiles(app, {
          db,
          receiptLinks: services.receiptLinks,
          verifyToken,
          brandImages: createBrandImages({ assetsUrl: config.BRAND_ASSETS_URL }),
          publicGatewayUrl: config.PUBLIC_GATEWAY_URL,
          buyerKeys,
        });
        // The platform's endpoints when configured; organizations' accounts' endpoints always.
        registerBraintreeWebhooks(app, {
          gateway: braintreeGateway,
          accountGateway: async (accountId) => {
            const credentials = await providers.liveCredentials(accountId, 'BRAINTREE');
            return credentials && braintreeGatewayOfAccount(config, credentials);
          },
          db,
          outbox: webhookOutbox,
          log,
          receiptLinks: services.receiptLinks,
          buyerKeys,
        });
        registerStripeWebhooks(app, {
          secret: config.STRIPE_WEBHOOK_SECRET,
          accountSecret: async (accountId) =>
            (await providers.liveCredentials(accountId, 'STRIPE'))?.webhookSecret,
          db,
          outbox: webhookOutbox,
          log,
          receiptLinks: services.receiptLinks,
          buyerKeys,
        });
      },
    };
  },
});
