import type { BaseContext, Database, KeyRing, People, SubgraphContext } from '@bilten/platform';
import type { PaymentProviders } from './adapters/providers.ts';
import type { ReceiptLinks } from './adapters/receipt-links.ts';
import { createLoaders } from './db/loaders.ts';

/** Made once at start-up (see server.ts) and shared by every request. */
export interface BillingServices {
  /** The providers this process may charge through (adapters/providers.ts). */
  providers: PaymentProviders;
  /** How long one request may spend asking a provider, retries included (PAYMENT_DEADLINE_MS). */
  paymentDeadlineMs: number;
  /**
   * The database without the caller's deadline (`ctx.db` has one): what a provider did is recorded
   * even when the gateway stopped waiting, since the money moved either way.
   */
  ledgerDb: Database;
  /** Encrypts payment-method tokens at rest (DATA_ENCRYPTION_KEYS; `npm run keys:rotate`). */
  tokenKey: KeyRing;
  /** The tokens of receipt PDF links (RECEIPT_LINK_SECRET), sealed for messaging in receiptIssued. */
  receiptLinks: ReceiptLinks;
  /** Seals and opens buyers' names and addresses per person (PERSON_KEK_KEYS, BLIND_INDEX_KEY; db/buyers.ts). */
  buyerKeys: People;
}

export type Context = SubgraphContext<ReturnType<typeof createLoaders>> & BillingServices;

export const createContext = (base: BaseContext, services: BillingServices): Context => ({
  ...base,
  loaders: createLoaders(base.db),
  ...services,
});
