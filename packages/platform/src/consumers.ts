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
  /** Failed attempts before an event is dead-lettered (hold-backs do not count). */
  maxDeliveries?: number;
  /** How long an ordered event waits for a missing predecessor before accepting the gap. */
  holdBackTimeoutMs?: number;
  /** Test seam: simulate a crash after the commit and before the ack, for the event ids it returns true. */
  loseAckAfterCommit?: (event: DomainEvent) => boolean;
}

class HoldBack extends Error {}

/** Reads (and updates) a per-event value in a map that keeps at most 10,000 entries. */
function remember<V>(map: Map<string, V>, key: string, initial: V, update?: (value: V) => V): V {
  const current = map.get(key) ?? initial;
  const value = update ? update(current) : current;
  map.delete(key);
  map.set(key, value);
  if (map.size > 10_000) map.delete(map.keys().next().value!);
  return value;
}

const durableNameOf = (service: string, consumer: { name: string }) =>
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
  const holdBackTimeoutMs = options.holdBackTimeoutMs ?? 60_000;
  const labels = { consumer: durableName, type: consumer.event.type };
  // Start every counter at zero, so the first failure is an increase Prometheus can see.
  for (const counter of [
    'consumed',
    'duplicates',
    'failed',
    'retried',
    'heldBack',
    'deadLettered',
  ] as const) {
    metrics.events[counter].inc(labels, 0);
  }

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
      if (consumer.ordered && !(HEADER.replay in message.headers)) {
        const last = await positionOf(tx, event);
        // Applied already (or passed over after a dead letter): applying it now would go back in time.
        if (event.sequence <= last) return 'duplicate';
        if (event.sequence > last + 1) {
          const since = remember(heldSince, event.id, Date.now());
          if (Date.now() - since < holdBackTimeoutMs) throw new HoldBack();
          log.warn(
            { consumer: durableName, event: event.id, expected: last + 1, got: event.sequence },
            'accepting a gap',
          );
        }
      }
      const recorded = await tx
        .insert(inbox)
        .values({ consumer: durableName, eventId: event.id })
        .onConflictDoNothing()
        .returning({ eventId: inbox.eventId });
      if (!recorded.length) return 'duplicate';
      await consumer.handle(event, tx);
      if (consumer.ordered) await advancePosition(tx, event);
      return 'applied';
    });
  }

  // Per event, kept here because the broker's delivery count mixes failures with hold-backs:
  // failed attempts, and when an event first waited for its predecessor. Bounded maps; after a
  // restart an event simply gets a few more attempts or waits a little longer.
  const failures = new Map<string, number>();
  const heldSince = new Map<string, number>();
  const countFailure = (event: DomainEvent) => remember(failures, event.id, 0, (count) => count + 1);
  const forget = (event: DomainEvent) => {
    failures.delete(event.id);
    heldSince.delete(event.id);
  };

  // A predecessor that failed here is retried after a known delay; its successors wait that long
  // instead of asking the database again and again. The database check stays the authority.
  const blocked = new Map<string, { sequence: number; until: number }>();
  const aggregateKey = (event: DomainEvent) => `${event.aggregateType}:${event.aggregateId}`;
  function blockedDelay(event: DomainEvent): number | undefined {
    const block = blocked.get(aggregateKey(event));
    if (!block || event.sequence <= block.sequence) return undefined;
    const wait = block.until - Date.now();
    if (wait < -5_000) {
      blocked.delete(aggregateKey(event));
      return undefined;
    }
    return Math.max(20, wait + 20);
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
      if (consumer.ordered && !(HEADER.replay in message.headers)) {
        const delayMs = blockedDelay(event);
        if (delayMs !== undefined) {
          metrics.events.heldBack.inc(labels);
          return { kind: 'hold', delayMs };
        }
      }
      const stopTimer = metrics.events.handlerDuration.startTimer({ consumer: durableName });
      try {
        const outcome = await apply(event, message);
        forget(event);
        if (blocked.get(aggregateKey(event))?.sequence === event.sequence)
          blocked.delete(aggregateKey(event));
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
        const attempts = countFailure(event);
        if (attempts >= maxDeliveries) {
          forget(event);
          // Later events of this aggregate must not wait for one that will not come.
          if (consumer.ordered) {
            await db.transaction((tx) => advancePosition(tx, event));
            blocked.delete(aggregateKey(event));
          }
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
        const delayMs = retryDelayMs(attempts);
        if (consumer.ordered)
          blocked.set(aggregateKey(event), { sequence: event.sequence, until: Date.now() + delayMs });
        return { kind: 'retry', delayMs };
      } finally {
        stopTimer();
      }
    },
  };
}
