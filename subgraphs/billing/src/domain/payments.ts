import {
  moneyInput,
  mutationRule,
  requireAdmin,
  type UserError,
  uuidInput,
  type Viewer,
} from '@bilten/platform';
import { v7 as uuidv7 } from 'uuid';
import { z } from 'zod';
import type { Context } from '../context.ts';
import { insertPayment } from '../db/queries.ts';
import type { PaymentRow } from '../db/schema.ts';

const recordPaymentInput = z.object({
  orderId: uuidInput,
  amount: moneyInput,
  provider: z.enum(['STRIPE', 'BRAINTREE']),
});

interface RecordPaymentResult {
  payment: PaymentRow | null;
  errors: UserError[];
}

/** Platform ADMINs only: a payment recorded by anyone else would be a forged one. */
export const recordPayment = mutationRule(
  {
    input: recordPaymentInput,
    caller: requireAdmin,
    invalid: (errors): RecordPaymentResult => ({ payment: null, errors }),
  },
  async (
    ctx: Pick<Context, 'db' | 'viewer'>,
    { orderId, amount, provider },
  ): Promise<RecordPaymentResult> => {
    const payment = await insertPayment(ctx.db, {
      id: uuidv7(),
      orderId,
      amount: amount.amount,
      currency: amount.currency,
      provider,
    });
    return { payment, errors: [] };
  },
);

/** `payment(id:)` and Payment references: the payment when the caller may see it, else null. */
export async function visiblePayment(
  ctx: Pick<Context, 'loaders' | 'viewer'>,
  { id }: { id: string },
): Promise<PaymentRow | null> {
  return paymentSeenBy(ctx.viewer, await ctx.loaders.payment.load(id));
}

/**
 * `Order.payments`, oldest first. Not checked here: callers reach it on an order that orders has
 * already shown them, or on a payment only ADMINs see.
 */
export function paymentsOfOrder(ctx: Pick<Context, 'loaders'>, order: { id: string }): Promise<PaymentRow[]> {
  return ctx.loaders.paymentsOfOrder.load(order.id);
}

/**
 * A payment looked up by id is for platform ADMINs; to anyone else it does not exist. Billing
 * does not know buyers: customers see their payments through `Order.payments`, on an order that
 * orders has already shown them.
 */
function paymentSeenBy(viewer: Viewer, payment: PaymentRow | null): PaymentRow | null {
  return payment && viewer.kind === 'user' && viewer.roles.includes('ADMIN') ? payment : null;
}
