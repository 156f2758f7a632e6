import { captureLogs, createTestBus, TEST_NATS_URL } from '@bilten/testkit';
import { connect, headers } from '@nats-io/transport-node';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createEvent, type DomainEvent, defineEvent } from '../src/events.ts';

const ticketCounted = defineEvent('bilten.test.ticket.counted', z.object({ n: z.number().int() }));

// The contract both adapters keep. What only a broker can do (durability across restarts,
// other processes, de-duplication by message id, dropping malformed bytes) is tested below.
describe.each(['jetstream', 'in-process'] as const)('event bus contract (%s)', (kind) => {
  let dispose: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await dispose?.();
    dispose = undefined;
  });

  it('delivers each event to every subscribed service with its envelope intact', async () => {
    const testBus = await createTestBus(kind, captureLogs().log);
    dispose = testBus.dispose;
    const seen: Record<string, DomainEvent<{ n: number }>[]> = { a: [], b: [] };
    for (const service of ['a', 'b']) {
      await testBus.bus.subscribe(service, {
        name: 'count',
        event: ticketCounted,
        handle: async (event) => {
          seen[service]!.push(event);
        },
      });
    }
    const events = [1, 2, 3].map((n) => createEvent(ticketCounted, { n }));
    for (const event of events) await testBus.bus.publish(event);
    await expect.poll(() => seen.a!.length + seen.b!.length, { timeout: 5_000 }).toBe(6);
    expect(seen.a!.map((event) => event.payload.n).sort()).toEqual([1, 2, 3]);
    expect(seen.b!.find((event) => event.id === events[0]!.id)).toEqual(events[0]);
  });

  it('retries a failing handler with growing delays until it succeeds', async () => {
    const testBus = await createTestBus(kind, captureLogs().log);
    dispose = testBus.dispose;
    const attempts: number[] = [];
    await testBus.bus.subscribe('flaky', {
      name: 'fails-twice',
      event: ticketCounted,
      handle: async () => {
        attempts.push(Date.now());
        if (attempts.length < 3) throw new Error('not yet');
      },
    });
    await testBus.bus.publish(createEvent(ticketCounted, { n: 1 }));
    await expect.poll(() => attempts.length, { timeout: 5_000 }).toBe(3);
    const [first, second, third] = attempts as [number, number, number];
    expect(third - second).toBeGreaterThan(second - first);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(attempts).toHaveLength(3);
  });

  it('rejects publishing an envelope that is not a domain event', () => {
    expect(() => createEvent(ticketCounted, { n: 1.5 })).toThrow();
  });
});

describe('event bus on JetStream only', () => {
  it('de-duplicates by event id and drops malformed messages without blocking the ones behind', async () => {
    const testBus = await createTestBus('jetstream', captureLogs().log);
    try {
      const handled: number[] = [];
      await testBus.bus.subscribe('svc', {
        name: 'count',
        event: ticketCounted,
        handle: async (event) => {
          handled.push(event.payload.n);
        },
      });
      const event = createEvent(ticketCounted, { n: 7 });
      await testBus.bus.publish(event);
      await testBus.bus.publish(event);
      const nc = await connect({ servers: TEST_NATS_URL });
      const prefix = `t${testBus.stream!.slice('TEST_'.length)}.`;
      const h = headers();
      h.set('bilten-type', ticketCounted.type);
      nc.publish(`${prefix}${ticketCounted.type}`, '{not json', { headers: h });
      await nc.flush();
      await nc.close();
      await testBus.bus.publish(createEvent(ticketCounted, { n: 8 }));
      await expect.poll(() => handled, { timeout: 5_000 }).toEqual([7, 8]);
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
