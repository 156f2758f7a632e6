/** What run.ts and the clients' process (clients.ts) tell each other over the fork's IPC channel. */

/**
 * ms on CLOCK_MONOTONIC (`process.hrtime`), which every process of the machine shares, unlike
 * `performance.now()`, which counts from each process's start: commit and receipt are stamped in
 * two processes.
 */
export const clock = () => Number(process.hrtime.bigint()) / 1e6;

export type ToClients =
  | {
      type: 'connect';
      url: string;
      natsUrl: string;
      subjectPrefix: string;
      subjects: string[];
      eventId: string;
      watchers: number;
      /** One access token (authorization header value) per user. */
      users: string[];
      connectConcurrency: number;
    }
  /** How far delivery got: watchers showing `finalRemaining`, `notificationIds` received. */
  | { type: 'progress'; finalRemaining: number; notificationIds: string[] }
  | { type: 'collect' }
  | { type: 'close' };

export type FromClients =
  | { type: 'connected'; failures: string[] }
  | { type: 'progress'; watchersAtFinal: number; notificationsReceived: number }
  | {
      type: 'collected';
      /** Per watcher: [receipt, remaining] of each message, the first (on connecting) included. */
      watched: Array<Array<[number, number]>>;
      /** Per user: [receipt, notification id] of each message. */
      notified: Array<Array<[number, string]>>;
      /** The raw NATS subscriber: event id → receipt. */
      raw: Record<string, number>;
      failures: string[];
    }
  | { type: 'failed'; error: string };
