import {
  connectDatabase,
  createOutbox,
  createServiceMetrics,
  type DomainEvent,
  defineEvent,
  type EventConsumer,
  eventSubscription,
  eventTables,
  HEADER,
  type OutboxRelay,
  type ServiceMetrics,
  startOutboxRelay,
} from '@bilten/platform';
import {
  type BusKind,
  captureLogs,
  createTestBus,
  createTestDatabase,
  createTestEventTables,
  startFaultProxy,
  TEST_NATS_URL,
  type TestBus,
  waitFor,
} from '@bilten/testkit';
import { connect, headers as natsHeaders } from '@nats-io/transport-node';
import { sql as drizzleSql } from 'drizzle-orm';
import { pgSchema } from 'drizzle-orm/pg-core';
import postgres from 'postgres';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';

// The kit's outbox, inbox and position tables in a schema of this test's own, and the name its
// outbox NOTIFYs on and its relay LISTENs to (each test has its own database).
const SCHEMA = 'exactly_once';
const eventStore = eventTables(pgSchema(SCHEMA));

// A stand-in domain event and effect on the tables above: the effect table deliberately has no
// unique key, so a duplicate effect would show.
const ledgerRecorded = defineEvent({
  type: 'bilten.orders.ledger.recorded',
  aggregateType: 'ledger',
  payload: z.object({ n: z.number().int() }),
});
type LedgerEvent = DomainEvent<{ n: number }>;

interface HarnessOptions {
  bus: BusKind;
  natsUrl?: string;
  ordered?: boolean;
  /** The consumer lets events share transactions (default true). */
  groupCommit?: boolean;
  relays?: number;
  /** Sent outbox rows and inbox rows older than this are pruned. */
  retentionMs?: number;
  maxDeliveries?: number;
  /** Runs inside the effect's transaction before the effect; throw to fail the delivery. */
  beforeEffect?: (event: LedgerEvent) => Promise<void> | void;
  loseAckAfterCommit?: (event: LedgerEvent) => boolean;
}

interface Harness {
  testBus: TestBus;
  sql: postgres.Sql;
  metrics: ServiceMetrics;
  relays: OutboxRelay[];
  startRelays(count: number): Promise<void>;
  produce(events: Array<{ aggregateId: string; n: number }>, perTransaction?: number): Promise<void>;
  effects(): Promise<Array<{ event_id: string; aggregate_id: string; sequence: number; n: number }>>;
  counter(name: string): Promise<number>;
  dispose(): Promise<void>;
}

const harnesses: Harness[] = [];
afterEach(async () => {
  for (const harness of harnesses.splice(0)) await harness.dispose();
});

async function startHarness(options: HarnessOptions): Promise<Harness> {
  const { log } = captureLogs('exactly-once');
  const database = await createTestDatabase();
  const sql = postgres(database.url, { max: 2, onnotice: () => {} });
  await createTestEventTables(sql, SCHEMA);
  await sql`create table public.effects (
    id bigserial primary key, event_id uuid not null, aggregate_id text not null, sequence int not null, n int not null,
    transaction_id bigint not null default txid_current())`;
  const db = connectDatabase({ url: database.url, applicationName: 'exactly-once', poolSize: 12 });
  const metrics = createServiceMetrics('exactly-once');
  const testBus = await createTestBus(options.bus, log, { url: options.natsUrl, ackWaitMs: 2_000 });
  const outbox = createOutbox(eventStore, SCHEMA);
  const relayDatabases: Array<ReturnType<typeof connectDatabase>> = [];
  const relays: OutboxRelay[] = [];

  const consumer: EventConsumer<typeof ledgerRecorded.payload> = {
    name: 'ledger',
    event: ledgerRecorded,
    ordered: options.ordered,
    groupCommit: options.groupCommit ?? true,
    async handle(event, tx) {
      await options.beforeEffect?.(event);
      await tx.execute(drizzleSql`insert into public.effects (event_id, aggregate_id, sequence, n)
        values (${event.id}, ${event.aggregateId}, ${event.sequence}, ${event.payload.n})`);
    },
  };
  const subscription = await testBus.bus.subscribe(
    eventSubscription(consumer, {
      service: 'test',
      db: db.db,
      tables: eventStore,
      log,
      metrics,
      maxDeliveries: options.maxDeliveries,
      loseAckAfterCommit: options.loseAckAfterCommit as (event: DomainEvent) => boolean,
    }),
  );

  const harness: Harness = {
    testBus,
    sql,
    metrics,
    relays,
    async startRelays(count) {
      for (let i = 0; i < count; i++) {
        const relayDb = connectDatabase({ url: database.url, applicationName: `relay-${i}`, poolSize: 2 });
        relayDatabases.push(relayDb);
        relays.push(
          await startOutboxRelay({
            subgraph: SCHEMA,
            db: relayDb.db,
            sql: relayDb.sql,
            tables: eventStore,
            bus: testBus.bus,
            log,
            metrics,
            batchSize: 200,
            pollIntervalMs: 200,
            retentionMs: options.retentionMs,
            inboxRetentionMs: options.retentionMs,
          }),
        );
      }
    },
    async produce(events, perTransaction = 1) {
      for (let i = 0; i < events.length; i += perTransaction) {
        await db.db.transaction(async (tx) => {
          for (const { aggregateId, n } of events.slice(i, i + perTransaction)) {
            await outbox.publish(tx, ledgerRecorded, aggregateId, { n });
          }
        });
      }
    },
    effects: () => sql`select event_id, aggregate_id, sequence, n from public.effects order by id`,
    async counter(name) {
      const metric = await metrics.registry.getSingleMetric(name)?.get();
      return (metric?.values ?? []).reduce((sum, value) => sum + value.value, 0);
    },
    async dispose() {
      await subscription.stop();
      for (const relay of relays) await relay.stop();
      for (const relayDb of relayDatabases) await relayDb.close();
      await testBus.dispose();
      await db.close();
      await sql.end();
      await database.drop();
    },
  };
  harnesses.push(harness);
  if (options.relays !== 0) await harness.startRelays(options.relays ?? 1);
  return harness;
}

