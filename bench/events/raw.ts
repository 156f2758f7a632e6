import { randomUUID } from 'node:crypto';
import { connectDatabase, eventHeaders, newEvent } from '@bilten/platform';
import { TEST_NATS_URL } from '@bilten/testkit';
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager, StorageType } from '@nats-io/jetstream';
import { connect, nanos, headers as natsHeaders } from '@nats-io/transport-node';
import { type CpuUsage, cpuMeter, now } from '../stats.ts';
import { benchRecorded } from './event.ts';
import { Resources } from './resources.ts';

export interface RawJetStreamResult {
  messages: number;
  messageBytes: number;
  publishWindow: number;
  /** Publish (windowed PubAcks) and pull-consume + ack running together: first publish → last ack. */
  msgsPerSecond: number;
  seconds: number;
  /** The publish side alone finished at this rate. */
  publishMsgsPerSecond: number;
  /** Extra: a second consumer on the filled stream with double acks, `ackAckConcurrency` in flight (as the bus does). */
  ackAckConsumeMsgsPerSecond: number;
  ackAckConcurrency: number;
  /** During publish + consume. */
  cpu: CpuUsage;
}

/**
 * Limit A: plain nats.js on a private file-backed stream with a de-duplication window (as the bus
 * configures it), messages the size of a real event envelope with its headers and a msgID.
 */
export async function rawJetStream(options: {
  messages: number;
  publishWindow: number;
  ackAckConcurrency: number;
}): Promise<RawJetStreamResult> {
  const resources = new Resources();
  try {
    const { stream, subjectPrefix } = resources.streamNames('raw');
    const nc = await connect({ servers: TEST_NATS_URL, name: 'bench-raw-jetstream' });
    resources.defer('nats connection', () => nc.close());
    const jsm = await jetstreamManager(nc);
    const js = jetstream(nc);
    await jsm.streams.add({
      name: stream,
      subjects: [`${subjectPrefix}>`],
      storage: StorageType.File,
      duplicate_window: nanos(120_000),
    });
    const subject = `${subjectPrefix}${benchRecorded.type}`;
    const sample = newEvent(benchRecorded, 'agg-1', 1, { n: 1, note: 'x'.repeat(64) });
    const headerValues = eventHeaders(sample);
    const data = JSON.stringify(sample);
    const addConsumer = (durable: string) =>
      jsm.consumers.add(stream, {
        durable_name: durable,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
        max_ack_pending: 10_000,
      });
    await addConsumer('raw-ack');
    await addConsumer('raw-ackack');

    const total = options.messages;
    const messages = await (await js.consumers.get(stream, 'raw-ack')).consume({ max_messages: 512 });
    let lastAck = 0;
    const consuming = (async () => {
      let count = 0;
      for await (const message of messages) {
        message.ack();
        if (++count >= total) {
          lastAck = now();
          messages.stop();
        }
      }
    })();
    const cpu = cpuMeter();
    const start = now();
    for (let i = 0; i < total; i += options.publishWindow) {
      const batch = Array.from({ length: Math.min(options.publishWindow, total - i) }, () => {
        const h = natsHeaders();
        for (const [key, value] of Object.entries(headerValues)) h.set(key, value);
        return js.publish(subject, data, { msgID: randomUUID(), headers: h });
      });
      await Promise.all(batch);
    }
    const published = now();
    await consuming;
    await nc.flush();
    const usage = cpu();

    // The same stream again, double-acked with a bounded number in flight.
    const again = await (await js.consumers.get(stream, 'raw-ackack')).consume({ max_messages: 512 });
    const ackAckStart = now();
    let acked = 0;
    let inFlight = 0;
    const slots: Array<() => void> = [];
    const done = new Promise<void>((resolve) => {
      (async () => {
        for await (const message of again) {
          while (inFlight >= options.ackAckConcurrency) await new Promise<void>((r) => slots.push(r));
          inFlight++;
          message
            .ackAck()
            .catch(() => false)
            .finally(() => {
              inFlight--;
              slots.shift()?.();
              if (++acked >= total) {
                again.stop();
                resolve();
              }
            });
        }
      })();
    });
    await done;
    const ackAckSeconds = (now() - ackAckStart) / 1_000;

    const seconds = (lastAck - start) / 1_000;
    return {
      messages: total,
      messageBytes: data.length,
      publishWindow: options.publishWindow,
      msgsPerSecond: Math.round(total / seconds),
      seconds: Math.round(seconds * 100) / 100,
      publishMsgsPerSecond: Math.round((total / (published - start)) * 1_000),
      ackAckConsumeMsgsPerSecond: Math.round(total / ackAckSeconds),
      ackAckConcurrency: options.ackAckConcurrency,
      cpu: usage,
    };
  } finally {
    await resources.release();
  }
}

export interface RawPostgresResult {
  transactions: number;
  concurrency: number;
  commitsPerSecond: number;
  seconds: number;
  cpu: CpuUsage;
}

/** Limit B: one small row per transaction (BEGIN, INSERT, COMMIT), from `concurrency` loops. */
export async function rawPostgres(options: {
  transactions: number;
  concurrency: number;
  aggregates: number;
}): Promise<RawPostgresResult> {
  const resources = new Resources();
  try {
    const database = await resources.database();
    const handle = connectDatabase({
      url: database.url,
      applicationName: 'bench-raw-postgres',
      poolSize: options.concurrency,
    });
    resources.defer('raw pool', () => handle.close());
    const { sql } = handle;
    await sql`create table raw_rows (
      id bigserial primary key, aggregate_id text not null, n int not null, created_at timestamptz not null default now())`;
    const insert = (n: number) =>
      sql.begin(
        (tx) => tx`insert into raw_rows (aggregate_id, n)
          values (${`agg-${Math.floor(Math.random() * options.aggregates)}`}, ${n})`,
      );
    for (let i = 0; i < 50; i++) await insert(-1 - i);
    let next = 0;
    const cpu = cpuMeter();
    const start = now();
    await Promise.all(
      Array.from({ length: options.concurrency }, async () => {
        for (let n = next++; n < options.transactions; n = next++) await insert(n);
      }),
    );
    const seconds = (now() - start) / 1_000;
    const usage = cpu();
    return {
      transactions: options.transactions,
      concurrency: options.concurrency,
      commitsPerSecond: Math.round(options.transactions / seconds),
      seconds: Math.round(seconds * 100) / 100,
      cpu: usage,
    };
  } finally {
    await resources.release();
  }
}
