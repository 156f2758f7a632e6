import { type Database, type UserError, userErrorsFrom, uuidInput } from '@bilten/platform';
import { v7 as uuidv7 } from 'uuid';
import { z } from 'zod';
import { insertOrder } from '../db/queries.ts';
import type { OrderRow } from '../db/schema.ts';

export const MAX_TICKETS_PER_ORDER = 50;

const createOrderInput = z.object({
  buyerId: uuidInput,
  eventId: uuidInput,
  ticketTypeId: uuidInput,
  quantity: z
    .number()
    .int()
    .min(1, 'must be at least 1')
    .max(MAX_TICKETS_PER_ORDER, `must be at most ${MAX_TICKETS_PER_ORDER}`),
});

export async function createOrder(
  db: Database,
  input: unknown,
): Promise<{ order: OrderRow | null; errors: UserError[] }> {
  const parsed = createOrderInput.safeParse(input);
  if (!parsed.success) return { order: null, errors: userErrorsFrom(parsed.error) };
  return { order: await insertOrder(db, { id: uuidv7(), ...parsed.data }), errors: [] };
}