function expectExactlyOnce(effects: Awaited<ReturnType<Harness['effects']>>, expected: number) {
  expect(effects).toHaveLength(expected);
  expect(new Set(effects.map((effect) => effect.event_id)).size).toBe(expected);
}

function expectOrderPerAggregate(effects: Awaited<ReturnType<Harness['effects']>>, perAggregate: number) {
  const byAggregate = new Map<string, number[]>();
  for (const effect of effects)
    byAggregate.set(effect.aggregate_id, [...(byAggregate.get(effect.aggregate_id) ?? []), effect.sequence]);
  for (const [aggregate, sequences] of byAggregate) {
    expect(sequences, aggregate).toEqual(Array.from({ length: perAggregate }, (_, i) => i + 1));
  }
}

const events = (aggregates: number, perAggregate: number) =>
  Array.from({ length: aggregates * perAggregate }, (_, i) => ({
    aggregateId: `ledger-${i % aggregates}`,
    n: i,
  }));

describe('exactly-once effects through the outbox, JetStream and the inbox', () => {
  it('loses and doubles nothing when the NATS connection dies while 1,000 events are produced', async () => {
    const proxy = await startFaultProxy({
      host: '127.0.0.1',
      port: Number(new URL(TEST_NATS_URL).port || 4222),
    });
    try {
      const harness = await startHarness({
        bus: 'jetstream',
        natsUrl: `nats://127.0.0.1:${proxy.port}`,
        ordered: true,
      });
      const all = events(20, 50);
      const producing = harness.produce(all.slice(0, 300));
      await producing;
      await proxy.refuse();
      await harness.produce(all.slice(300, 700));
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      await proxy.restore();
      await harness.produce(all.slice(700));
      await waitFor(async () => (await harness.effects()).length >= 1_000, 60_000);
      await new Promise((resolve) => setTimeout(resolve, 500));
      const effects = await harness.effects();
      expectExactlyOnce(effects, 1_000);
      expectOrderPerAggregate(effects, 50);
      const [unsent] =
        await harness.sql`select count(*)::int as n from exactly_once.outbox where sent_at is null`;
      expect(unsent!.n).toBe(0);
    } finally {
      for (const harness of harnesses.splice(0)) await harness.dispose();
      await proxy.close();
    }
  }, 90_000);

  it('does not apply twice an event whose ack was lost after the commit (JetStream redelivers it)', async () => {
    const lost = new Set<string>();
    const harness = await startHarness({
      bus: 'jetstream',
      loseAckAfterCommit: (event) => {
        if (event.payload.n % 10 !== 0 || lost.has(event.id)) return false;
        lost.add(event.id);
        return true;
      },
    });
    await harness.produce(events(5, 20), 10);
    await waitFor(async () => (await harness.effects()).length >= 100 && lost.size === 10, 20_000);
    await waitFor(async () => (await harness.counter('events_redelivered_duplicates_total')) === 10, 20_000);
    expectExactlyOnce(await harness.effects(), 100);
  });

  it.each([
    ['one transaction per event', false],
    ['group commit', true],
  ])(
    'holds events of one aggregate in order: 50 aggregates × 100 events, random delays and redeliveries (%s)',
    async (_, groupCommit) => {
      const failedOnce = new Set<string>();
      const lostOnce = new Set<string>();
      const harness = await startHarness({
        bus: 'jetstream',
        ordered: true,
        groupCommit,
        beforeEffect: async (event) => {
          await new Promise((resolve) => setTimeout(resolve, Math.random() * 3));
          if (Math.random() < 0.04 && !failedOnce.has(event.id)) {
            failedOnce.add(event.id);
            throw new Error('forced failure');
          }
        },
        loseAckAfterCommit: (event) => {
          if (Math.random() >= 0.02 || lostOnce.has(event.id)) return false;
          lostOnce.add(event.id);
          return true;
        },
      });
      // Interleaved across aggregates, 50 events per transaction.
      await harness.produce(events(50, 100), 50);
      await waitFor(async () => (await harness.effects()).length >= 5_000, 90_000);
      const effects = await harness.effects();
      expectExactlyOnce(effects, 5_000);
      expectOrderPerAggregate(effects, 100);
      expect(failedOnce.size).toBeGreaterThan(50);
      expect(lostOnce.size).toBeGreaterThan(20);
      expect(await harness.counter('events_held_back_total')).toBeGreaterThan(0);
    },
    120_000,
  );

  it('publishes each event once with two relays at once, counting the broker-side duplicates', async () => {
    const harness = await startHarness({ bus: 'jetstream', relays: 0 });
    await harness.produce(events(10, 100), 100);
    // A relay that crashed after its PubAck but before marking the rows: 100 events already stored.
    const early = await harness.sql`select * from exactly_once.outbox order by occurred_at, id limit 100`;
    for (const row of early) {
      await harness.testBus.bus.publish({
        id: row.id,
        type: row.type,
        version: row.version,
        occurredAt: row.occurred_at.toISOString(),
        aggregateType: row.aggregate_type,
        aggregateId: row.aggregate_id,
        sequence: Number(row.sequence),
        payload: row.payload,
      });
    }
    await harness.startRelays(2);
    await waitFor(async () => (await harness.effects()).length >= 1_000, 30_000);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expectExactlyOnce(await harness.effects(), 1_000);
    expect(await harness.counter('events_published_total')).toBe(1_000);
    expect(await harness.counter('events_publish_duplicates_total')).toBe(100);
    const [unsent] =
      await harness.sql`select count(*)::int as n from exactly_once.outbox where sent_at is null`;
    expect(unsent!.n).toBe(0);
  });

  it('shares one transaction among many events, and a failing handler does not take its batch-mates down', async () => {
    let broken = true;
    const harness = await startHarness({
      bus: 'jetstream',
      ordered: true,
      relays: 0,
      maxDeliveries: 1_000,
      beforeEffect: (event) => {
        if (event.payload.n === 7 && broken) throw new Error('downstream is down');
      },
    });
    await harness.produce(events(100, 4), 100); // a backlog, so deliveries arrive together
    await harness.startRelays(1);
    // Every other aggregate is applied while the broken event (first of its aggregate, with three
    // successors held back behind it) keeps failing in its batches.
    await waitFor(async () => (await harness.effects()).length >= 396, 30_000);
    await waitFor(async () => (await harness.counter('events_failed_total')) >= 2, 10_000);
    expect(await harness.counter('events_consumed_total')).toBe(396);
    expect(await harness.counter('events_retried_total')).toBe(await harness.counter('events_failed_total'));
    broken = false;
    await waitFor(async () => (await harness.effects()).length >= 400, 30_000);
    const effects = await harness.effects();
    expectExactlyOnce(effects, 400);
    expectOrderPerAggregate(effects, 4);
    const [shared] = await harness.sql<Array<{ transactions: number }>>`
      select count(distinct transaction_id)::int as transactions from public.effects`;
    expect(shared!.transactions).toBeLessThan(200);
    expect(await harness.counter('events_consumed_total')).toBe(400);
  });

  it('prunes sent outbox rows and old inbox rows after the retention period, never unsent ones', async () => {
    const harness = await startHarness({ bus: 'jetstream', retentionMs: 300 });
    await harness.produce(events(2, 5));
    await waitFor(async () => (await harness.effects()).length === 10);
    await harness.relays[0]!.stop();
    await harness.produce(events(1, 1)); // no relay now: stays unsent
    await new Promise((resolve) => setTimeout(resolve, 400));
    await harness.relays[0]!.prune();
    const [counts] = await harness.sql`
      select (select count(*)::int from exactly_once.outbox where sent_at is not null) as sent,
             (select count(*)::int from exactly_once.outbox where sent_at is null) as unsent,
             (select count(*)::int from exactly_once.inbox) as inbox`;
    expect(counts).toEqual({ sent: 0, unsent: 1, inbox: 0 });
  });

  it('lets a poison message and an unknown version go to the dead letters without blocking the events behind', async () => {
    const harness = await startHarness({ bus: 'jetstream' });
    await harness.produce([{ aggregateId: 'p', n: 1 }]);
    await waitFor(async () => (await harness.effects()).length === 1);
    const nc = await connect({ servers: TEST_NATS_URL });
    const subject = `${harness.testBus.subjectPrefix}${ledgerRecorded.type}`;
    const h = natsHeaders();
    h.set(HEADER.aggregateId, 'p');
    nc.publish(subject, '{"this is": not json', { headers: h });
    const [valid] = await harness.sql`select payload from exactly_once.outbox limit 1`;
    nc.publish(
      subject,
      JSON.stringify({
        id: '0190a000-0000-7000-8000-0000000000aa',
        type: ledgerRecorded.type,
        version: 2,
        occurredAt: new Date().toISOString(),
        aggregateType: 'ledger',
        aggregateId: 'p',
        sequence: 9,
        payload: valid!.payload,
      }),
      { headers: h },
    );
    await nc.flush();
    await nc.close();
    await harness.produce([{ aggregateId: 'p', n: 2 }]);
    await waitFor(async () => (await harness.effects()).length === 2);
    const letters = await waitFor(async () => {
      const found = await harness.testBus.bus.listDeadLetters();
      return found.length === 2 ? found : undefined;
    });
    expect(letters.map((letter) => letter.error)).toEqual([
      'message is not JSON',
      `expected ${ledgerRecorded.type} v1, got ${ledgerRecorded.type} v2`,
    ]);
    expect(letters[0]).toMatchObject({ durableName: 'test-ledger', deliveryCount: 1 });
  });
});

