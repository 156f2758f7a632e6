/**
 * The published language between services: each file here holds one producer's domain events
 * (subject, version, payload schema), imported by that producer and by every consumer, so that a
 * mismatch fails typecheck or a test instead of filling the dead-letter stream. No logic: this
 * file holds the helper and the payloads several producers share.
 */
import { z } from 'zod';

/** A published event: its subject, schema version, aggregate and the zod schema of its payload. */
export interface EventDefinition<S extends z.ZodType = z.ZodType> {
  type: string;
  version: number;
  aggregateType: string;
  payload: S;
}

export function defineEvent<S extends z.ZodType>(definition: {
  type: string;
  version?: number;
  aggregateType: string;
  payload: S;
}): EventDefinition<S> {
  return { version: 1, ...definition };
}

/**
 * Payloads several producers share (issue 18). Each producer still publishes its own contract
 * (its own subject), built from these, so consumers know whom an event came from.
 */

/** What security monitoring watches for, the same in every service. */
export const SECURITY_EVENT_TYPES = [
  'login_failed',
  'login_locked',
  'refresh_token_reused',
  'forbidden',
  'webhook_signature_invalid',
  'rate_limited',
  'admin_action',
  'api_key_misuse',
] as const;

/** Security events one request (or one tick of a worker) produced, in one event like access reports. */
export const securityEventsPayload = z.object({
  events: z
    .array(
      z.object({
        type: z.enum(SECURITY_EVENT_TYPES),
        occurredAt: z.iso.datetime({ offset: true }),
        /** A user's or API key's id; null when anonymous. */
        actorId: z.string().max(64).nullable(),
        actorKind: z.enum(['user', 'api_key', 'admin', 'anonymous', 'system']),
        /** The client address as the gateway saw it. */
        ip: z.string().max(64).nullable(),
        organizationId: z.uuid().nullable(),
        requestId: z.string().max(128).nullable(),
        /** What was attempted: a field path, a webhook provider, an operation name. Never personal data. */
        target: z.string().max(200).nullable(),
        /** A few facts for whoever investigates; never personal data or secrets. */
        details: z
          .record(z.string().max(64), z.union([z.string().max(500), z.number(), z.boolean(), z.null()]))
          .default({}),
      }),
    )
    .min(1)
    .max(500),
});

/**
 * Reads (or changes) of another person's personal data one request made (issue 18), in one event:
 * the report costs one write however many. Identity appends each to the tamper-evident access log.
 */
export const personalDataAccessesPayload = z.object({
  accesses: z
    .array(
      z.object({
        actorId: z.string().max(64).nullable(),
        actorKind: z.enum(['user', 'api_key', 'admin', 'system']),
        subjectUserId: z.uuid(),
        organizationId: z.uuid().nullable(),
        purpose: z.string().min(1).max(64),
        fields: z.array(z.string().min(1).max(64)).max(50),
        resource: z.string().min(1).max(200),
        requestId: z.string().max(128).nullable(),
        occurredAt: z.iso.datetime({ offset: true }),
      }),
    )
    .min(1)
    .max(500),
});

/**
 * One subgraph's part of a data export (article 15): the JSON it holds about the user, sealed for
 * the request's one-time public key (`dataExportRequested.publicKey`), so outboxes and streams keep
 * nothing readable once identity has assembled the archive and dropped the private key.
 */
export const personalDataExportedPayload = z.object({
  requestId: z.uuid(),
  userId: z.uuid(),
  sealedPart: z.string().min(1).max(900_000),
});

/** One subgraph erased or anonymized what it held about the user (article 17): its step of the saga is done. */
export const personalDataErasedPayload = z.object({
  requestId: z.uuid(),
  userId: z.uuid(),
  /** Rows per table erased or anonymized, e.g. `{ "orders.anonymized": 3 }`: counts only. */
  summary: z.record(z.string().max(100), z.number().int().min(0)),
});

/** What usage metering counts per organization (issue 19, R10.5), each metered by the subgraph that does it. */
export const USAGE_METRICS = [
  'api_calls',
  'graphql_cost',
  'tickets_sold',
  'emails',
  'sms',
  'pushes',
  'webhook_deliveries',
  'storage_bytes',
] as const;
export type UsageMetric = (typeof USAGE_METRICS)[number];

/**
 * An organization used a metric far above its trailing mean in one hour: each metering subgraph
 * publishes its own contract with this payload, once per (organization, metric, hour); messaging
 * tells the platform admins.
 */
export const usageJumpedPayload = z.object({
  organizationId: z.uuid(),
  metric: z.enum(USAGE_METRICS),
  /** The complete hour that jumped (its start, UTC). */
  hour: z.iso.datetime({ offset: true }),
  quantity: z.number().int(),
  trailingHourlyMean: z.number().min(0),
});
