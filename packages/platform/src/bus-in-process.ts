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
  type Subscription,
  toDeadLetter,
  type Verdict,
} from './events.ts';
import { createKeyedRunner } from './keyed-runner.ts';
import type { Logger } from './logger.ts';

/**
 * The bus for one-process runs (`npm start` without NATS_URL): the same port and verdicts as
 * JetStream, delivered asynchronously with the same JSON encoding. What only a broker gives is
 * absent: durability across restarts (events and dead letters live in memory), delivery to
 * other processes, de-duplication by event id within a window (the consumers' inboxes still
 * de-duplicate), and redelivery after a lost ack.
 */
export function createInProcessBus(log: Logger): EventBus {
  const subscriptions: Array<{ subscription: Subscription; run: ReturnType<typeof createKeyedRunner> }> = [];
  const followers = new Set<{ subjects: string[]; onMessage: (message: IncomingMessage) => void }>();
  const deadLetters = new Map<number, DeadLetter>();
  const timers = new Set<NodeJS.Timeout>();
  const pending = new Map<string, number>();
  let nextDeadLetter = 1;
  let closed = false;

  function deliver(entry: (typeof subscriptions)[number], message: IncomingMessage, delayMs = 0) {
    const name = entry.subscription.durableName;
    pending.set(name, (pending.get(name) ?? 0) + 1);
    const timer = setTimeout(() => {
      timers.delete(timer);
      if (closed) return;
      void entry.run.run(entry.subscription.keyOf(message), async () => {
        pending.set(name, (pending.get(name) ?? 1) - 1);
        const verdict = await entry.subscription.handle(message).catch((err): Verdict => {
          log.error({ err, consumer: name }, 'subscriber threw; retrying');
          return { kind: 'retry', delayMs: 1_000 };
        });
        if (verdict.kind === 'retry' || verdict.kind === 'hold') {
          deliver(entry, { ...message, deliveryCount: message.deliveryCount + 1 }, verdict.delayMs);
        } else if (verdict.kind === 'dead-letter') {
          await bus.deadLetter(entry.subscription, message, verdict.reason);
        }
      });
    }, delayMs);
    timers.add(timer);
  }

  function publishRaw(subject: string, data: string, headers: Record<string, string>) {
    for (const follower of followers) {
      if (follower.subjects.includes(subject))
        follower.onMessage({ data, subject, headers, deliveryCount: 1 });
    }
    for (const entry of subscriptions) {
      if (entry.subscription.subject === subject)
        deliver(entry, { data, subject, headers, deliveryCount: 1 });
    }
  }

  const bus: EventBus = {
    kind: 'in-process',
    async publish(event: DomainEvent) {
      if (closed) throw new Error('event bus is closed');
      publishRaw(event.type, JSON.stringify(event), eventHeaders(event));
      return { duplicate: false };
    },
    async subscribe(subscription: Subscription) {
      const entry = { subscription, run: createKeyedRunner(32) };
      subscriptions.push(entry);
      return {
        async stop() {
          subscriptions.splice(subscriptions.indexOf(entry), 1);
          await entry.run.idle();
        },
      };
    },
    // No history to hand over: in one process, followers start with the services, before any event.
    async follow(subject, _since, onMessage) {
      return bus.listen([subject], onMessage);
    },
    async listen(subjects, onMessage) {
      const follower = { subjects, onMessage };
      followers.add(follower);
      return {
        async stop() {
          followers.delete(follower);
        },
      };
    },
    async deadLetter(subscription, message, reason) {
      const sequence = nextDeadLetter++;
      deadLetters.set(
        sequence,
        toDeadLetter(sequence, deadLetterHeaders(subscription, message, reason), message.data),
      );
    },
    async listDeadLetters(filter: DeadLetterFilter = {}) {
      const first = Math.min(filter.first ?? 50, 500);
      return [...deadLetters.values()].filter((letter) => matchesFilter(letter, filter)).slice(0, first);
    },
    async replayDeadLetter(sequence: number) {
      const letter = deadLetters.get(sequence);
      if (!letter) return false;
      deadLetters.delete(sequence);
      const original = Object.fromEntries(
        Object.entries(letter.headers).filter(([key]) => !key.startsWith('bilten-dlq-')),
      );
      publishRaw(letter.subject, letter.data, { ...original, [HEADER.replay]: String(sequence) });
      return true;
    },
    async discardDeadLetter(sequence: number) {
      return deadLetters.delete(sequence);
    },
    async consumerStats(): Promise<ConsumerStats[]> {
      return subscriptions.map(({ subscription }) => ({
        durableName: subscription.durableName,
        numPending: pending.get(subscription.durableName) ?? 0,
        numAckPending: 0,
        numRedelivered: 0,
      }));
    },
    async health() {
      if (closed) throw new Error('event bus is closed');
    },
    async close() {
      closed = true;
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      await Promise.all(subscriptions.map(({ run }) => run.idle()));
    },
  };
  return bus;
}
