import { and, eq, inArray, sql } from 'drizzle-orm';
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
import { exemplarOf, type ServiceMetrics } from './metrics.ts';
import { requestContext } from './request-context.ts';
import { consumerSpanOptions, inSpan, traceparentOf } from './tracing.ts';

/** A durable handler of one event type; its effect commits with the inbox row in `tx`. */
export interface EventConsumer<S extends z.ZodType = z.ZodType> {
  name: string;
  event: EventDefinition<S>;
  /** Apply events of one aggregate strictly in their sequence order. */
  ordered?: boolean;
  /**
   * Let events share one transaction (group commit), for handlers whose every effect goes through
   * `tx`. Not for handlers that call out (SMTP, HTTP): when a batch-mate fails, the batch runs
   * again one event at a time, and such a call would be made twice.
   */
  groupCommit?: boolean;
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
  /** Most events applied in one transaction, for consumers with `groupCommit`. */
  maxBatchSize?: number;
  /** Batch transactions in flight at once (each holds a connection). */
  parallelBatches?: number;
  /** Test seam: simulate a crash after the commit and before the ack, for the event ids it returns true. */
  loseAckAfterCommit?: (event: DomainEvent) => boolean;
}

type Outcome = 'applied' | 'duplicate' | 'held';

interface Delivery {
  event: DomainEvent;
  message: IncomingMessage;
}

