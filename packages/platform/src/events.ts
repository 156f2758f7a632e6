import { v7 as uuidv7 } from 'uuid';
import { z } from 'zod';
import { currentRequest } from './request-context.ts';

/** The envelope every domain event travels in, on every bus adapter. */
export const domainEventSchema = z.object({
  id: z.uuid(),
  type: z
    .string()
    .regex(/^bilten\.[a-z]+\.[a-z_]+\.[a-z_]+$/, 'must be bilten.<subgraph>.<aggregate>.<verb>'),
  occurredAt: z.iso.datetime(),
  correlationId: z.string().max(128).optional(),
  payload: z.unknown(),
});
export type DomainEvent<P = unknown> = Omit<z.infer<typeof domainEventSchema>, 'payload'> & { payload: P };

/** A typed event definition: its subject and the zod schema of its payload. */
export interface EventDefinition<S extends z.ZodType> {
  type: string;
  payload: S;
}

export function defineEvent<S extends z.ZodType>(type: string, payload: S): EventDefinition<S> {
  return { type, payload };
}

export function createEvent<S extends z.ZodType>(
  definition: EventDefinition<S>,
  payload: z.input<S>,
): DomainEvent<z.output<S>> {
  return domainEventSchema.parse({
    id: uuidv7(),
    type: definition.type,
    occurredAt: new Date().toISOString(),
    correlationId: currentRequest()?.requestId,
    payload: definition.payload.parse(payload),
  }) as DomainEvent<z.output<S>>;
}

/** A durable consumer of one event type; `handle` must be idempotent (redelivery happens). */
export interface EventConsumer<S extends z.ZodType = z.ZodType> {
  name: string;
  event: EventDefinition<S>;
  handle(event: DomainEvent<z.output<S>>): Promise<void>;
}

export interface EventBus {
  readonly kind: 'jetstream' | 'in-process';
  publish(event: DomainEvent): Promise<void>;
  /** Starts delivering `consumer.event` to the consumer, durably named after `service`. */
  subscribe<S extends z.ZodType>(service: string, consumer: EventConsumer<S>): Promise<void>;
  /** Throws when the bus cannot be used right now (for /readyz). */
  health(): Promise<void>;
  close(): Promise<void>;
}

/** Parses and validates an incoming message against the envelope and the consumer's payload. */
export function decodeEvent<S extends z.ZodType>(
  data: string,
  definition: EventDefinition<S>,
): DomainEvent<z.output<S>> {
  const envelope = domainEventSchema.parse(JSON.parse(data));
  if (envelope.type !== definition.type) {
    throw new Error(`expected ${definition.type}, got ${envelope.type}`);
  }
  return { ...envelope, payload: definition.payload.parse(envelope.payload) };
}

/** Growing redelivery delay: 200 ms, 400 ms, ... capped at 30 s. */
export function retryDelayMs(attempt: number): number {
  return Math.min(30_000, 200 * 2 ** Math.max(0, attempt - 1));
}

export const MAX_DELIVERIES = 8;
