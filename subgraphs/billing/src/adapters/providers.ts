import {
  columnAad,
  type Database,
  inSpan,
  type KeyRing,
  keyRingFromEnv,
  SpanKind,
  uuidInput,
  type Viewer,
} from '@bilten/platform';
import type { BillingConfig } from '../config.ts';
import { providerAccountById } from '../db/provider-accounts.ts';
import {
  type PaymentProviderName,
  type PaymentRow,
  PROVIDER_CREDENTIALS_COLUMN,
  type ProviderAccountRow,
} from '../db/schema.ts';
import { braintreeAdapterFromConfig, braintreeGatewayFromConfig } from './braintree.ts';
import type { PaymentProviderAdapter } from './provider.ts';
import { createSandboxAdapter } from './sandbox.ts';
import { stripeAdapterFromConfig } from './stripe.ts';

// ---------------------------------------------------------------- organizations' own credentials

export interface StripeCredentials {
  provider: 'STRIPE';
  secretKey: string;
  webhookSecret: string;
}

export interface BraintreeCredentials {
  provider: 'BRAINTREE';
  merchantId: string;
  publicKey: string;
  privateKey: string;
  environment: 'SANDBOX' | 'PRODUCTION';
}

/** What `provider_accounts.credentials_sealed` holds, as JSON, once opened. */
export type ProviderCredentials = StripeCredentials | BraintreeCredentials;

/** Sealed with the platform key ring and bound to the account's row: it opens for no other row. */
export const sealCredentials = (ring: KeyRing, accountId: string, credentials: ProviderCredentials) =>
  ring.encrypt(JSON.stringify(credentials), columnAad(PROVIDER_CREDENTIALS_COLUMN, accountId));

const openCredentials = (ring: KeyRing, account: ProviderAccountRow): ProviderCredentials =>
  JSON.parse(ring.decrypt(account.credentialsSealed, columnAad(PROVIDER_CREDENTIALS_COLUMN, account.id)));

/**
 * An organization's Braintree account as the configuration's variables: its keys, at the
 * platform's gateway when that is a URL (the tests' fake), else at Braintree's environment it names.
 */
const braintreeEnvOf = (config: BillingConfig, credentials: BraintreeCredentials) => ({
  ...config,
  BRAINTREE_MERCHANT_ID: credentials.merchantId,
  BRAINTREE_PUBLIC_KEY: credentials.publicKey,
  BRAINTREE_PRIVATE_KEY: credentials.privateKey,
  BRAINTREE_ENVIRONMENT: /^https?:/.test(config.BRAINTREE_ENVIRONMENT)
    ? config.BRAINTREE_ENVIRONMENT
    : credentials.environment.toLowerCase(),
  // The platform's merchant accounts are not the organization's: its default account takes every sale.
  BRAINTREE_MERCHANT_ACCOUNTS: undefined,
});

/**
 * The adapter of an organization's credentials, built as the platform's own (the same API host,
 * port and protocol settings, the same timeouts).
 */
function adapterForCredentials(
  config: BillingConfig,
  credentials: ProviderCredentials,
): PaymentProviderAdapter {
  const adapter =
    credentials.provider === 'STRIPE'
      ? stripeAdapterFromConfig({ ...config, STRIPE_SECRET_KEY: credentials.secretKey })
      : braintreeAdapterFromConfig(braintreeEnvOf(config, credentials));
  // Both are built whenever their keys are set, and credentials always carry them.
  if (!adapter) throw new Error(`no ${credentials.provider} adapter for these credentials`);
  return adapter;
}

// ---------------------------------------------------------------- the registry

/**
 * The payment providers this process may use: the platform's own accounts by name, and the
 * organizations' own accounts by id. Built once per configuration (server.ts setup registers the
 * live ones it has credentials for, one `register` line each, and gives it the database the
 * organizations' accounts are read from); the request path and the event consumers share it
 * through `paymentProvidersOf(config)`.
 */
