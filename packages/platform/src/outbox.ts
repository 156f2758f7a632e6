import { asc, inArray, isNull, lt, sql } from 'drizzle-orm';
import type { z } from 'zod';
import type { Database, Sql, Transaction } from './db.ts';
import type { EventTables } from './event-tables.ts';
import { type DomainEvent, type EventBus, type EventDefinition, newEvent } from './events.ts';
import type { Logger } from './logger.ts';
import type { ServiceMetrics } from './metrics.ts';
import { contextOf, inSpan, SpanKind, traceparentOf } from './tracing.ts';

export interface Outbox {
  /**
   * Records `payload` as the next event of aggregate `aggregateId`, inside the caller's
   * transaction: no event without its state change, no state change without its event.
   */
  publish<S extends z.ZodType>(
    tx: Transaction,
    definition: EventDefinition<S>,
    aggregateId: string,
    payload: z.input<S>,
  ): Promise<DomainEvent<z.output<S>>>;
}

export const outboxChannel = (subgraph: string) => `bilten_outbox_${subgraph}`;

export function createOutbox(tables: EventTables, subgraph: string): Outbox {
  const { outbox, outboxSequences } = tables;
  return {
    async publish(tx, definition, aggregateId, payload) {
      // Validated in full first; the sequence is the database's to give (1 is a placeholder).
      const event = newEvent(definition, aggregateId, 1, payload);
      // One statement on the hot path: bump the aggregate's counter (its row lock also orders
      // concurrent writers of one aggregate), insert the row with it, and NOTIFY — delivered at
      // commit, so the relay wakes for committed rows only.
      const [row] = (await tx.execute(sql`
        with counter as (
          insert into ${outboxSequences} (aggregate_type, aggregate_id, last_sequence)
          values (${event.aggregateType}, ${aggregateId}, 1)
          on conflict (aggregate_type, aggregate_id)
          do update set last_sequence = ${outboxSequences}.last_sequence + 1
          returning last_sequence
        ), notified as (select pg_notify(${outboxChannel(subgraph)}, ''))
        insert into ${outbox}
          (id, type, version, aggregate_type, aggregate_id, sequence, occurred_at, correlation_id, traceparent, payload)
        select ${event.id}, ${event.type}, ${event.version}, ${event.aggregateType}, ${aggregateId},
          counter.last_sequence, ${event.occurredAt}, ${event.correlationId ?? null}, ${event.traceparent ?? null},
          ${JSON.stringify(event.payload)}::jsonb
        from counter, notified
        returning sequence`)) as unknown as Array<{ sequence: string | number }>;
      event.sequence = Number(row!.sequence);
      return event;
    },
  };
}

export interface RelayOptions {
  subgraph: string;
  db: Database;
  /** A postgres.js client for LISTEN (it keeps one dedicated connection). */
  sql: Sql;
  tables: EventTables;
  bus: EventBus;
  log: Logger;
  metrics: ServiceMetrics;
  batchSize?: number;
  pollIntervalMs?: number;
  /** Sent rows are deleted after this long; inbox rows after `inboxRetentionMs`. */
  retentionMs?: number;
  inboxRetentionMs?: number;
}

