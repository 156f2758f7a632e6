import type { EventDefinition } from '@bilten/contracts';
import { v7 as uuidv7 } from 'uuid';
import { z } from 'zod';
import { currentRequest } from './request-context.ts';

/**
 * The envelope every domain event travels in, validated when written to the outbox and again
 * when consumed. `sequence` counts the events of one aggregate (1, 2, ...) so that consumers
 * which need order can hold back an event that arrives before its predecessor.
 */
export const domainEventSchema = z.object({
  id: z.uuid(),
  type: z
    .string()
    .regex(/^bilten\.[a-z]+\.[a-z_]+\.[a-z_]+$/, 'must be bilten.<subgraph>.<aggregate>.<verb>'),
  version: z.number().int().min(1),
  occurredAt: z.iso.datetime(),
  aggregateType: z.string().min(1).max(64),
  aggregateId: z.string().min(1).max(128),
  sequence: z.number().int().min(1),
  correlationId: z.string().max(128).optional(),
  traceparent: z.string().max(64).optional(),
  payload: z.unknown(),
});
export type DomainEvent<P = unknown> = Omit<z.infer<typeof domainEventSchema>, 'payload'> & { payload: P };

export { defineEvent, type EventDefinition } from '@bilten/contracts';

/** A new, validated envelope: the next event of `aggregateId`, tagged with the current request. */
export function newEvent<S extends z.ZodType>(
  definition: EventDefinition<S>,
  aggregateId: string,
  sequence: number,
  payload: z.input<S>,
): DomainEvent<z.output<S>> {
  const request = currentRequest();
  return domainEventSchema.parse({
    id: uuidv7(),
    type: definition.type,
    version: definition.version,
    occurredAt: new Date().toISOString(),
    aggregateType: definition.aggregateType,
    aggregateId,
    sequence,
    correlationId: request?.requestId,
    traceparent: request?.traceparent,
    payload: definition.payload.parse(payload),
  }) as DomainEvent<z.output<S>>;
}

export class MalformedEventError extends Error {
  override name = 'MalformedEventError';
}

/** Parses a message body against the envelope and the definition's type, version and payload. */
export function decodeEvent<S extends z.ZodType>(
  data: string,
  definition: EventDefinition<S>,
): DomainEvent<z.output<S>> {
  let json: unknown;
  try {
    json = JSON.parse(data);
  } catch {
    throw new MalformedEventError('message is not JSON');
  }
  const envelope = domainEventSchema.safeParse(json);
  if (!envelope.success) throw new MalformedEventError(`bad envelope: ${z.prettifyError(envelope.error)}`);
  const { type, version } = envelope.data;
  if (type !== definition.type || version !== definition.version) {
    throw new MalformedEventError(
      `expected ${definition.type} v${definition.version}, got ${type} v${version}`,
    );
  }
  const payload = definition.payload.safeParse(envelope.data.payload);
  if (!payload.success) throw new MalformedEventError(`bad payload: ${z.prettifyError(payload.error)}`);
  return { ...envelope.data, payload: payload.data };
}

/** Growing redelivery delay: 100 ms, 200 ms, 400 ms, ... capped at 30 s. */
export function retryDelayMs(deliveryCount: number): number {
  return Math.min(30_000, 100 * 2 ** Math.max(0, deliveryCount - 1));
}

/** A message as a bus hands it to a subscriber, before decoding. */
export interface IncomingMessage {
  data: string;
  subject: string;
  headers: Record<string, string>;
  /** 1 on first delivery. */
  deliveryCount: number;
}

/** What the subscriber wants done with a message. */
export type Verdict =
  | { kind: 'ack' }
  | { kind: 'retry'; delayMs: number }
  /** Held back for ordering: redeliver soon; not a failure. */
  | { kind: 'hold'; delayMs: number }
  | { kind: 'dead-letter'; reason: string };

export interface Subscription {
  /** Durable name, unique per (service, handler). */
  durableName: string;
  /** Subject without the environment prefix, e.g. bilten.identity.organization.created. */
  subject: string;
  /** Messages of one key (the aggregate) are handled one at a time, in arrival order. */
  keyOf(message: IncomingMessage): string;
  handle(message: IncomingMessage): Promise<Verdict>;
}

export interface PublishResult {
  /** The broker had this event id already (a second relay or a retry): stored once. */
  duplicate: boolean;
}

export interface DeadLetter {
  /** Position in the dead-letter store; the handle for replay and discard. */
  sequence: number;
  durableName: string;
  subject: string;
  eventId?: string;
  type?: string;
  error: string;
  deliveryCount: number;
  failedAt: string;
  headers: Record<string, string>;
  data: string;
}

export interface DeadLetterFilter {
  durableName?: string;
  type?: string;
  after?: number;
  first?: number;
}

export interface ConsumerStats {
  durableName: string;
  numPending: number;
  numAckPending: number;
  numRedelivered: number;
}