describe.each(['jetstream', 'in-process'] as const)('failures and dead letters (%s bus)', (kind) => {
  it('dead-letters an event after N failed deliveries with its reason, and a replay after the fix applies it once', async () => {
    let broken = true;
    const harness = await startHarness({
      bus: kind,
      maxDeliveries: 3,
      beforeEffect: () => {
        if (broken) throw new Error('ledger is closed for audit');
      },
    });
    await harness.produce([
      { aggregateId: 'q', n: 1 },
      { aggregateId: 'r', n: 2 },
    ]);
    const letters = await waitFor(async () => {
      const found = await harness.testBus.bus.listDeadLetters({ durableName: 'test-ledger' });
      return found.length === 2 ? found : undefined;
    }, 20_000);
    expect(letters[0]).toMatchObject({
      type: ledgerRecorded.type,
      error: 'ledger is closed for audit',
      deliveryCount: 3,
      headers: expect.objectContaining({ [HEADER.aggregateId]: expect.any(String) }),
    });
    expect(await harness.effects()).toEqual([]);
    expect(await harness.counter('events_dead_lettered_total')).toBe(2);
    expect(await harness.counter('events_retried_total')).toBe(4);

    broken = false;
    for (const letter of letters)
      expect(await harness.testBus.bus.replayDeadLetter(letter.sequence)).toBe(true);
    await waitFor(async () => (await harness.effects()).length === 2, 10_000);
    // A second replay of the same event (e.g. an operator's double click) changes nothing.
    await harness.testBus.bus.publish(JSON.parse(letters[0]!.data));
    await new Promise((resolve) => setTimeout(resolve, 500));
    expectExactlyOnce(await harness.effects(), 2);
    expect(await harness.testBus.bus.listDeadLetters()).toEqual([]);
  });

  it('keeps per-aggregate order when an event in the middle is dead-lettered and replayed later', async () => {
    const harness = await startHarness({
      bus: kind,
      ordered: true,
      maxDeliveries: 2,
      beforeEffect: (event) => {
        if (event.payload.n === 2 && !replaying) throw new Error('bad line');
      },
    });
    let replaying = false;
    await harness.produce([1, 2, 3, 4].map((n) => ({ aggregateId: 's', n })));
    await waitFor(async () => (await harness.effects()).length === 3, 20_000);
    expect((await harness.effects()).map((effect) => effect.n)).toEqual([1, 3, 4]);
    replaying = true;
    const [letter] = await harness.testBus.bus.listDeadLetters();
    await harness.testBus.bus.replayDeadLetter(letter!.sequence);
    await waitFor(async () => (await harness.effects()).length === 4);
    expect((await harness.effects()).map((effect) => effect.n)).toEqual([1, 3, 4, 2]);
  });
});
