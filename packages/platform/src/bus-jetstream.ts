import {
  AckPolicy,
  type ConsumerMessages,
  DeliverPolicy,
  type JetStreamClient,
  type JetStreamManager,
  jetstream,
  jetstreamManager,
  StorageType,
} from '@nats-io/jetstream';
import { connect, headers, type NatsConnection, nanos } from '@nats-io/transport-node';
import type { z } from 'zod';
import {
  type DomainEvent,
  decodeEvent,
  type EventBus,
  type EventConsumer,
  MAX_DELIVERIES,
  retryDelayMs,
} from './events.ts';
import type { Logger } from './logger.ts';
import { currentRequest } from './request-context.ts';

export interface JetStreamBusOptions {
  url: string;
  /** Stream holding every domain event (`BILTEN` in production). */
  stream: string;
  /** Prepended to every subject; lets tests and environments share one server without crosstalk. */
  subjectPrefix: string;
  name: string;
  log: Logger;
}

const DUPLICATE_WINDOW_MS = 2 * 60_000;
const ACK_WAIT_MS = 30_000;

/** Domain events over NATS JetStream: durable pull consumers, explicit acks, delayed redelivery. */
export async function connectJetStreamBus(options: JetStreamBusOptions): Promise<EventBus> {
  const { url, stream, subjectPrefix, name, log } = options;
  const nc: NatsConnection = await connect({
    servers: url,
    name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 1_000,
    reconnectJitter: 500,
    timeout: 5_000,
  });
  (async () => {
    for await (const status of nc.status()) {
      if (status.type === 'disconnect' || status.type === 'reconnect')
        log.warn({ status: status.type }, 'nats');
    }
  })().catch(() => {});

  const jsm: JetStreamManager = await jetstreamManager(nc, { timeout: 5_000 });
  const js: JetStreamClient = jetstream(nc, { timeout: 5_000 });
  await ensureStream(jsm, stream, `${subjectPrefix}bilten.>`);
  const running: ConsumerMessages[] = [];

  return {
    kind: 'jetstream',
    async publish(event: DomainEvent) {
      const h = headers();
      h.set('bilten-type', event.type);
      const request = currentRequest();
      if (event.correlationId) h.set('x-request-id', event.correlationId);
      if (request) h.set('traceparent', request.traceparent);
      await js.publish(`${subjectPrefix}${event.type}`, JSON.stringify(event), {
        msgID: event.id,
        headers: h,
      });
    },

    async subscribe<S extends z.ZodType>(service: string, consumer: EventConsumer<S>) {
      const durable = `${service}-${consumer.name}`.replace(/[^A-Za-z0-9_-]/g, '_');
      await jsm.consumers.add(stream, {
        durable_name: durable,
        filter_subject: `${subjectPrefix}${consumer.event.type}`,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
        ack_wait: nanos(ACK_WAIT_MS),
        max_deliver: MAX_DELIVERIES,
      });
      const messages = await (await js.consumers.get(stream, durable)).consume({ max_messages: 64 });
      running.push(messages);
      (async () => {
        for await (const message of messages) {
          let event: DomainEvent<z.output<S>>;
          try {
            event = decodeEvent(message.string(), consumer.event);
          } catch (err) {
            log.error({ err, subject: message.subject, consumer: durable }, 'malformed event dropped');
            message.term();
            continue;
          }
          try {
            await consumer.handle(event);
            message.ack();
          } catch (err) {
            const attempt = message.info.deliveryCount;
            log.warn({ err, eventId: event.id, consumer: durable, attempt }, 'event handling failed');
            message.nak(retryDelayMs(attempt));
          }
        }
      })().catch((err) => log.error({ err, consumer: durable }, 'consumer loop stopped'));
    },

    async health() {
      if (nc.isClosed()) throw new Error('nats connection is closed');
      await withTimeout(nc.rtt(), 1_000, 'nats did not answer a ping within 1000 ms');
    },

    async close() {
      for (const messages of running) messages.stop();
      if (!nc.isClosed()) await nc.drain();
    },
  };
}

async function ensureStream(jsm: JetStreamManager, stream: string, subjects: string) {
  const config = {
    name: stream,
    subjects: [subjects],
    storage: StorageType.File,
    duplicate_window: nanos(DUPLICATE_WINDOW_MS),
  };
  try {
    await jsm.streams.info(stream);
    await jsm.streams.update(stream, {
      subjects: config.subjects,
      duplicate_window: config.duplicate_window,
    });
  } catch (err) {
    if ((err as { name?: string }).name !== 'StreamNotFoundError') throw err;
    await jsm.streams.add(config);
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(message)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
