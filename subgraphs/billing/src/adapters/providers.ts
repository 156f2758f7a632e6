import type { Viewer } from '@bilten/platform';
import type { BillingConfig } from '../config.ts';
import type { PaymentProviderName } from '../db/schema.ts';
import type { PaymentProviderAdapter } from './provider.ts';
import { createSandboxAdapter } from './sandbox.ts';

/**
 * The payment providers this process may use, by name. Built once per configuration (server.ts
 * setup registers the live ones it has credentials for: one `register` line each); the request
 * path and the event consumers share it through `paymentProvidersOf(config)`.
 */
export interface PaymentProviders {
  register(adapter: PaymentProviderAdapter): void;
  /** The adapter behind a stored payment (refunds, confirmations), whoever asks. */
  get(name: PaymentProviderName): PaymentProviderAdapter | undefined;
  /**
   * The adapter a caller may start a payment with: TEST-mode API keys get the Sandbox only; in
   * production nobody else gets it (it takes no money).
   */
  forCaller(name: PaymentProviderName, viewer: Viewer): PaymentProviderAdapter | undefined;
}

export function createPaymentProviders(config: Pick<BillingConfig, 'NODE_ENV'>): PaymentProviders {
  const adapters = new Map<PaymentProviderName, PaymentProviderAdapter>();
  adapters.set('SANDBOX', createSandboxAdapter());
  return {
    register(adapter) {
      adapters.set(adapter.name, adapter);
    },
    get: (name) => adapters.get(name),
    forCaller(name, viewer) {
      const testOnly = viewer.kind === 'apiKey' && viewer.mode === 'TEST';
      if (testOnly || (name === 'SANDBOX' && config.NODE_ENV === 'production'))
        return testOnly && name === 'SANDBOX' ? adapters.get(name) : undefined;
      return adapters.get(name);
    },
  };
}

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
