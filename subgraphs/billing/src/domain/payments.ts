import {
  type BaseContext,
  moneyInput,
  requireAdmin,
  type UserError,
  userErrorsFrom,
  uuidInput,
  type Viewer,
} from '@bilten/platform';
import { v7 as uuidv7 } from 'uuid';
import { z } from 'zod';
import { insertPayment } from '../db/queries.ts';
import type { PaymentRow } from '../db/schema.ts';

const recordPaymentInput = z.object({
  orderId: uuidInput,
  amount: moneyInput,
  provider: z.enum(['STRIPE', 'BRAINTREE']),
});

/** Platform ADMINs only: a payment recorded by anyone else would be a forged one. */
export async function recordPayment(
  ctx: Pick<BaseContext, 'db' | 'viewer'>,
  input: unknown,
): Promise<{ payment: PaymentRow | null; errors: UserError[] }> {
  requireAdmin(ctx.viewer);
  const parsed = recordPaymentInput.safeParse(input);
  if (!parsed.success) return { payment: null, errors: userErrorsFrom(parsed.error) };
  const { orderId, amount, provider } = parsed.data;
  const payment = await insertPayment(ctx.db, {
    id: uuidv7(),
    orderId,
    amount: amount.amount,
    currency: amount.currency,
    provider,
  });
  return { payment, errors: [] };
}

/**
 * A payment looked up by id is for platform ADMINs; to anyone else it does not exist. Billing
 * does not know buyers: customers see their payments through `Order.payments`, on an order that
 * orders has already shown them.
 */
export function paymentSeenBy(viewer: Viewer, payment: PaymentRow | null | undefined): PaymentRow | null {
  return payment && viewer.kind === 'user' && viewer.roles.includes('ADMIN') ? payment : null;
}