export interface PaymentProviders {
  register(adapter: PaymentProviderAdapter): void;
  /** Where organizations' accounts are read from (server.ts setup). */
  useDatabase(db: Database): void;
  /** The platform's adapter of a provider (refunds, confirmations), whoever asks. */
  get(name: PaymentProviderName): PaymentProviderAdapter | undefined;
  /**
   * The platform's adapter a caller may start a payment with: TEST-mode API keys get the Sandbox
   * only; in production nobody else gets it (it takes no money).
   */
  forCaller(name: PaymentProviderName, viewer: Viewer): PaymentProviderAdapter | undefined;
  /** Whether buyers may pay through the platform's own account of `name` here. */
  platformOffers(name: PaymentProviderName): boolean;
  /** The adapter of credentials not stored yet (to check them with the provider first). */
  forCredentials(credentials: ProviderCredentials): PaymentProviderAdapter;
  /** An organization's own account's adapter, removed or not (one per account, kept). */
  forAccount(account: ProviderAccountRow): PaymentProviderAdapter;
  /** The adapter a stored payment was made through: its organization's account, else the platform's. */
  forPayment(
    payment: Pick<PaymentRow, 'provider' | 'providerAccountId'>,
  ): Promise<PaymentProviderAdapter | undefined>;
  /** A live account's credentials (its webhooks); undefined for an unknown, removed or other provider's id. */
  liveCredentials<P extends ProviderCredentials['provider']>(
    accountId: string,
    provider: P,
  ): Promise<Extract<ProviderCredentials, { provider: P }> | undefined>;
}

export function createPaymentProviders(config: BillingConfig): PaymentProviders {
  const adapters = new Map<PaymentProviderName, PaymentProviderAdapter>();
  adapters.set('SANDBOX', traced(createSandboxAdapter()));
  const accountAdapters = new Map<string, PaymentProviderAdapter>();
  let ring: KeyRing | undefined;
  let accountsDb: Database | undefined;
  const keyRing = () => (ring ??= keyRingFromEnv(config));
  const database = () => {
    if (!accountsDb)
      throw new Error('organizations’ provider accounts are read before setup gave a database');
    return accountsDb;
  };
  const platformOffers = (name: PaymentProviderName) =>
    adapters.has(name) && !(name === 'SANDBOX' && config.NODE_ENV === 'production');

  const forAccount = (account: ProviderAccountRow) => {
    let adapter = accountAdapters.get(account.id);
    if (!adapter) {
      // A row's credentials never change (a new account is a new row), so its adapter is kept.
      adapter = traced(adapterForCredentials(config, openCredentials(keyRing(), account)));
      accountAdapters.set(account.id, adapter);
    }
    return adapter;
  };

  return {
    register(adapter) {
      adapters.set(adapter.name, traced(adapter));
    },
    useDatabase(db) {
      accountsDb = db;
    },
    get: (name) => adapters.get(name),
    forCaller(name, viewer) {
      if (viewer.kind === 'apiKey' && viewer.mode === 'TEST')
        return name === 'SANDBOX' ? adapters.get(name) : undefined;
      return platformOffers(name) ? adapters.get(name) : undefined;
    },
    platformOffers,
    forCredentials: (credentials) => traced(adapterForCredentials(config, credentials)),
    forAccount,
    async forPayment(payment) {
      if (!payment.providerAccountId) return adapters.get(payment.provider);
      const account = await providerAccountById(database(), payment.providerAccountId);
      return account && forAccount(account);
    },
    async liveCredentials(accountId, provider) {
      if (!uuidInput.safeParse(accountId).success) return undefined;
      const account = await providerAccountById(database(), accountId);
      if (!account || account.removedAt || account.provider !== provider) return undefined;
      return openCredentials(keyRing(), account) as Extract<
        ProviderCredentials,
        { provider: typeof provider }
      >;
    },
  };
}

/** A Braintree gateway of an organization's account, for its webhooks (parsing needs the keys, not the network). */
export const braintreeGatewayOfAccount = (config: BillingConfig, credentials: BraintreeCredentials) =>
  braintreeGatewayFromConfig(braintreeEnvOf(config, credentials));

const registries = new WeakMap<object, PaymentProviders>();

/** The one registry of this configuration: setup and consumers get the same adapters (and Sandbox state). */
export function paymentProvidersOf(config: BillingConfig): PaymentProviders {
  let providers = registries.get(config);
  if (!providers) {
    providers = createPaymentProviders(config);
    registries.set(config, providers);
  }
  return providers;
}

/** The adapter with a span (tracing on) around each call to its provider: `payment.<provider>.<call>`. */
function traced(adapter: PaymentProviderAdapter): PaymentProviderAdapter {
  const span =
    <A extends unknown[], R>(call: string, method: (...args: A) => Promise<R>) =>
    (...args: A) =>
      inSpan(
        'billing',
        `payment.${adapter.name.toLowerCase()}.${call}`,
        { kind: SpanKind.CLIENT, attributes: { 'payment.provider': adapter.name } },
        () => method(...args),
      );
  return {
    name: adapter.name,
    charge: span('charge', adapter.charge.bind(adapter)),
    confirm: span('confirm', adapter.confirm.bind(adapter)),
    refund: span('refund', adapter.refund.bind(adapter)),
    listTransactions: span('listTransactions', adapter.listTransactions.bind(adapter)),
    checkCredentials: span('checkCredentials', adapter.checkCredentials.bind(adapter)),
  };
}
