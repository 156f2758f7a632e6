import { randomBytes } from 'node:crypto';
import { connectJetStreamBus, createInProcessBus, type EventBus, type Logger } from '@bilten/platform';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { TEST_NATS_URL } from './database.ts';

export type BusKind = 'jetstream' | 'in-process';

export interface TestBus {
  bus: EventBus;
  stream?: string;
  /** Closes the bus and deletes the test's own stream. */
  dispose(): Promise<void>;
}

/** A real bus: JetStream on its own stream and subject prefix (no crosstalk between test files), or in-process. */
export async function createTestBus(kind: BusKind, log: Logger): Promise<TestBus> {
  if (kind === 'in-process') {
    const bus = createInProcessBus(log);
    return { bus, dispose: () => bus.close() };
  }
  const suffix = randomBytes(5).toString('hex');
  const stream = `TEST_${suffix}`;
  const bus = await connectJetStreamBus({
    url: TEST_NATS_URL,
    stream,
    subjectPrefix: `t${suffix}.`,
    name: `bilten-test-${suffix}`,
    log,
  });
  return {
    bus,
    stream,
    async dispose() {
      await bus.close();
      const nc = await connect({ servers: TEST_NATS_URL });
      try {
        await (await jetstreamManager(nc)).streams.delete(stream);
      } finally {
        await nc.close();
      }
    },
  };
}
