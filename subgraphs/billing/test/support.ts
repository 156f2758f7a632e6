/** What the billing test files share: a provider charge request as billing makes it. */
import { v7 as uuidv7 } from 'uuid';
import type { ChargeRequest } from '../src/adapters/provider.ts';

/** A charge of `amount` EUR cents with `token`, under a fresh payment's key. */
export const chargeRequest = (token: string, amount = 1234): ChargeRequest => {
  const paymentId = uuidv7();
  return {
    paymentId,
    orderId: uuidv7(),
    amount: { amount, currency: 'EUR' },
    paymentMethodToken: token,
    idempotencyKey: `${paymentId}:charge`,
    buyerEmail: 'buyer@example.com',
  };
};

/** Long enough for any single provider call in these tests. */
export const signal = () => AbortSignal.timeout(5_000);
