import { defineEvent } from '@bilten/platform';
import { z } from 'zod';

/** A stand-in domain event, on the benchmark's own outbox, inbox and position tables (event-store.ts). */
export const benchRecorded = defineEvent({
  type: 'bilten.orders.bench.recorded',
  aggregateType: 'bench',
  payload: z.object({ n: z.number().int(), note: z.string() }),
});
