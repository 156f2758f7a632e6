import {
  type Database,
  decodeCursor,
  type KeyRing,
  type Logger,
  mutationRule,
  pageSize,
  type Sql,
  startQueueWorker,
  toConnection,
  type UserError,
  uuidInput,
} from '@bilten/platform';
import { v7 as uuidv7 } from 'uuid';
import { z } from 'zod';
import type { WebhookAnswer, WebhookSender } from '../adapters/webhook-sender.ts';
import type { Context } from '../context.ts';
import type { WebhookDeliveryRow, WebhookEndpointRow } from '../db/schema.ts';
import {
  claimDueWebhookDeliveries,
  endpointsByIds,
  failPendingDeliveriesOf,
  insertWebhookDelivery,
  notifyWebhookWorkers,
  recordWebhookAttempt,
  updateClaimedDelivery,
  updateEndpoint,
  WEBHOOK_DELIVERIES_CHANNEL,
  webhookDeliveryById,
  webhookDeliveryPage,
} from '../db/webhooks.ts';
import { meterWebhookDelivery } from './usage.ts';
import { changeableEndpoint, requireWebhookCaller, signingSecrets } from './webhook-endpoints.ts';

// The webhook worker: claims due deliveries, signs and posts them, and records each attempt;
// retries on Standard Webhooks' schedule, disables an endpoint that answers 410 Gone.

/**
 * Standard Webhooks' schedule: the delay before each attempt (immediately, 5 s, 5 min, 30 min,
 * 2 h, 5 h, 10 h, 10 h); after the last, the delivery FAILED.
 */
export const RETRY_SCHEDULE_MS = [
  0, 5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000,
] as const;
export const MAX_WEBHOOK_ATTEMPTS = RETRY_SCHEDULE_MS.length;

/** The wait after `attemptsMade` failed attempts: the schedule's, times `scale`, ±20 % jitter so a burst of retries spreads. */
export function webhookRetryDelayMs(attemptsMade: number, scale: number, random: () => number = Math.random) {
  const base = (RETRY_SCHEDULE_MS[attemptsMade] ?? RETRY_SCHEDULE_MS.at(-1)!) * scale;
  return Math.round(base * (0.8 + 0.4 * random()));
}

/** How an attempt ended, as `messaging_webhook_deliveries_total{status}` counts it. */
export type WebhookOutcome = 'delivered' | 'retried' | 'failed' | 'refused' | 'gone';

export interface WebhookWorkerDeps {
  db: Database;
  /** The client to LISTEN on; by default the one under `db`. */
  sql?: Sql;
  log: Logger;
  ring: KeyRing;
  sender: WebhookSender;
  /** WEBHOOK_RETRY_SCALE: multiplies RETRY_SCHEDULE_MS. */
  retryScale: number;
  pollMs: number;
  /** Longer than a send can take (WEBHOOK_TIMEOUT_MS): a claimed delivery's lease. */
  leaseMs: number;
  batchSize?: number;
  concurrency?: number;
  random?: () => number;
  count?: (outcome: WebhookOutcome) => void;
}

const DEFAULT_BATCH = 50;
const DEFAULT_CONCURRENCY = 8;

/** Claims the due deliveries and sends them; returns how many it claimed. */
export async function processDueWebhookDeliveries(deps: WebhookWorkerDeps): Promise<number> {
  const claimed = await claimDueWebhookDeliveries(deps.db, {
    limit: deps.batchSize ?? DEFAULT_BATCH,
    leaseMs: deps.leaseMs,
  });
  if (!claimed.length) return 0;
  const endpoints = new Map(
    (await endpointsByIds(deps.db, [...new Set(claimed.map((row) => row.endpointId))])).map((row) => [
      row.id,
      row,
    ]),
  );
  let next = 0;
  const lane = async () => {
    while (next < claimed.length) {
      const row = claimed[next++]!;
      // Only recording can fail here (the database); the lease brings the row back.
      await deliver(deps, row, endpoints.get(row.endpointId)).catch((err: unknown) =>
        deps.log.error(
          { err, webhookDeliveryId: row.id },
          'webhook outcome not recorded: retried after its lease',
        ),
      );
    }
  };
  await Promise.all(
    Array.from({ length: Math.min(deps.concurrency ?? DEFAULT_CONCURRENCY, claimed.length) }, lane),
  );
  return claimed.length;
}

