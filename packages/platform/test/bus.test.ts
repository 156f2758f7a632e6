import { captureLogs, createTestBus, TEST_NATS_URL } from '@bilten/testkit';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, headers as natsHeaders } from '@nats-io/transport-node';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  type DomainEvent,
  defineEvent,
  type EventBus,
  HEADER,
  type IncomingMessage,
  newEvent,
  type Subscription,
  type Verdict,
} from '../src/events.ts';

const ticketCounted = defineEvent({
  type: 'bilten.test.ticket.counted',
  aggregateType: 'ticket',
  payload: z.object({ n: z.number().int() }),
});

const event = (n: number, aggregateId = 'a', sequence = 1) =>
  newEvent(ticketCounted, aggregateId, sequence, { n });

function subscription(
  durableName: string,
  handle: (message: IncomingMessage) => Promise<Verdict>,
): Subscription {
  return {
    durableName,
    subject: ticketCounted.type,
    keyOf: (message) => message.headers[HEADER.aggregateId] ?? '',
    handle,
  };
}

const payloadOf = (message: IncomingMessage) =>
  (JSON.parse(message.data) as DomainEvent<{ n: number }>).payload.n;

// The contract both adapters keep. What only a broker can do (durability across restarts,
// other processes, de-duplication by event id) is tested in the JetStream-only block below.
describe.each(['jetstream', 'in-process'] as const)('event bus contract (%s)', (kind) => {
  let bus: EventBus;
  let dispose: (() => Promise<void>) | undefined;
  const open = async () => {
    const testBus = await createTestBus(kind, captureLogs().log);
    bus = testBus.bus;
    dispose = testBus.dispose;
    return testBus;
  };
  afterEach(async () => {
    await dispose?.();
    dispose = undefined;
  });

  it('delivers each event to every subscription with its envelope and headers', async () => {
    await open();
    const seen: Record<string, IncomingMessage[]> = { a: [], b: [] };
    for (const name of ['a', 'b']) {
      await bus.subscribe(
        subscription(name, async (message) => {
          seen[name]!.push(message);
          return { kind: 'ack' };
        }),
      );
    }
    const events = [1, 2, 3].map((n) => event(n, `agg-${n}`));
    for (const e of events) expect(await bus.publish(e)).toEqual({ duplicate: false });
    await expect.poll(() => seen.a!.length + seen.b!.length, { timeout: 5_000 }).toBe(6);
    expect(seen.a!.map(payloadOf).sort()).toEqual([1, 2, 3]);
    const first = seen.b!.find((message) => payloadOf(message) === 1)!;
    expect(JSON.parse(first.data)).toEqual(events[0]);
    expect(first).toMatchObject({
      subject: ticketCounted.type,
      deliveryCount: 1,
      headers: expect.objectContaining({ [HEADER.type]: ticketCounted.type, [HEADER.aggregateId]: 'agg-1' }),
    });
  });

  it('redelivers on retry with the delivery count growing', async () => {
    await open();
    const deliveries: Array<{ count: number; at: number }> = [];
    await bus.subscribe(
      subscription('flaky', async (message) => {
        deliveries.push({ count: message.deliveryCount, at: Date.now() });
        return message.deliveryCount < 3
          ? { kind: 'retry', delayMs: 100 * message.deliveryCount }
          : { kind: 'ack' };
      }),
    );
    await bus.publish(event(1));
    await expect.poll(() => deliveries.length, { timeout: 5_000 }).toBe(3);
    expect(deliveries.map((d) => d.count)).toEqual([1, 2, 3]);
    expect(deliveries[2]!.at - deliveries[1]!.at).toBeGreaterThanOrEqual(180);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(deliveries).toHaveLength(3);
  });

  it('keeps dead letters with the reason and original headers, replays and discards them', async () => {
    await open();
    let healthy = false;
    const handled: IncomingMessage[] = [];
    const sub = subscription('picky', async (message) => {
      if (!healthy) return { kind: 'dead-letter', reason: 'no such ticket' };
      handled.push(message);
      return { kind: 'ack' };
    });
    await bus.subscribe(sub);
    await bus.publish(event(1, 'x'));
    await bus.publish(event(2, 'y'));
    await expect.poll(async () => (await bus.listDeadLetters()).length, { timeout: 5_000 }).toBe(2);
    const letters = await bus.listDeadLetters({ durableName: 'picky', type: ticketCounted.type });
    expect(letters[0]).toMatchObject({
      durableName: 'picky',
      subject: ticketCounted.type,
      type: ticketCounted.type,
      error: 'no such ticket',
      deliveryCount: 1,
      headers: expect.objectContaining({ [HEADER.aggregateId]: 'x' }),
    });
    expect(await bus.listDeadLetters({ durableName: 'someone-else' })).toEqual([]);
    expect(await bus.listDeadLetters({ after: letters[0]!.sequence })).toHaveLength(1);

    healthy = true;
    expect(await bus.replayDeadLetter(letters[0]!.sequence)).toBe(true);
    await expect.poll(() => handled.length, { timeout: 5_000 }).toBe(1);
    expect(payloadOf(handled[0]!)).toBe(1);
    expect(handled[0]!.headers[HEADER.replay]).toBe(String(letters[0]!.sequence));
    expect(await bus.discardDeadLetter(letters[1]!.sequence)).toBe(true);
    expect(await bus.listDeadLetters()).toEqual([]);
    expect(await bus.replayDeadLetter(letters[1]!.sequence)).toBe(false);
  });

  it('keeps one dead letter per consumer when several give up on the same event', async () => {
    await open();
    const refuse = async () => ({ kind: 'dead-letter' as const, reason: 'cannot read it' });
    await bus.subscribe(subscription('first-reader', refuse));
    await bus.subscribe(subscription('second-reader', refuse));
    await bus.publish(event(1, 'shared'));
    // The event's own message id must not make the second consumer's letter a "duplicate".
    await expect.poll(async () => (await bus.listDeadLetters()).length, { timeout: 5_000 }).toBe(2);
    expect((await bus.listDeadLetters()).map((letter) => letter.durableName).sort()).toEqual([
      'first-reader',
      'second-reader',
    ]);
  });

  it('pages through hundreds of dead letters, oldest first, with filters', async () => {
    await open();
    await bus.subscribe(subscription('rejecting', async () => ({ kind: 'dead-letter', reason: 'rejected' })));
    await Promise.all(Array.from({ length: 600 }, (_, i) => bus.publish(event(i, `agg-${i}`))));
    await expect
      .poll(async () => (await bus.listDeadLetters({ first: 500 })).length, { timeout: 15_000 })
      .toBe(500);
    const firstPage = await bus.listDeadLetters({ first: 500, durableName: 'rejecting' });
    const secondPage = await bus.listDeadLetters({ first: 500, after: firstPage.at(-1)!.sequence });
    expect(secondPage).toHaveLength(100);
    const sequences = [...firstPage, ...secondPage].map((letter) => letter.sequence);
    expect(sequences).toEqual([...sequences].sort((a, b) => a - b));
    expect(new Set(sequences).size).toBe(600);
    expect(await bus.listDeadLetters({ durableName: 'rejecting', type: 'bilten.nothing.happened' })).toEqual(
      [],
    );
    expect(await bus.listDeadLetters({ durableName: 'rejecting.>' })).toEqual([]);
  });

  it('handles one aggregate at a time, in order, and different aggregates in parallel', async () => {
    await open();
    const active = new Map<string, number>();
    let overlapWithinKey = false;
    let parallel = 0;
    let maxParallel = 0;
    const order: Record<string, number[]> = {};
    await bus.subscribe(
      subscription('ordered', async (message) => {
        const key = message.headers[HEADER.aggregateId]!;
        if (active.get(key)) overlapWithinKey = true;
        active.set(key, 1);
        maxParallel = Math.max(maxParallel, ++parallel);
        await new Promise((resolve) => setTimeout(resolve, 5));
        order[key] = [...(order[key] ?? []), payloadOf(message)];
        parallel--;
        active.set(key, 0);
        return { kind: 'ack' };
      }),
    );
    for (let n = 0; n < 40; n++) await bus.publish(event(n, `k${n % 4}`, Math.floor(n / 4) + 1));
    await expect.poll(() => Object.values(order).flat().length, { timeout: 10_000 }).toBe(40);
    expect(overlapWithinKey).toBe(false);
    expect(maxParallel).toBeGreaterThan(1);
    for (const [key, values] of Object.entries(order)) {
      expect(values, key).toEqual([...values].sort((a, b) => a - b));
    }
  });
});

