/** What the messaging test files share: how far messaging's durable consumers got on the test stream. */
import { type TestSubgraph, waitFor } from '@bilten/testkit';
import type { JetStreamManager } from '@nats-io/jetstream';

const consumerInfo = (jsm: JetStreamManager, subgraph: TestSubgraph, consumer: string) =>
  jsm.consumers.info(subgraph.testBus.stream!, `messaging-${consumer}`);

/** Resolves once the durable consumer has nothing pending or unacknowledged. */
export const consumerCaughtUp = (jsm: JetStreamManager, subgraph: TestSubgraph, consumer: string) =>
  waitFor(async () => {
    const info = await consumerInfo(jsm, subgraph, consumer);
    return info.num_pending === 0 && info.num_ack_pending === 0;
  });

/** Deliveries the durable consumer has made so far, redeliveries included. */
export const consumerDeliveries = async (jsm: JetStreamManager, subgraph: TestSubgraph, consumer: string) =>
  (await consumerInfo(jsm, subgraph, consumer)).delivered.consumer_seq;
