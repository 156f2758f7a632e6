import {
  type Database,
  requireVerifiedUser,
  type UserError,
  userErrorsFrom,
  uuidInput,
  type Viewer,
} from '@bilten/platform';
import { v7 as uuidv7 } from 'uuid';
import { z } from 'zod';
import { insertOrder } from '../db/queries.ts';
import type { OrderRow } from '../db/schema.ts';

export const MAX_TICKETS_PER_ORDER = 50;

const createOrderInput = z.object({
  eventId: uuidInput,
  ticketTypeId: uuidInput,
  quantity: z
    .number()
    .int()
    .min(1, 'must be at least 1')
    .max(MAX_TICKETS_PER_ORDER, `must be at most ${MAX_TICKETS_PER_ORDER}`),
});

/** The signed-in, verified user buys for themselves: EMAIL_NOT_VERIFIED until they confirmed their address. */
export async function createOrder(
  viewer: Viewer,
  db: Database,
  input: unknown,
): Promise<{ order: OrderRow | null; errors: UserError[] }> {
  const buyer = requireVerifiedUser(viewer);
  const parsed = createOrderInput.safeParse(input);
  if (!parsed.success) return { order: null, errors: userErrorsFrom(parsed.error) };
  return {
    order: await insertOrder(db, { id: uuidv7(), buyerId: buyer.userId, ...parsed.data }),
    errors: [],
  };
}

/**
 * An order is its buyer's business (and platform administrators'); to anyone else it does not
 * exist, so ids cannot be probed. Organizers' views of their events' orders come with checkout.
 */
export function orderSeenBy(viewer: Viewer, order: OrderRow | null | undefined): OrderRow | null {
  if (!order || viewer.kind !== 'user') return null;
  return viewer.userId === order.buyerId || viewer.roles.includes('ADMIN') ? order : null;
}
