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

/**
 * The refund terms an `orderCreated` carries, as orders sends them: the policy of a published
 * event a month away (NONE unless given).
 */
export const orderTerms = (
  refundPolicy: {
    kind: 'FULL_UNTIL' | 'PARTIAL' | 'NONE';
    daysBeforeStart: number | null;
    percent: number | null;
  } = {
    kind: 'NONE',
    daysBeforeStart: null,
    percent: null,
  },
  eventStartsAt = new Date(Date.now() + 30 * 86_400_000),
) => ({ refundPolicy, eventStartsAt: eventStartsAt.toISOString() });

/**
 * What an `orderCreated` says was bought, as orders sends it: one line of two tickets whose
 * subtotal, with no fees or taxes, is `amount` EUR cents (an even amount), or `amount` in one
 * ticket when it is odd.
 */
export function orderContents(amount: number) {
  const quantity = amount % 2 === 0 ? 2 : 1;
  const money = (value: number) => ({ amount: value, currency: 'EUR' });
  return {
    buyerName: 'Ada Buyer',
    eventTitle: 'Sevdah Night',
    lines: [
      { ticketTypeId: uuidv7(), name: 'General admission', quantity, unitPrice: money(amount / quantity) },
    ],
    subtotal: money(amount),
    fees: money(0),
    taxes: money(0),
    taxBasisPoints: 0,
    total: money(amount),
  };
}
