import {
  AckPolicy,
  type ConsumerMessages,
  DeliverPolicy,
  JetStreamApiError,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  jetstream,
  jetstreamManager,
  StorageType,
} from '@nats-io/jetstream';
import {
  connect,
  type MsgHdrs,
  type NatsConnection,
  nanos,
  headers as natsHeaders,
} from '@nats-io/transport-node';
import { ConfigError, type PlatformEnv, pemFile } from './config.ts';
import {
  type ConsumerStats,
  type DeadLetter,
  type DeadLetterFilter,
  type DomainEvent,
  deadLetterHeaders,
  type EventBus,
  eventHeaders,
  HEADER,
  type IncomingMessage,
  matchesFilter,
  type PublishResult,
  type Subscription,
  toDeadLetter,
  type Verdict,
} from './events.ts';
import { createKeyedRunner } from './keyed-runner.ts';
import type { Logger } from './logger.ts';

export interface JetStreamBusOptions {
  url: string;
  /** Stream holding every domain event (`BILTEN` in production); dead letters go to `<stream>_DLQ`. */
  stream: string;
  /** Prepended to every subject; lets tests and environments share one server without crosstalk. */
  subjectPrefix: string;
  /** Servers holding a copy of each stream (default 1); an existing stream is raised to it. */
  replicas?: number;
  name: string;
  log: Logger;
  /** Messages handled at once per subscription (one at a time per aggregate). */
  concurrency?: number;
  /** How long a delivered message may stay unacknowledged before JetStream redelivers it. */
  ackWaitMs?: number;
  /** TLS to the server (`natsTlsFrom`): the CA that signs its certificate, and ours for mutual TLS. */
  tls?: NatsTls;
}

export interface NatsTls {
  caFile: string;
  certFile?: string;
  keyFile?: string;
}

/**
 * NATS_TLS_CA_FILE (the server's certificate is verified against it), with NATS_TLS_CERT_FILE and
 * _KEY_FILE (both or neither) when the server asks for client certificates; undefined: plain NATS,
 * unless the URL is `tls://` (then the system CAs verify it).
 */
export function natsTlsFrom(env: PlatformEnv): NatsTls | undefined {
  const { NATS_TLS_CA_FILE: caFile, NATS_TLS_CERT_FILE: certFile, NATS_TLS_KEY_FILE: keyFile } = env;
  if (!!certFile !== !!keyFile) {
    throw new ConfigError([
      `${certFile ? 'NATS_TLS_KEY_FILE' : 'NATS_TLS_CERT_FILE'}: must be set with ${certFile ? 'NATS_TLS_CERT_FILE' : 'NATS_TLS_KEY_FILE'}`,
    ]);
  }
  if (!caFile) {
    if (certFile) throw new ConfigError(['NATS_TLS_CERT_FILE: needs NATS_TLS_CA_FILE']);
    return undefined;
  }
  // Read now, so a wrong path stops start-up with the variable's name rather than a TLS error later.
  for (const [name, file] of [
    ['NATS_TLS_CA_FILE', caFile],
    ['NATS_TLS_CERT_FILE', certFile],
    ['NATS_TLS_KEY_FILE', keyFile],
  ] as const) {
    if (file) pemFile(name, file);
  }
  return { caFile, certFile, keyFile };
}

const DUPLICATE_WINDOW_MS = 2 * 60_000;
const DAY_MS = 24 * 3_600_000;
/**
 * How long the streams keep messages: events a week (a consumer may be down a few days and catch
 * up; the outbox keeps a day), dead letters a month (time to fix and replay them).
 */
export const STREAM_RETENTION_MS = { events: 7 * DAY_MS, deadLetters: 30 * DAY_MS };
const REQUEST_TIMEOUT_MS = 5_000;

/**
 * Domain events over NATS JetStream (server 2.9+): file-backed stream with a de-duplication
 * window, durable pull consumers with explicit double acks, delayed redelivery, and a
 * dead-letter stream that keeps the original headers and why the message was given up.
 */
