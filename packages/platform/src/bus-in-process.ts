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

/**
 * The bus for one-process runs (`npm start` without NATS_URL). Same port as JetStream, delivered
 * asynchronously through the same JSON encoding. What only a broker gives is absent: durability
 * across restarts, delivery to other processes, and de-duplication by message id.
 */
export function createInProcessBus(log: Logger): EventBus {
  const consumers = new Map<string, Array<{ service: string; consumer: EventConsumer }>>();
  const pending = new Set<NodeJS.Timeout>();
  let closed = false;

  function deliver(service: string, consumer: EventConsumer, data: string, attempt: number) {
    const timer = setTimeout(
      async () => {
        pending.delete(timer);
        if (closed) return;
        try {
          await consumer.handle(decodeEvent(data, consumer.event));
        } catch (err) {
          if (attempt >= MAX_DELIVERIES) {
            log.error({ err, consumer: consumer.name, service, attempt }, 'event handling gave up');
            return;
          }
          log.warn({ err, consumer: consumer.name, service, attempt }, 'event handling failed, retrying');
          deliver(service, consumer, data, attempt + 1);
        }
      },
      attempt === 1 ? 0 : retryDelayMs(attempt - 1),
    );
    pending.add(timer);
  }

  return {
    kind: 'in-process',
    async publish(event: DomainEvent) {
      if (closed) throw new Error('event bus is closed');
      const data = JSON.stringify(event);
      for (const { service, consumer } of consumers.get(event.type) ?? [])
        deliver(service, consumer, data, 1);
    },
    async subscribe<S extends z.ZodType>(service: string, consumer: EventConsumer<S>) {
      const list = consumers.get(consumer.event.type) ?? [];
      list.push({ service, consumer: consumer as unknown as EventConsumer });
      consumers.set(consumer.event.type, list);
    },
    async health() {
      if (closed) throw new Error('event bus is closed');
    },
    async close() {
      closed = true;
      for (const timer of pending) clearTimeout(timer);
      pending.clear();
    },
  };
}