export interface EventBus {
  readonly kind: 'jetstream' | 'in-process';
  /** Resolves once the broker stored the event (JetStream: after the PubAck). */
  publish(event: DomainEvent): Promise<PublishResult>;
  /** Starts delivering; `stop` waits for the messages in hand and stops taking new ones. */
  subscribe(subscription: Subscription): Promise<{ stop(): Promise<void> }>;
  /**
   * Hands this process every message on `subject` published since `since`, then each new one as it
   * comes: no durable consumer, no acks, every replica gets everything. For state each process
   * keeps in memory (revoked tokens). Resolves once the messages already published are handed over.
   */
  follow(
    subject: string,
    since: Date,
    onMessage: (message: IncomingMessage) => void,
  ): Promise<{ stop(): Promise<void> }>;
  /**
   * Hands this process each new message on any of `subjects` from now on: no history, no acks, no
   * durable state, every process gets every message (NATS core fan-out). For live pushes (the
   * gateway's subscriptions), where a message missed while disconnected is simply not pushed.
   */
  listen(
    subjects: string[],
    onMessage: (message: IncomingMessage) => void,
  ): Promise<{ stop(): Promise<void> }>;
  /** Stores a message that will not be handled, with why, and moves on. */
  deadLetter(subscription: Subscription, message: IncomingMessage, reason: string): Promise<void>;
  listDeadLetters(filter?: DeadLetterFilter): Promise<DeadLetter[]>;
  /** Publishes the original event again (consumers that handled it skip it) and removes it. */
  replayDeadLetter(sequence: number): Promise<boolean>;
  discardDeadLetter(sequence: number): Promise<boolean>;
  consumerStats(): Promise<ConsumerStats[]>;
  /** Throws when the bus cannot be used right now (for /readyz). */
  health(): Promise<void>;
  close(): Promise<void>;
}

export const HEADER = {
  requestId: 'x-request-id',
  traceparent: 'traceparent',
  type: 'bilten-type',
  version: 'bilten-version',
  aggregateId: 'bilten-aggregate-id',
  replay: 'bilten-replay',
  dlqError: 'bilten-dlq-error',
  dlqDeliveries: 'bilten-dlq-deliveries',
  dlqConsumer: 'bilten-dlq-consumer',
  dlqSubject: 'bilten-dlq-subject',
  dlqFailedAt: 'bilten-dlq-failed-at',
} as const;

/** Headers that travel with an event on any bus. */
export function eventHeaders(event: DomainEvent): Record<string, string> {
  return {
    [HEADER.type]: event.type,
    [HEADER.version]: String(event.version),
    [HEADER.aggregateId]: event.aggregateId,
    ...(event.correlationId ? { [HEADER.requestId]: event.correlationId } : {}),
    ...(event.traceparent ? { [HEADER.traceparent]: event.traceparent } : {}),
  };
}

export function deadLetterHeaders(
  subscription: Subscription,
  message: IncomingMessage,
  reason: string,
): Record<string, string> {
  const { 'Nats-Msg-Id': messageId, ...headers } = message.headers;
  return {
    ...headers,
    // JetStream de-duplicates by message id: the event's own would drop every consumer's letter
    // but the first; per consumer, a redelivered letter is still one.
    ...(messageId ? { 'Nats-Msg-Id': `${subscription.durableName}:${messageId}` } : {}),
    // Header values are single lines; zod's messages are not.
    [HEADER.dlqError]: reason.replace(/\s*[\r\n]+\s*/g, ' | ').slice(0, 2_000),
    [HEADER.dlqDeliveries]: String(message.deliveryCount),
    [HEADER.dlqConsumer]: subscription.durableName,
    [HEADER.dlqSubject]: message.subject,
    [HEADER.dlqFailedAt]: new Date().toISOString(),
  };
}

/** Reads a stored dead letter back into its parts. */
export function toDeadLetter(sequence: number, headers: Record<string, string>, data: string): DeadLetter {
  let eventId: string | undefined;
  try {
    eventId = (JSON.parse(data) as { id?: string }).id;
  } catch {
    eventId = undefined;
  }
  return {
    sequence,
    durableName: headers[HEADER.dlqConsumer] ?? '',
    subject: headers[HEADER.dlqSubject] ?? '',
    eventId: typeof eventId === 'string' ? eventId : undefined,
    type: headers[HEADER.type],
    error: headers[HEADER.dlqError] ?? '',
    deliveryCount: Number(headers[HEADER.dlqDeliveries] ?? 0),
    failedAt: headers[HEADER.dlqFailedAt] ?? '',
    headers,
    data,
  };
}

export function matchesFilter(letter: DeadLetter, filter: DeadLetterFilter): boolean {
  return (
    (!filter.durableName || letter.durableName === filter.durableName) &&
    (!filter.type || letter.type === filter.type) &&
    (filter.after === undefined || letter.sequence > filter.after)
  );
}
