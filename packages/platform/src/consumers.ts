import { and, eq, sql } from 'drizzle-orm';
import type { z } from 'zod';
import type { Database, Transaction } from './db.ts';
import type { EventTables } from './event-tables.ts';
import {
  type DomainEvent,
  decodeEvent,
  type EventDefinition,
  HEADER,
  type IncomingMessage,
  type MalformedEventError,
  retryDelayMs,
  type Subscription,
  type Verdict,
} from './events.ts';
import type { Logger } from './logger.ts';
import type { ServiceMetrics } from './metrics.ts';

/** A durable handler of one event type; its effect commits with the inbox row in `tx`. */
export interface EventConsumer<S extends z.ZodType = z.ZodType> {
  name: string;
  event: EventDefinition<S>;
  /** Apply events of one aggregate strictly in their sequence order. */
  ordered?: boolean;
  handle(event: DomainEvent<z.output<S>>, tx: Transaction): Promise<void>;
}

export interface ConsumerOptions {
  service: string;
  db: Database;
  tables: EventTables;
  log: Logger;
  metrics: ServiceMetrics;
  /** Deliveries before an event is dead-lettered (hold-backs count too). */
  maxDeliveries?: number;
  /** Deliveries an ordered event waits for a missing predecessor before accepting the gap. */
  holdBackLimit?: number;
  /** Test seam: simulate a crash after the commit and before the ack, for the event ids it returns true. */
  loseAckAfterCommit?: (event: DomainEvent) => boolean;
}

class HoldBack extends Error {}

export const durableNameOf = (service: string, consumer: { name: string }) =>
  `${service}-${consumer.name}`.replace(/[^A-Za-z0-9_-]/g, '_');

/**
 * Turns a consumer into a bus subscription with exactly-once effects: the inbox row (event id)
 * and the effect commit together, so a redelivery finds the row and changes nothing. Ordered
 * consumers also keep the last applied sequence per aggregate and hold back early arrivals.
 */
export function eventSubscription<S extends z.ZodType>(
  consumer: EventConsumer<S>,
  options: ConsumerOptions,
): Subscription {
  const { db, tables, log, metrics } = options;
  const { inbox, consumerPositions } = tables;
  const durableName = durableNameOf(options.service, consumer);
  const maxDeliveries = options.maxDeliveries ?? 8;
  const holdBackLimit = options.holdBackLimit ?? 40;
  const labels = { consumer: durableName, type: consumer.event.type };

  async function positionOf(tx: Transaction, event: DomainEvent) {
    const [row] = await tx
      .select({ lastSequence: consumerPositions.lastSequence })
      .from(consumerPositions)
      .where(
        and(
          eq(consumerPositions.consumer, durableName),
          eq(consumerPositions.aggregateType, event.aggregateType),
          eq(consumerPositions.aggregateId, event.aggregateId),
        ),
      )
      .for('update');
    return row?.lastSequence ?? 0;
  }

  async function advancePosition(tx: Transaction, event: DomainEvent) {
    await tx
      .insert(consumerPositions)
      .values({
        consumer: durableName,
        aggregateType: event.aggregateType,
        aggregateId: event.aggregateId,
        lastSequence: event.sequence,
      })
      .onConflictDoUpdate({
        target: [consumerPositions.consumer, consumerPositions.aggregateType, consumerPositions.aggregateId],
        set: { lastSequence: sql`greatest(${consumerPositions.lastSequence}, ${event.sequence})` },
      });
  }

  async function apply(
    event: DomainEvent<z.output<S>>,
    message: IncomingMessage,
  ): Promise<'applied' | 'duplicate'> {
    return db.transaction(async (tx) => {
      const recorded = await tx
        .insert(inbox)
        .values({ consumer: durableName, eventId: event.id })
        .onConflictDoNothing()
        .returning({ eventId: inbox.eventId });
      if (!recorded.length) return 'duplicate';
      const replayed = HEADER.replay in message.headers;
      if (consumer.ordered && !replayed) {
        const last = await positionOf(tx, event);
        // Already past it (its inbox row was pruned): applying it now would go back in time.
        if (event.sequence <= last) return 'duplicate';
        if (event.sequence > last + 1) {
          if (message.deliveryCount < holdBackLimit) throw new HoldBack();
          log.warn(
            { consumer: durableName, event: event.id, expected: last + 1, got: event.sequence },
            'accepting a gap',
          );
        }
      }
      await consumer.handle(event, tx);
      if (consumer.ordered) await advancePosition(tx, event);
      return 'applied';
    });
  }

  return {
    durableName,
    subject: consumer.event.type,
    keyOf: (message) => message.headers[HEADER.aggregateId] ?? '',
    async handle(message): Promise<Verdict> {
      let event: DomainEvent<z.output<S>>;
      try {
        event = decodeEvent(message.data, consumer.event);
      } catch (err) {
        metrics.events.deadLettered.inc(labels);
        log.error({ err, consumer: durableName, subject: message.subject }, 'malformed event dead-lettered');
        return { kind: 'dead-letter', reason: (err as MalformedEventError).message };
      }
      const stopTimer = metrics.events.handlerDuration.startTimer({ consumer: durableName });
      try {
        const outcome = await apply(event, message);
        metrics.events[outcome === 'applied' ? 'consumed' : 'duplicates'].inc(labels);
        if (options.loseAckAfterCommit?.(event)) return { kind: 'retry', delayMs: 0 };
        return { kind: 'ack' };
      } catch (err) {
        if (err instanceof HoldBack) {
          metrics.events.heldBack.inc(labels);
          return { kind: 'hold', delayMs: Math.min(1_000, 20 * message.deliveryCount) };
        }
        metrics.events.failed.inc(labels);
        const reason = err instanceof Error ? err.message : String(err);
        if (message.deliveryCount >= maxDeliveries) {
          // Later events of this aggregate must not wait for one that will not come.
          if (consumer.ordered) await db.transaction((tx) => advancePosition(tx, event));
          metrics.events.deadLettered.inc(labels);
          log.error(
            { err, consumer: durableName, event: event.id, deliveries: message.deliveryCount },
            'event dead-lettered',
          );
          return { kind: 'dead-letter', reason };
        }
        metrics.events.retried.inc(labels);
        log.warn(
          { err, consumer: durableName, event: event.id, deliveries: message.deliveryCount },
          'event handling failed',
        );
        return { kind: 'retry', delayMs: retryDelayMs(message.deliveryCount) };
      } finally {
        stopTimer();
      }
    },
  };
}
