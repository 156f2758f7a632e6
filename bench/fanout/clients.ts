/**
 * The receiving side of bench:fanout, in a process of its own (forked by run.ts) so that the
 * gateway's process holds only the server side of each connection and the clients' CPU is not on
 * its event loop: `graphql-ws` clients (watchers of one event's ticketAvailability, users on their
 * own notificationReceived) and the raw NATS core subscriber on the same subjects. Every receipt
 * is stamped with `clock()` (CLOCK_MONOTONIC, the same in every process of the machine).
 */
import { connect } from '@nats-io/transport-node';
import { type Client, createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { clock, type FromClients, type ToClients } from './protocol.ts';

const WATCH = `subscription($id: ID!) { ticketAvailability(eventId: $id) { availability { remaining } } }`;
const NOTIFICATIONS = 'subscription { notificationReceived { id subject } }';

const send = (message: FromClients) => process.send!(message);
const clients: Client[] = [];
/** Per watcher: [receipt, remaining] of each message. */
const watched: Array<Array<[number, number]>> = [];
/** Per user: [receipt, notification id] of each message. */
const notified: Array<Array<[number, string]>> = [];
/** Raw NATS: event id → receipt. */
const raw: Record<string, number> = {};
let failures: string[] = [];
let closeNats: () => Promise<void> = async () => {};

function client(url: string, authorization?: string) {
  const created = createClient({
    url: url.replace(/^http/, 'ws'),
    webSocketImpl: WebSocket,
    connectionParams: authorization ? { authorization } : {},
    retryAttempts: 0,
    lazy: false,
    onNonLazyError: (err) => failures.push(`connection: ${String((err as Error).message ?? err)}`),
  });
  clients.push(created);
  return created;
}

/** `count` tasks, `concurrency` at a time. */
async function inBatches(count: number, concurrency: number, task: (i: number) => Promise<void>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) await task(next++);
    }),
  );
}

process.on('message', async (message: ToClients) => {
  try {
    if (message.type === 'connect') {
      const nc = await connect({ servers: message.natsUrl, name: 'bench-fanout-raw' });
      for (const subject of message.subjects)
        nc.subscribe(`${message.subjectPrefix}${subject}`, {
          callback: (err, msg) => {
            if (err) return void failures.push(`nats: ${err.message}`);
            raw[(msg.json() as { id: string }).id] = clock();
          },
        });
      await nc.flush();
      closeNats = () => nc.drain();
      // Watchers: each its own connection; connected once it has had its first message.
      await inBatches(message.watchers, message.connectConcurrency, async (i) => {
        const messages: Array<[number, number]> = [];
        watched[i] = messages;
        await new Promise<void>((resolve) => {
          client(message.url).subscribe<{ ticketAvailability: { availability: { remaining: number } } }>(
            { query: WATCH, variables: { id: message.eventId } },
            {
              next: (result) => {
                const remaining = result.data?.ticketAvailability.availability.remaining;
                if (remaining === undefined) failures.push(`watcher ${i}: ${JSON.stringify(result.errors)}`);
                else messages.push([clock(), remaining]);
                resolve();
              },
              error: (err) => {
                failures.push(`watcher ${i}: ${JSON.stringify(err)}`);
                resolve();
              },
              complete: () => {},
            },
          );
        });
      });
      // Users: notificationReceived has no first message; run.ts waits for the gateway's gauge.
      message.users.forEach((authorization, i) => {
        const messages: Array<[number, string]> = [];
        notified[i] = messages;
        client(message.url, authorization).subscribe<{ notificationReceived: { id: string } }>(
          { query: NOTIFICATIONS, variables: {} },
          {
            next: (result) => {
              const id = result.data?.notificationReceived.id;
              if (id === undefined) failures.push(`user ${i}: ${JSON.stringify(result.errors)}`);
              else messages.push([clock(), id]);
            },
            error: (err) => failures.push(`user ${i}: ${JSON.stringify(err)}`),
            complete: () => {},
          },
        );
      });
      send({ type: 'connected', failures });
      failures = [];
    } else if (message.type === 'progress') {
      const received = new Set(notified.flatMap((m) => m.map(([, id]) => id)));
      send({
        type: 'progress',
        watchersAtFinal: watched.filter((m) => m.at(-1)?.[1] === message.finalRemaining).length,
        notificationsReceived: message.notificationIds.filter((id) => received.has(id)).length,
      });
    } else if (message.type === 'collect') {
      send({ type: 'collected', watched, notified, raw, failures });
    } else if (message.type === 'close') {
      await Promise.all(clients.map((c) => c.dispose()));
      await closeNats();
      process.exit(0);
    }
  } catch (err) {
    send({ type: 'failed', error: (err as Error).stack ?? String(err) });
  }
});