export interface OutboxRelay {
  /** Publishes one batch of unsent rows; returns how many went out. */
  relayOnce(): Promise<number>;
  prune(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Moves committed outbox rows to the bus. Rows are claimed with FOR UPDATE SKIP LOCKED, so any
 * number of relays can run; a row is marked sent only after the broker's PubAck, so a crash or
 * a broker outage leaves it for the next attempt (the broker drops the repeat by event id).
 */
export async function startOutboxRelay(options: RelayOptions): Promise<OutboxRelay> {
  const { db, tables, bus, log, metrics } = options;
  const { outbox, inbox } = tables;
  const batchSize = options.batchSize ?? 500;
  const pollIntervalMs = options.pollIntervalMs ?? 1_000;
  const retentionMs = options.retentionMs ?? 24 * 3_600_000;
  const inboxRetentionMs = options.inboxRetentionMs ?? 7 * 24 * 3_600_000;
  let stopped = false;
  // Set by NOTIFY; a notification that arrives mid-round triggers another round at once.
  let notified = false;
  let wake: (() => void) | undefined;

  // A failed read must not take the rest of /metrics down with it: NaN says "unknown".
  metrics.events.sources.outbox = async () => {
    try {
      const [row] = await db
        .select({
          backlog: sql<number>`count(*)::int`,
          oldest: sql<number | null>`extract(epoch from now() - min(${outbox.occurredAt}))::float8`,
        })
        .from(outbox)
        .where(isNull(outbox.sentAt));
      return { backlog: row?.backlog ?? 0, oldestAgeSeconds: row?.oldest ?? 0 };
    } catch (err) {
      log.warn({ err }, 'outbox metrics unavailable');
      return { backlog: Number.NaN, oldestAgeSeconds: Number.NaN };
    }
  };

  async function relayOnce(): Promise<number> {
    return db.transaction(async (tx) => {
      const rows = await tx
        .select()
        .from(outbox)
        .where(isNull(outbox.sentAt))
        .orderBy(asc(outbox.occurredAt), asc(outbox.id))
        .limit(batchSize)
        .for('update', { skipLocked: true });
      if (!rows.length) return 0;
      // Sent in order on one connection, so the stream stores them in order; acks come back in parallel.
      const results = await Promise.allSettled(
        rows.map((row) =>
          // In the trace of the request that wrote the event; consumers continue from this span.
          inSpan(
            options.subgraph,
            `publish ${row.type}`,
            {
              kind: SpanKind.PRODUCER,
              parent: contextOf(row.traceparent ?? undefined),
              attributes: {
                'messaging.system': 'nats',
                'messaging.operation.type': 'send',
                'messaging.destination.name': row.type,
                'messaging.message.id': row.id,
              },
            },
            (span) =>
              bus.publish({
                id: row.id,
                type: row.type,
                version: row.version,
                occurredAt: row.occurredAt.toISOString(),
                aggregateType: row.aggregateType,
                aggregateId: row.aggregateId,
                sequence: row.sequence,
                correlationId: row.correlationId ?? undefined,
                traceparent: span ? traceparentOf(span) : (row.traceparent ?? undefined),
                payload: row.payload,
              }),
          ),
        ),
      );
      const sent: string[] = [];
      const failed: string[] = [];
      results.forEach((result, i) => {
        const row = rows[i]!;
        if (result.status === 'fulfilled') {
          sent.push(row.id);
          metrics.events.published.inc({ type: row.type });
          if (result.value.duplicate) metrics.events.publishDuplicates.inc({ type: row.type });
        } else {
          failed.push(row.id);
          metrics.events.publishFailures.inc({ type: row.type });
        }
      });
      if (sent.length) await tx.update(outbox).set({ sentAt: new Date() }).where(inArray(outbox.id, sent));
      if (failed.length) {
        const reason = String((results.find((r) => r.status === 'rejected') as PromiseRejectedResult).reason);
        await tx
          .update(outbox)
          .set({ attempts: sql`${outbox.attempts} + 1`, lastError: reason.slice(0, 1_000) })
          .where(inArray(outbox.id, failed));
        log.warn(
          { failed: failed.length, reason },
          'outbox relay: publish failed, rows stay for the next attempt',
        );
      }
      return sent.length;
    });
  }

  async function prune() {
    await db.delete(outbox).where(lt(outbox.sentAt, new Date(Date.now() - retentionMs)));
    await db.delete(inbox).where(lt(inbox.handledAt, new Date(Date.now() - inboxRetentionMs)));
  }

  const listener = await options.sql.listen(outboxChannel(options.subgraph), () => {
    notified = true;
    wake?.();
  });
  const pruneTimer = setInterval(
    () => prune().catch((err) => log.warn({ err }, 'outbox prune failed')),
    60_000,
  );
  pruneTimer.unref();

  const loop = (async () => {
    let failures = 0;
    while (!stopped) {
      notified = false;
      let sent = 0;
      try {
        sent = await relayOnce();
        failures = 0;
      } catch (err) {
        failures++;
        log.warn({ err, failures }, 'outbox relay round failed');
      }
      if (!failures && (sent >= batchSize || notified)) continue;
      const pause = failures ? Math.min(10_000, 250 * 2 ** failures) : pollIntervalMs;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, pause);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      wake = undefined;
    }
  })();

  return {
    relayOnce,
    prune,
    async stop() {
      stopped = true;
      wake?.();
      clearInterval(pruneTimer);
      await loop;
      await listener.unlisten();
    },
  };
}
