import { mutationRule, requireVerifiedUser, type UserError, uuidInput, type Viewer } from '@bilten/platform';
import { v7 as uuidv7 } from 'uuid';
import { z } from 'zod';
import type { Context } from '../context.ts';
import { insertOrder } from '../db/queries.ts';
import type { OrderRow } from '../db/schema.ts';

const MAX_TICKETS_PER_ORDER = 50;

const createOrderInput = z.object({
  eventId: uuidInput,
  ticketTypeId: uuidInput,
  quantity: z
    .number()
    .int()
    .min(1, 'must be at least 1')
    .max(MAX_TICKETS_PER_ORDER, `must be at most ${MAX_TICKETS_PER_ORDER}`),
});

interface CreateOrderResult {
  order: OrderRow | null;
  errors: UserError[];
}

/** The signed-in, verified user buys for themselves: EMAIL_NOT_VERIFIED until they confirmed their address. */
export const createOrder = mutationRule(
  {
    input: createOrderInput,
    caller: requireVerifiedUser,
    invalid: (errors): CreateOrderResult => ({ order: null, errors }),
  },
  async (ctx: Pick<Context, 'db' | 'viewer'>, input, buyer): Promise<CreateOrderResult> => {
    return {
      order: await insertOrder(ctx.db, { id: uuidv7(), buyerId: buyer.userId, ...input }),
      errors: [],
    };
  },
);

/** `order(id:)` and Order references: the order when the caller may see it, else null. */
export async function visibleOrder(
  ctx: Pick<Context, 'loaders' | 'viewer'>,
  { id }: { id: string },
): Promise<OrderRow | null> {
  return orderSeenBy(ctx.viewer, await ctx.loaders.order.load(id));
}

/**
 * An order is its buyer's business (and platform administrators'); to anyone else it does not
 * exist, so ids cannot be probed. Organizers' views of their events' orders come with checkout.
 */
function orderSeenBy(viewer: Viewer, order: OrderRow | null): OrderRow | null {
  if (!order || viewer.kind !== 'user') return null;
  return viewer.userId === order.buyerId || viewer.roles.includes('ADMIN') ? order : null;
}