describe('event bus on JetStream only', () => {
  it('keeps events a week and dead letters a month, not for ever (issue 12: streams hold personal data)', async () => {
    const testBus = await createTestBus('jetstream', captureLogs().log);
    const nc = await connect({ servers: TEST_NATS_URL });
    try {
      const jsm = await jetstreamManager(nc);
      const days = async (name: string) => (await jsm.streams.info(name)).config.max_age / 86_400e9;
      expect(await days(testBus.stream!)).toBe(7);
      expect(await days(`${testBus.stream}_DLQ`)).toBe(30);
    } finally {
      await nc.close();
      await testBus.dispose();
    }
  });

  it('stores an event id once within the duplicate window and reports the repeat', async () => {
    const testBus = await createTestBus('jetstream', captureLogs().log);
    try {
      const seen: number[] = [];
      await testBus.bus.subscribe(
        subscription('dedupe', async (message) => {
          seen.push(payloadOf(message));
          return { kind: 'ack' };
        }),
      );
      const once = event(7);
      expect(await testBus.bus.publish(once)).toEqual({ duplicate: false });
      expect(await testBus.bus.publish(once)).toEqual({ duplicate: true });
      await testBus.bus.publish(event(8));
      await expect.poll(() => seen, { timeout: 5_000 }).toEqual([7, 8]);
      const [stats] = await testBus.bus.consumerStats();
      expect(stats).toMatchObject({ durableName: 'dedupe', numPending: 0 });
    } finally {
      await testBus.dispose();
    }
  });

  it('survives a restart of the subscriber: the durable consumer resumes where it was', async () => {
    const testBus = await createTestBus('jetstream', captureLogs().log);
    try {
      const seen: number[] = [];
      const sub = subscription('resume', async (message) => {
        seen.push(payloadOf(message));
        return { kind: 'ack' };
      });
      const first = await testBus.bus.subscribe(sub);
      await testBus.bus.publish(event(1));
      await expect.poll(() => seen.length, { timeout: 5_000 }).toBe(1);
      await first.stop();
      await testBus.bus.publish(event(2));
      await testBus.bus.subscribe(sub);
      await expect.poll(() => seen, { timeout: 5_000 }).toEqual([1, 2]);
    } finally {
      await testBus.dispose();
    }
  });

  it('hands malformed bytes to the subscriber, which can dead-letter them', async () => {
    const testBus = await createTestBus('jetstream', captureLogs().log);
    try {
      const seen: string[] = [];
      await testBus.bus.subscribe(
        subscription('raw', async (message) => {
          seen.push(message.data);
          return { kind: 'ack' };
        }),
      );
      const nc = await connect({ servers: TEST_NATS_URL });
      const h = natsHeaders();
      h.set(HEADER.aggregateId, 'z');
      nc.publish(`${testBus.subjectPrefix}${ticketCounted.type}`, '{not json', { headers: h });
      await nc.flush();
      await nc.close();
      await expect.poll(() => seen, { timeout: 5_000 }).toEqual(['{not json']);
    } finally {
      await testBus.dispose();
    }
  });

  it('reports the bus unhealthy once closed', async () => {
    const testBus = await createTestBus('jetstream', captureLogs().log);
    await testBus.bus.health();
    await testBus.dispose();
    await expect(testBus.bus.health()).rejects.toThrow(/closed/);
  });
});
