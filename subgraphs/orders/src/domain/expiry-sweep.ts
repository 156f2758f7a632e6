import { type Database, type Logger, type Outbox, runPeriodically } from '@bilten/platform';
import { lockLapsedOrders } from '../db/queries.ts';
import { expireLapsedHolds, setReservationStatus } from '../db/reservations.ts';
import { eventAvailabilityChanged } from '../events.ts';
import { recordExpiry } from './order-states.ts';

/** Rows one pass settles per kind: a backlog drains over a few passes, each transaction short. */
export const EXPIRY_BATCH = 500;

export interface ExpirySweepDeps {
  db: Database;
  outbox: Outbox;
  log: Logger;
}

/**
 * What time alone changes, announced: holds and unpaid orders stop counting at their expiry with no
 * write at that instant (reads judge by the clock), so nobody watching would hear of it. Each pass
 * records what lapsed since the last one: HELD holds become EXPIRED, unpaid orders past expiry
 * become EXPIRED through the state machine (`orderStatusChanged`, for `orderUpdated`) with their
 * holds, and each event concerned gets one `eventAvailabilityChanged` (for `ticketAvailability`).
 * Rows locked by someone else are skipped (SKIP LOCKED): a payment or a release under way settles
 * them itself, and two replicas sweeping never announce one expiry twice.
 */
export async function sweepExpired(deps: ExpirySweepDeps): Promise<{ holds: number; orders: number }> {
  return deps.db.transaction(async (tx) => {
    const lapsedHolds = await expireLapsedHolds(tx, EXPIRY_BATCH);
    const lapsedOrders = await lockLapsedOrders(tx, EXPIRY_BATCH);
    for (const order of lapsedOrders) {
      await recordExpiry(tx, deps.outbox, order);
      await setReservationStatus(tx, order.reservationId, 'EXPIRED');
    }
    const events = new Set([...lapsedHolds, ...lapsedOrders.map((order) => order.eventId)]);
    for (const eventId of events)
      await deps.outbox.publish(tx, eventAvailabilityChanged, eventId, { eventId });
    return { holds: lapsedHolds.length, orders: lapsedOrders.length };
  });
}

/** Sweeps every `intervalMs` (EXPIRY_SWEEP_MS) until stopped; a failed pass is logged and the next tries again. */
export const startExpirySweep = (deps: ExpirySweepDeps, intervalMs: number) =>
  runPeriodically(
    intervalMs,
    async () => {
      const swept = await sweepExpired(deps);
      if (swept.holds || swept.orders) deps.log.info(swept, 'expired holds and orders recorded');
    },
    (error) => deps.log.error({ err: error }, 'expiry sweep failed'),
  );
