import { defineEvent } from '@bilten/platform';
import { z } from 'zod';

/** A stand-in domain event of the orders subgraph (its outbox, inbox and position tables). */
export const benchRecorded = defineEvent({
  type: 'bilten.orders.bench.recorded',
  aggregateType: 'bench',
  payload: z.object({ n: z.number().int(), note: z.string() }),
});
