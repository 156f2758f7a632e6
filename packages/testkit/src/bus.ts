import { randomBytes } from 'node:crypto';
import {
  connectJetStreamBus,
  createInProcessBus,
  type DomainEvent,
  decodeEvent,
  type EventBus,
  type EventDefinition,
  type Logger,
} from '@bilten/platform';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import type { z } from 'zod';
import { TEST_NATS_URL } from './database.ts';

export type BusKind = 'jetstream' | 'in-process';

export interface TestBus {
  bus: EventBus;
  stream?: string;
  /** The subject prefix of this test's stream ('' in process). */
  subjectPrefix: string;
  /** Closes the bus and deletes the test's own stream. */
  dispose(): Promise<void>;
}

/** A real bus: JetStream on its own stream and subject prefix (no crosstalk between test files), or in-process. */
export async function createTestBus(
  kind: BusKind,
  log: Logger,
  options: { url?: string; ackWaitMs?: number } = {},
): Promise<TestBus> {
  if (kind === 'in-process') {
    const bus = createInProcessBus(log);
    return { bus, subjectPrefix: '', dispose: () => bus.close() };
  }
  const suffix = randomBytes(5).toString('hex');
  const stream = `TEST_${suffix}`;
  const subjectPrefix = `t${suffix}.`;
  const bus = await connectJetStreamBus({
    url: options.url ?? TEST_NATS_URL,
    stream,
    subjectPrefix,
    name: `bilten-test-${suffix}`,
    log,
    ackWaitMs: options.ackWaitMs,
  });
  return {
    bus,
    stream,
    subjectPrefix,
    async dispose() {
      await bus.close();
      const nc = await connect({ servers: TEST_NATS_URL });
      try {
        const jsm = await jetstreamManager(nc);
        for (const name of [stream, `${stream}_DLQ`]) await jsm.streams.delete(name).catch(() => {});
      } finally {
        await nc.close();
      }
    },
  };
}

/** Collects every event of one definition that crosses the bus, decoded, for assertions. */
export async function recordEvents<S extends z.ZodType>(bus: EventBus, definition: EventDefinition<S>) {
  const events: Array<DomainEvent<z.output<S>>> = [];
  await bus.subscribe({
    durableName: `recorder-${randomBytes(4).toString('hex')}`,
    subject: definition.type,
    keyOf: () => '',
    async handle(message) {
      events.push(decodeEvent(message.data, definition));
      return { kind: 'ack' };
    },
  });
  return events;
}