interface Pending extends Delivery {
  resolve(outcome: Outcome): void;
  reject(err: unknown): void;
}

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
  const maxBatchSize = options.maxBatchSize ?? 64;
  const parallelBatches = options.parallelBatches ?? 2;
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

  /** The last applied sequence of each aggregate in the batch, locked until the commit. */
  async function lastSequences(tx: Transaction, events: DomainEvent[]): Promise<Map<string, number>> {
    if (!events.length) return new Map();
    // Sorted, so concurrent batches (other replicas) lock rows in one order and cannot deadlock.
    const ids = [...new Set(events.map((event) => event.aggregateId))].sort();
    const rows = await tx
      .select({ aggregateId: consumerPositions.aggregateId, lastSequence: consumerPositions.lastSequence })
      .from(consumerPositions)
      .where(
        and(
          eq(consumerPositions.consumer, durableName),
          eq(consumerPositions.aggregateType, consumer.event.aggregateType),
          inArray(consumerPositions.aggregateId, ids),
        ),
      )
      .orderBy(consumerPositions.aggregateId)
      .for('update');
    return new Map(rows.map((row) => [row.aggregateId, row.lastSequence]));
  }

  async function advancePositions(tx: Transaction, events: DomainEvent[]) {
    const latest = new Map<string, number>();
    for (const event of events)
      latest.set(event.aggregateId, Math.max(latest.get(event.aggregateId) ?? 0, event.sequence));
    if (!latest.size) return;
    await tx
      .insert(consumerPositions)
      .values(
        [...latest.keys()].sort().map((aggregateId) => ({
          consumer: durableName,
          aggregateType: consumer.event.aggregateType,
          aggregateId,
          lastSequence: latest.get(aggregateId)!,
        })),
      )
      .onConflictDoUpdate({
        target: [consumerPositions.consumer, consumerPositions.aggregateType, consumerPositions.aggregateId],
        set: { lastSequence: sql`greatest(${consumerPositions.lastSequence}, excluded.last_sequence)` },
      });
  }

  /** Where an ordered event stands against its aggregate's last applied sequence. */
  function placement(event: DomainEvent, last: number): Outcome {
    // Applied already (or passed over after a dead letter): applying it now would go back in time.
    if (event.sequence <= last) return 'duplicate';
    if (event.sequence > last + 1) {
      const since = remember(heldSince, event.id, Date.now());
      if (Date.now() - since < holdBackTimeoutMs) return 'held';
      log.warn(
        { consumer: durableName, event: event.id, expected: last + 1, got: event.sequence },
        'accepting a gap',
      );
    }
    return 'applied';
  }

  /**
   * Applies a batch in one transaction: one inbox insert, one position read and write for the
   * whole batch, then each handler in turn. The runner keeps at most one event per aggregate in
   * flight, so a batch never holds two events of one aggregate.
   */
  function applyTogether(batch: Delivery[]): Promise<Map<Delivery, Outcome>> {
    return db.transaction(async (tx) => {
      const outcomes = new Map<Delivery, Outcome>();
      const sequenced = consumer.ordered
        ? batch.filter((item) => !(HEADER.replay in item.message.headers))
        : [];
      const last = await lastSequences(
        tx,
        sequenced.map((item) => item.event),
      );
      for (const item of sequenced)
        outcomes.set(item, placement(item.event, last.get(item.event.aggregateId) ?? 0));
      const candidates = batch.filter((item) => (outcomes.get(item) ?? 'applied') === 'applied');
      const recorded = candidates.length
        ? await tx
            .insert(inbox)
            .values(
              candidates
                .map((item) => item.event.id)
                .sort()
                .map((eventId) => ({ consumer: durableName, eventId })),
            )
            .onConflictDoNothing()
            .returning({ eventId: inbox.eventId })
        : [];
      const fresh = new Set(recorded.map((row) => row.eventId));
      for (const item of candidates) {
        if (!fresh.has(item.event.id)) {
          outcomes.set(item, 'duplicate');
          continue;
        }
        await consumer.handle(item.event as DomainEvent<z.output<S>>, tx);
        outcomes.set(item, 'applied');
      }
      if (consumer.ordered)
        await advancePositions(
          tx,
          candidates.filter((item) => outcomes.get(item) === 'applied').map((item) => item.event),
        );
      return outcomes;
    });
  }

  // Group commit: events that arrive while a transaction is running wait for the next one and
  // share it. No timer, so a lone event goes at once; under load one commit serves many events.
  const queue: Pending[] = [];
  let running = 0;
  async function apply(event: DomainEvent<z.output<S>>, message: IncomingMessage): Promise<Outcome> {
    if (!consumer.groupCommit) {
      const delivery = { event, message };
      return (await applyTogether([delivery])).get(delivery)!;
    }
    return new Promise((resolve, reject) => {
      queue.push({ event, message, resolve, reject });
      void flush();
    });
  }
  async function flush(): Promise<void> {
    if (running >= parallelBatches || !queue.length) return;
    running++;
    const batch = queue.splice(0, maxBatchSize);
    try {
      const outcomes = await applyTogether(batch);
      for (const item of batch) item.resolve(outcomes.get(item)!);
    } catch (err) {
      if (batch.length === 1) batch[0]!.reject(err);
      // One handler failed and took the batch down with it: alone, each gets its own outcome.
      else
        await Promise.all(
          batch.map((item) =>
            applyTogether([item]).then((outcomes) => item.resolve(outcomes.get(item)!), item.reject),
          ),
        );
    } finally {
      running--;
      void flush();
    }
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
    handle: (message) =>
      // A span per delivery, continuing the producer's trace; what the handler logs and publishes
      // carries it on, as a request's would.
      inSpan(
        options.service,
        `process ${message.subject}`,
        consumerSpanOptions(message.headers[HEADER.traceparent], message.subject),
        (span) => {
          if (!span) return handle(message);
          const requestId = message.headers[HEADER.requestId] ?? durableName;
          return requestContext.run({ requestId, traceparent: traceparentOf(span) }, () => handle(message));
        },
      ),
  };

  async function handle(message: IncomingMessage): Promise<Verdict> {
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
    const stopTimer = metrics.events.handlerDuration.startTimer({ consumer: durableName }, {});
    try {
      const outcome = await apply(event, message);
      if (outcome === 'held') {
        metrics.events.heldBack.inc(labels);
        return { kind: 'hold', delayMs: Math.min(1_000, 20 * message.deliveryCount) };
      }
      forget(event);
      if (blocked.get(aggregateKey(event))?.sequence === event.sequence) blocked.delete(aggregateKey(event));
      metrics.events[outcome === 'applied' ? 'consumed' : 'duplicates'].inc(labels);
      if (options.loseAckAfterCommit?.(event)) return { kind: 'retry', delayMs: 0 };
      return { kind: 'ack' };
    } catch (err) {
      metrics.events.failed.inc(labels);
      const reason = err instanceof Error ? err.message : String(err);
      const attempts = countFailure(event);
      if (attempts >= maxDeliveries) {
        forget(event);
        // Later events of this aggregate must not wait for one that will not come.
        if (consumer.ordered) {
          await db.transaction((tx) => advancePositions(tx, [event]));
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
      stopTimer(undefined, exemplarOf());
    }
  }
}
