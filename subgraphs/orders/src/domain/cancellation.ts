import { eventCancelled } from '@bilten/contracts/catalog';
import type { EventConsumer, Logger, Outbox, Transaction, Viewer } from '@bilten/platform';
import { v7 as uuidv7 } from 'uuid';
import type { Context } from '../context.ts';
import {
  type CancellationCounts,
  cancellationsOfEvents,
  lockCancellation,
  markOfferCancelled,
  pendingOrdersOfEvent,
  recordBatch,
  recordCancellationRefund,
  releaseLiveHolds,
  startCancellation,
  unrefundedPaidOrders,
  voidTicketsOfEvent,
} from '../db/cancellations.ts';
import { lockOffer } from '../db/offers.ts';
import { setReservationStatus } from '../db/reservations.ts';
import type { EventCancellationRow } from '../db/schema.ts';
import { eventCancellationProgressed, refundRequested } from '../events.ts';
import { changeOrderStatus, mayTransition } from './order-states.ts';

export interface CancellationOptions {
  /** Most holds, orders or tickets one batch (one transaction) handles (CANCELLATION_BATCH_SIZE). */
  batchSize: number;
}

const NOTHING: CancellationCounts = {
  holdsReleased: 0,
  ordersCancelled: 0,
  refundsRequested: 0,
  ticketsVoided: 0,
};

/**
 * The cancellation saga of an event, in batches, each its own transaction (a consumer's, with
 * its inbox row): `eventCancelled` starts it and takes the first batch; every batch publishes
 * `eventCancellationProgressed` with the counts so far, RUNNING while there may be more, on which
 * orders takes the next batch; the batch that finds nothing left marks the row DONE and says so.
 * Each batch picks its work by state (live holds, unexpired pending orders, paid orders without a
 * saga refund, valid tickets), so a batch that failed or ran twice leaves nothing undone or
 * doubled, and a crash anywhere continues with the redelivered step.
 */
export function cancellationConsumers(
  log: Logger,
  outbox: Outbox,
  options: CancellationOptions,
): EventConsumer[] {
  /**
   * One batch, under the event's offer lock (as every hold, checkout and payment of the event):
   * first the live holds, then the orders waiting for payment, then the refunds of paid ones,
   * then the tickets.
   */
  async function nextBatch(tx: Transaction, eventId: string): Promise<void> {
    await lockOffer(tx, eventId);
    const saga = await lockCancellation(tx, eventId);
    if (!saga || saga.status === 'DONE') return;
    const counts = await work(tx, eventId);
    const done = Object.values(counts).every((count) => count === 0);
    const row = await recordBatch(tx, eventId, counts, done);
    await outbox.publish(tx, eventCancellationProgressed, eventId, {
      eventId,
      organizationId: row.organizationId,
      status: row.status,
      holdsReleased: row.holdsReleased,
      ordersCancelled: row.ordersCancelled,
      refundsRequested: row.refundsRequested,
      ticketsVoided: row.ticketsVoided,
    });
    if (done) log.info({ eventId, ...counts, batches: row.batches }, 'event cancellation done');
  }

  async function work(tx: Transaction, eventId: string): Promise<CancellationCounts> {
    const limit = options.batchSize;
    const holdsReleased = await releaseLiveHolds(tx, eventId, limit);
    if (holdsReleased) return { ...NOTHING, holdsReleased };

    const pending = await pendingOrdersOfEvent(tx, eventId, limit);
    let ordersCancelled = 0;
    for (const order of pending) {
      if (!mayTransition(log, order, 'CANCELLED', `event ${eventId} cancelled`)) continue;
      await changeOrderStatus(tx, outbox, order, 'CANCELLED');
      await setReservationStatus(tx, order.reservationId, 'RELEASED');
      ordersCancelled++;
    }
    if (pending.length) return { ...NOTHING, ordersCancelled };

    const paid = await unrefundedPaidOrders(tx, eventId, limit);
    let refundsRequested = 0;
    for (const order of paid) {
      const refundId = uuidv7();
      const amount = order.totalAmount - order.refundedAmount;
      if (!(await recordCancellationRefund(tx, { orderId: order.id, eventId, refundId, amount }))) continue;
      await outbox.publish(tx, refundRequested, order.id, {
        orderId: order.id,
        refundId,
        amount: { amount, currency: order.currency },
        reason: 'EVENT_CANCELLED',
      });
      refundsRequested++;
    }
    if (paid.length) return { ...NOTHING, refundsRequested };

    return { ...NOTHING, ticketsVoided: await voidTicketsOfEvent(tx, eventId, limit) };
  }

  /** Catalog cancelled the event (or its organization closed): stop selling, then the first batch. */
  const started: EventConsumer<typeof eventCancelled.payload> = {
    name: 'event-cancellations',
    event: eventCancelled,
    async handle({ payload }, tx) {
      await lockOffer(tx, payload.eventId);
      const saga = await startCancellation(tx, payload.eventId, payload.organizationId);
      if (saga.status === 'DONE')
        return void log.info({ eventId: payload.eventId }, 'event cancellation done already');
      await markOfferCancelled(tx, payload.eventId);
      await nextBatch(tx, payload.eventId);
    },
  };

  /** Orders' own progress report: while RUNNING, the next batch. */
  const continued: EventConsumer<typeof eventCancellationProgressed.payload> = {
    name: 'event-cancellation-batches',
    event: eventCancellationProgressed,
    async handle({ payload }, tx) {
      if (payload.status === 'RUNNING') await nextBatch(tx, payload.eventId);
    },
  };

  return [started, continued] as EventConsumer[];
}

/** Every organization role (STAFF < ADMIN < OWNER) is at least STAFF. */
const isStaff = (viewer: Viewer, organizationId: string) =>
  viewer.kind === 'user' && viewer.organizations[organizationId] !== undefined;

/** The event's cancellation saga, for the organization's STAFF, ADMINs and OWNERs; null to anyone else. */
export async function visibleCancellation(
  ctx: Pick<Context, 'viewer' | 'db'>,
  eventId: string,
): Promise<EventCancellationRow | null> {
  if (ctx.viewer.kind !== 'user') return null;
  const [row] = await cancellationsOfEvents(ctx.db, [eventId]);
  return row && isStaff(ctx.viewer, row.organizationId) ? row : null;
}
