import { type Database, moneyInput, type UserError, userErrorsFrom, uuidInput } from '@bilten/platform';
import { v7 as uuidv7 } from 'uuid';
import { z } from 'zod';
import { insertPayment } from '../db/queries.ts';
import type { PaymentRow } from '../db/schema.ts';

const recordPaymentInput = z.object({
  orderId: uuidInput,
  amount: moneyInput,
  provider: z.enum(['STRIPE', 'BRAINTREE']),
});

export async function recordPayment(
  db: Database,
  input: unknown,
): Promise<{ payment: PaymentRow | null; errors: UserError[] }> {
  const parsed = recordPaymentInput.safeParse(input);
  if (!parsed.success) return { payment: null, errors: userErrorsFrom(parsed.error) };
  const { orderId, amount, provider } = parsed.data;
  const payment = await insertPayment(db, {
    id: uuidv7(),
    orderId,
    amount: amount.amount,
    currency: amount.currency,
    provider,
  });
  return { payment, errors: [] };
}