export async function connectJetStreamBus(options: JetStreamBusOptions): Promise<EventBus> {
  const { url, stream, subjectPrefix, name, log } = options;
  const dlqStream = `${stream}_DLQ`;
  const dlqSubjectRoot = `${subjectPrefix}bilten_dlq`;
  const nc: NatsConnection = await connect({
    servers: url,
    name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 1_000,
    reconnectJitter: 500,
    timeout: REQUEST_TIMEOUT_MS,
    ...(options.tls && { tls: options.tls }),
  });
  (async () => {
    for await (const status of nc.status()) {
      if (status.type === 'disconnect' || status.type === 'reconnect')
        log.warn({ status: status.type }, 'nats');
    }
  })().catch(() => {});

  const jsm: JetStreamManager = await jetstreamManager(nc, { timeout: REQUEST_TIMEOUT_MS });
  const js: JetStreamClient = jetstream(nc, { timeout: REQUEST_TIMEOUT_MS });
  const replicas = options.replicas ?? 1;
  await ensureStream(jsm, stream, [`${subjectPrefix}bilten.>`], STREAM_RETENTION_MS.events, replicas);
  await ensureStream(jsm, dlqStream, [`${dlqSubjectRoot}.>`], STREAM_RETENTION_MS.deadLetters, replicas);
  const running: Array<{ durableName: string; messages: ConsumerMessages; idle: () => Promise<void> }> = [];
  const following = new Set<ConsumerMessages>();

  const toHeaders = (values: Record<string, string>) => {
    const h = natsHeaders();
    for (const [key, value] of Object.entries(values)) h.set(key, value);
    return h;
  };

  async function execute(
    subscription: Subscription,
    message: JsMsg,
    incoming: IncomingMessage,
    verdict: Verdict,
  ) {
    switch (verdict.kind) {
      case 'ack':
        // Double ack: the server confirms, so a lost ack shows up here rather than as a surprise.
        await message.ackAck({ timeout: REQUEST_TIMEOUT_MS }).catch((err) => {
          log.warn(
            { err, consumer: subscription.durableName },
            'ack not confirmed; redelivery will be de-duplicated',
          );
        });
        return;
      case 'retry':
      case 'hold':
        message.nak(verdict.delayMs);
        return;
      case 'dead-letter':
        try {
          await bus.deadLetter(subscription, incoming, verdict.reason);
          message.term();
        } catch (err) {
          log.error(
            { err, consumer: subscription.durableName },
            'dead-letter store unavailable; retrying later',
          );
          message.nak(1_000);
        }
    }
  }

  const bus: EventBus = {
    kind: 'jetstream',

    async publish(event: DomainEvent): Promise<PublishResult> {
      const ack = await js.publish(`${subjectPrefix}${event.type}`, JSON.stringify(event), {
        msgID: event.id,
        headers: toHeaders(eventHeaders(event)),
      });
      return { duplicate: ack.duplicate };
    },

    async subscribe(subscription: Subscription) {
      const durable = subscription.durableName;
      await jsm.consumers.add(stream, {
        durable_name: durable,
        filter_subject: `${subjectPrefix}${subscription.subject}`,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
        ack_wait: nanos(options.ackWaitMs ?? 30_000),
        // Unlimited: the subscriber decides when to give up and dead-letters the message itself.
        max_deliver: -1,
        max_ack_pending: 10_000,
      });
      const consumer = await js.consumers.get(stream, durable);
      const messages = await consumer.consume({ max_messages: 512 });
      const runner = createKeyedRunner(options.concurrency ?? 32);
      const entry = { durableName: durable, messages, idle: runner.idle };
      running.push(entry);
      (async () => {
        for await (const message of messages) {
          const incoming: IncomingMessage = {
            data: message.string(),
            subject: message.subject.slice(subjectPrefix.length),
            headers: headersOf(message.headers),
            deliveryCount: message.info.deliveryCount,
          };
          await runner.run(subscription.keyOf(incoming), async () => {
            const verdict = await subscription.handle(incoming).catch((err): Verdict => {
              log.error({ err, consumer: durable }, 'subscriber threw; retrying');
              return { kind: 'retry', delayMs: 1_000 };
            });
            await execute(subscription, message, incoming, verdict);
          });
        }
      })().catch((err) => log.error({ err, consumer: durable }, 'consumer loop stopped'));
      return {
        async stop() {
          messages.stop();
          await runner.idle();
          running.splice(running.indexOf(entry), 1);
        },
      };
    },

    async follow(subject, since, onMessage) {
      // An ordered consumer: ephemeral, no acks, recreated by the client where it left off after a reconnect.
      const consumer = await js.consumers.get(stream, {
        filter_subjects: `${subjectPrefix}${subject}`,
        opt_start_time: since.toISOString(),
      });
      let caughtUp = () => {};
      const handedOver = new Promise<void>((resolve) => {
        caughtUp = resolve;
      });
      if ((await consumer.info(true)).num_pending === 0) caughtUp();
      const messages = await consumer.consume();
      following.add(messages);
      (async () => {
        for await (const message of messages) {
          onMessage({
            data: message.string(),
            subject: message.subject.slice(subjectPrefix.length),
            headers: headersOf(message.headers),
            deliveryCount: 1,
          });
          if (message.info.pending === 0) caughtUp();
        }
      })().catch((err) => log.error({ err, subject }, 'follower stopped'));
      await handedOver;
      return {
        async stop() {
          messages.stop();
          following.delete(messages);
        },
      };
    },

    async listen(subjects, onMessage) {
      // Core NATS: the stream's messages are published on these subjects, so a plain subscription
      // sees each one as it is stored, in every process that listens, with nothing kept server-side.
      const subscriptions = subjects.map((subject) =>
        nc.subscribe(`${subjectPrefix}${subject}`, {
          callback: (err, message) => {
            if (err) return void log.warn({ err, subject }, 'listener error');
            onMessage({
              data: message.string(),
              subject: message.subject.slice(subjectPrefix.length),
              headers: headersOf(message.headers),
              deliveryCount: 1,
            });
          },
        }),
      );
      // The subscriptions are registered on the server once this round trip returns.
      await nc.flush();
      return {
        async stop() {
          for (const subscription of subscriptions) subscription.unsubscribe();
        },
      };
    },

    async deadLetter(subscription, message, reason) {
      await js.publish(`${dlqSubjectRoot}.${subscription.durableName}`, message.data, {
        headers: toHeaders(deadLetterHeaders(subscription, message, reason)),
      });
    },

    async listDeadLetters(filter: DeadLetterFilter = {}): Promise<DeadLetter[]> {
      const first = Math.min(filter.first ?? 50, 500);
      const info = await jsm.streams.info(dlqStream);
      const start = Math.max(info.state.first_seq, (filter.after ?? 0) + 1);
      if (!info.state.messages || start > info.state.last_seq) return [];
      // Dead letters sit on one subject per consumer, so that filter is the server's job; the
      // rest is read in pages by a short-lived ordered consumer instead of one request per message.
      if (filter.durableName && !/^[A-Za-z0-9_-]+$/.test(filter.durableName)) return [];
      const reader = await js.consumers.get(dlqStream, {
        deliver_policy: DeliverPolicy.StartSequence,
        opt_start_seq: start,
        ...(filter.durableName ? { filter_subjects: `${dlqSubjectRoot}.${filter.durableName}` } : {}),
      });
      const letters: DeadLetter[] = [];
      try {
        for (let done = false; !done && letters.length < first; ) {
          const page = await reader.fetch({ max_messages: 256, expires: 1_000 });
          let read = 0;
          for await (const stored of page) {
            read++;
            const letter = toDeadLetter(stored.seq, headersOf(stored.headers), stored.string());
            if (matchesFilter(letter, filter)) letters.push(letter);
            if (stored.info.pending === 0) done = true;
            if (letters.length >= first || done) {
              page.stop();
              break;
            }
          }
          if (!read) done = true;
        }
      } finally {
        await reader.delete().catch(() => false);
      }
      return letters;
    },

    async replayDeadLetter(sequence: number) {
      const stored = await jsm.streams.getMessage(dlqStream, { seq: sequence }).catch(() => null);
      if (!stored) return false;
      const letter = toDeadLetter(sequence, headersOf(stored.header), stored.string());
      const original = Object.fromEntries(
        Object.entries(letter.headers).filter(
          ([key]) => !key.startsWith('bilten-dlq-') && key !== 'Nats-Msg-Id',
        ),
      );
      // A fresh message id: JetStream would drop the original one as a duplicate within its window.
      await js.publish(`${subjectPrefix}${letter.subject}`, letter.data, {
        headers: toHeaders({ ...original, [HEADER.replay]: String(sequence) }),
      });
      await jsm.streams.deleteMessage(dlqStream, sequence, false);
      return true;
    },

    async discardDeadLetter(sequence: number) {
      return jsm.streams.deleteMessage(dlqStream, sequence, false).catch(() => false);
    },

    async consumerStats(): Promise<ConsumerStats[]> {
      return Promise.all(
        running.map(async ({ durableName }) => {
          const info = await jsm.consumers.info(stream, durableName);
          return {
            durableName,
            numPending: info.num_pending,
            numAckPending: info.num_ack_pending,
            numRedelivered: info.num_redelivered,
          };
        }),
      );
    },

    async health() {
      if (nc.isClosed()) throw new Error('nats connection is closed');
      await withTimeout(nc.rtt(), 1_000, 'nats did not answer a ping within 1000 ms');
    },

    async close() {
      for (const { messages } of running) messages.stop();
      for (const messages of following) messages.stop();
      await Promise.all(running.map(({ idle }) => idle()));
      // Draining needs the server; while reconnecting, closing is all that can be done.
      if (!nc.isClosed()) await nc.drain().catch(() => nc.close());
    },
  };
  return bus;
}

function headersOf(h: MsgHdrs | undefined): Record<string, string> {
  const result: Record<string, string> = {};
  if (!h) return result;
  for (const key of h.keys()) result[key] = h.get(key);
  return result;
}

async function ensureStream(
  jsm: JetStreamManager,
  name: string,
  subjects: string[],
  maxAgeMs: number,
  replicas: number,
) {
  // An existing stream gets the current settings too, so a retention or replica change reaches it.
  const settings = {
    subjects,
    duplicate_window: nanos(DUPLICATE_WINDOW_MS),
    max_age: nanos(maxAgeMs),
    num_replicas: replicas,
  };
  try {
    await jsm.streams.info(name);
    await jsm.streams.update(name, settings);
  } catch (err) {
    if (!(err instanceof JetStreamApiError) || err.code !== 10059) throw err;
    await jsm.streams.add({ name, storage: StorageType.File, ...settings });
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