async function deliver(
  deps: WebhookWorkerDeps,
  row: WebhookDeliveryRow,
  endpoint: WebhookEndpointRow | undefined,
): Promise<void> {
  if (!endpoint?.enabled) {
    const reason = endpoint?.disabledReason ? ` (${endpoint.disabledReason})` : '';
    await deps.db.transaction((tx) =>
      updateClaimedDelivery(tx, row, {
        status: 'FAILED',
        nextAttemptAt: null,
        lastError: `not sent: the endpoint is disabled${reason}`,
      }),
    );
    deps.count?.('failed');
    return;
  }
  const answer = await signAndSend(deps, row, endpoint);
  const ok = answer.status !== null && answer.status >= 200 && answer.status < 300;
  const gone = answer.status === 410;
  const retry = !ok && !gone && !answer.refused && row.attempts < MAX_WEBHOOK_ATTEMPTS;
  const lastError = ok ? null : errorOf(answer);
  await deps.db.transaction(async (tx) => {
    await recordWebhookAttempt(tx, {
      deliveryId: row.id,
      attempt: row.attempts,
      responseStatus: answer.status,
      error: lastError,
      durationMs: answer.durationMs,
    });
    const recorded = {
      lastResponseStatus: answer.status,
      lastError,
      lastDurationMs: answer.durationMs,
    };
    if (ok) {
      const delivered = await updateClaimedDelivery(tx, row, {
        ...recorded,
        status: 'DELIVERED',
        deliveredAt: new Date(),
        nextAttemptAt: null,
      });
      if (delivered) await meterWebhookDelivery(tx, endpoint.organizationId);
      return;
    }
    if (retry) {
      const delay = webhookRetryDelayMs(row.attempts, deps.retryScale, deps.random);
      await updateClaimedDelivery(tx, row, { ...recorded, nextAttemptAt: new Date(Date.now() + delay) });
      return;
    }
    const changed = await updateClaimedDelivery(tx, row, {
      ...recorded,
      status: 'FAILED',
      nextAttemptAt: null,
    });
    // 410 Gone: the receiver asks for nothing more. Only the worker that still owns the attempt acts on it.
    if (gone && changed) {
      const reason = `answered 410 Gone at ${new Date().toISOString()}`;
      await updateEndpoint(tx, endpoint.id, { enabled: false, disabledReason: reason });
      await failPendingDeliveriesOf(tx, endpoint.id, `not sent: the endpoint is disabled (${reason})`);
    }
  });
  const outcome: WebhookOutcome = ok
    ? 'delivered'
    : gone
      ? 'gone'
      : answer.refused
        ? 'refused'
        : retry
          ? 'retried'
          : 'failed';
  deps.count?.(outcome);
  (ok ? deps.log.info : deps.log.warn).call(
    deps.log,
    {
      webhookDeliveryId: row.id,
      endpointId: endpoint.id,
      eventType: row.eventType,
      attempt: row.attempts,
      status: answer.status,
      outcome,
    },
    ok ? 'webhook delivered' : 'webhook attempt failed',
  );
}

/** The answer of the endpoint; a secret that does not decrypt (DATA_ENCRYPTION_KEYS lost a key) fails like a network error. */
async function signAndSend(
  deps: WebhookWorkerDeps,
  row: WebhookDeliveryRow,
  endpoint: WebhookEndpointRow,
): Promise<WebhookAnswer> {
  let secrets: string[];
  try {
    secrets = signingSecrets(deps.ring, endpoint);
  } catch (err) {
    deps.log.error({ err, endpointId: endpoint.id }, 'webhook secret does not decrypt');
    return {
      status: null,
      detail: 'not sent: the signing secret cannot be read',
      refused: false,
      durationMs: 0,
    };
  }
  return deps.sender.send({ url: endpoint.url, messageId: row.messageId, body: row.payload, secrets });
}

const errorOf = (answer: WebhookAnswer) =>
  answer.status === null
    ? (answer.detail ?? 'no answer')
    : `HTTP ${answer.status}${answer.detail ? `: ${answer.detail}` : ''}`;

/**
 * Sends due webhook deliveries until stopped: at once when a fan-out or replay commits (LISTEN),
 * otherwise every `pollMs` (retries, a missed notification). Several workers (replicas) share the
 * queue through SKIP LOCKED.
 */
export function startWebhookWorker(deps: WebhookWorkerDeps): { stop(): Promise<void> } {
  return startQueueWorker({
    name: 'webhook worker',
    db: deps.db,
    sql: deps.sql,
    channel: WEBHOOK_DELIVERIES_CHANNEL,
    log: deps.log,
    pollMs: deps.pollMs,
    batchSize: deps.batchSize ?? DEFAULT_BATCH,
    processDue: () => processDueWebhookDeliveries(deps),
  });
}

// ---------------------------------------------------------------- the delivery log

/** `WebhookEndpoint.deliveries`: newest first; the endpoint was already found readable. */
export async function webhookDeliveriesOf(
  ctx: Pick<Context, 'db'>,
  endpointId: string,
  { first, after }: { first?: number | null; after?: string | null },
) {
  const size = pageSize(first);
  const beforeId = after ? decodeCursor(after) : undefined;
  return toConnection(await webhookDeliveryPage(ctx.db, endpointId, size + 1, beforeId), size);
}

interface ReplayResult {
  delivery: WebhookDeliveryRow | null;
  errors: UserError[];
}

const replayRefused = (errors: UserError[]): ReplayResult => ({ delivery: null, errors });

/**
 * `replayWebhookDelivery`: a new delivery of the same message (same `webhook-id` and payload),
 * due now, whatever became of the original. Not to a disabled endpoint: enable it first.
 */
export const replayWebhookDelivery = mutationRule(
  {
    input: z.object({ id: uuidInput }),
    caller: requireWebhookCaller,
    invalid: replayRefused,
  },
  async (ctx: Pick<Context, 'db' | 'viewer'>, input): Promise<ReplayResult> => {
    const notFound = replayRefused([
      { code: 'NOT_FOUND', message: 'no such webhook delivery', field: ['input', 'id'] },
    ]);
    const original = await webhookDeliveryById(ctx.db, input.id);
    if (!original) return notFound;
    const endpoint = await changeableEndpoint(ctx, original.endpointId);
    if (!endpoint) return notFound;
    if (!endpoint.enabled)
      return replayRefused([
        { code: 'CONFLICT', message: 'the endpoint is disabled: enable it first', field: ['input', 'id'] },
      ]);
    const delivery = await ctx.db.transaction(async (tx) => {
      const row = await insertWebhookDelivery(tx, {
        id: uuidv7(),
        endpointId: original.endpointId,
        organizationId: original.organizationId,
        sourceEventId: original.sourceEventId,
        replayOf: original.id,
        messageId: original.messageId,
        eventType: original.eventType,
        payload: original.payload,
      });
      await notifyWebhookWorkers(tx);
      return row;
    });
    return { delivery, errors: [] };
  },
);
