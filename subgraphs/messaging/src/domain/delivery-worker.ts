import {
  columnAad,
  type Database,
  type Logger,
  type Sql,
  startQueueWorker,
  type Transaction,
} from '@bilten/platform';
import type { DeliveryMetrics } from '../adapters/delivery-metrics.ts';
import type { UnsubscribeLinks } from '../adapters/unsubscribe-links.ts';
import {
  claimDueDeliveries,
  DELIVERIES_CHANNEL,
  emailsSentWithinAnHour,
  recordAttempt,
  suppressAddress,
  suppressionOf,
  updateDelivery,
} from '../db/deliveries.ts';
import {
  deletePushSubscription,
  markPushSubscriptionUsed,
  pushSubscriptionById,
} from '../db/push-subscriptions.ts';
import { recipientsByIds } from '../db/recipients.ts';
import type { DeliveryRow } from '../db/schema.ts';
import {
  type DataOf,
  DeliveryFailure,
  type EmailSender,
  type EmailTracking,
  type PushSender,
  type Renderer,
  type Sent,
  type SmsSender,
} from './channels.ts';
import {
  addressOf,
  DATA_COLUMN,
  type EnqueueDeps,
  enqueueDeliveries,
  messageIdOf,
  type NewDelivery,
} from './deliveries.ts';
import { renderEmailOf, renderShortOf, smsTextOf } from './delivery-rendering.ts';
import type { KindName } from './delivery-rules.ts';
import { emailOf } from './recipients.ts';
import { captureDelivery, capturesDelivery } from './test-messages.ts';
import { meterSentDelivery } from './usage.ts';

// The delivery worker: claims due deliveries, renders them now, sends them through their channel's
// sender and records every attempt; retries, gives up, suppresses, falls back to email. A test-mode
// organization's deliveries are captured instead (test-messages.ts).

export interface DeliveryWorkerDeps extends EnqueueDeps {
  db: Database;
  /** The client to LISTEN on; by default the one under `db`. */
  sql?: Sql;
  log: Logger;
  renderer: Renderer;
  email: EmailSender;
  /** Unset: WEB_PUSH deliveries fail at once (and critical ones fall back to email). */
  push?: PushSender;
  sms?: SmsSender;
  /** Open pixel and click redirects in every non-critical mail, when given. */
  tracking?: EmailTracking;
  unsubscribe: UnsubscribeLinks;
  /** MAIL_FROM: names the domain of every Message-ID. */
  from: string;
  maxAttempts: number;
  retryBaseMs: number;
  pollMs: number;
  perRecipientPerHour: number;
  /** How long a claimed delivery is left to its worker before another may send it again. */
  leaseMs?: number;
  /** Claimed at once, and sent at most this many at a time. */
  batchSize?: number;
  concurrency?: number;
  /** The jitter's source, in [0, 1). */
  random?: () => number;
  /** Counts outcomes on /metrics, when given. */
  metrics?: DeliveryMetrics;
}

/** Longer than a send can take: SMTP's timeouts (10 s + 20 s) plus the attachments' fetches (10 s). */
const DEFAULT_LEASE_MS = 120_000;
const DEFAULT_BATCH = 50;
const DEFAULT_CONCURRENCY = 8;
const MAX_RETRY_DELAY_MS = 3_600_000;
const PUSH_TTL_SECONDS = { critical: 86_400, other: 4 * 3_600 };

/** The transport a failure is charged to when the sender did not say. */
const DEFAULT_TRANSPORT = { EMAIL: 'smtp', WEB_PUSH: 'web-push', SMS: 'sms' } as const;

type ClaimedDelivery = DeliveryRow & { channel: NewDelivery['channel'] };

/** Full jitter (AWS's "Exponential Backoff And Jitter"): spreads retries of a burst over the whole window. */
export function retryDelayMs(attempts: number, baseMs: number, random: () => number = Math.random): number {
  return Math.floor(random() * Math.min(MAX_RETRY_DELAY_MS, baseMs * 2 ** (attempts - 1)));
}

/** One line of an error for the attempt row and the log: no addresses, no newlines. */
const oneLine = (text: string) =>
  text
    .replace(/<?[^\s<>@]+@[^\s<>@]+>?/g, '<address>')
    .replace(/\s+/g, ' ')
    .slice(0, 300);

/** Claims the due deliveries and sends them; returns how many it claimed. */
export async function processDueDeliveries(deps: DeliveryWorkerDeps): Promise<number> {
  const batchSize = deps.batchSize ?? DEFAULT_BATCH;
  const claimed = (await claimDueDeliveries(deps.db, {
    limit: batchSize,
    leaseMs: deps.leaseMs ?? DEFAULT_LEASE_MS,
  })) as ClaimedDelivery[];
  // One address's deliveries go one after another, so the hourly limit counts each sent before
  // checking the next; different addresses go in parallel.
  const byAddress = new Map<string, ClaimedDelivery[]>();
  for (const row of claimed) byAddress.set(row.addressHash, [...(byAddress.get(row.addressHash) ?? []), row]);
  const queues = [...byAddress.values()];
  let next = 0;
  const lane = async () => {
    while (next < queues.length) {
      // Only recording can fail here (the database); the lease brings the row back.
      for (const row of queues[next++]!)
        await deliver(deps, row).catch((err: unknown) =>
          deps.log.error(
            { err, deliveryId: row.id },
            'delivery outcome not recorded: retried after its lease',
          ),
        );
    }
  };
  await Promise.all(
    Array.from({ length: Math.min(deps.concurrency ?? DEFAULT_CONCURRENCY, queues.length) }, lane),
  );
  return claimed.length;
}

/** An anonymized placeholder (`erased@erased.invalid`): `.invalid` is reserved (RFC 2606) and never delivers. */
const isReservedAddress = (row: ClaimedDelivery, address: string) =>
  row.channel === 'EMAIL' && /\.invalid>?$/i.test(address.trim());

async function deliver(deps: DeliveryWorkerDeps, row: ClaimedDelivery): Promise<void> {
  const { db, log } = deps;
  let data: DataOf<KindName> | null = null;
  let sent: Sent & { detail?: string };
  let captured = false;
  try {
    // Never handed to a sender: an erased person's (their key destroyed) or a placeholder address.
    const address = await addressOf(db, deps.keys, row);
    if (address === null || isReservedAddress(row, address)) {
      const reason = address === null ? 'recipient erased' : 'reserved address (.invalid)';
      await db.transaction((tx) =>
        updateDelivery(tx, row, { status: 'SUPPRESSED', endedAt: new Date(), lastError: reason }),
      );
      deps.metrics?.record(row.channel, 'suppressed', row.createdAt);
      return;
    }
    data = JSON.parse(deps.ring.decrypt(row.dataSealed, columnAad(DATA_COLUMN, row.id))) as DataOf<KindName>;
    captured = await capturesDelivery(db, row);
    if (captured) {
      await captureDelivery(deps, row, address, data);
      deps.metrics?.record(row.channel, 'captured', row.createdAt);
      return;
    }
    const suppressed = await suppressionOf(db, row.addressHash, row.channel, row.critical);
    if (suppressed) {
      await db.transaction((tx) =>
        updateDelivery(tx, row, {
          status: 'SUPPRESSED',
          endedAt: new Date(),
          lastError: `address suppressed (${suppressed})`,
        }),
      );
      deps.metrics?.record(row.channel, 'suppressed', row.createdAt);
      return;
    }
    if (
      row.channel === 'EMAIL' &&
      (await emailsSentWithinAnHour(db, row.addressHash)) >= deps.perRecipientPerHour
    ) {
      // Whatever triggers them (invitations, resends, resets), no address gets more than this an hour.
      log.warn(
        { security: true, deliveryId: row.id, kind: row.kind },
        'mail not sent: its recipient had the most mails an hour allows',
      );
      await db.transaction((tx) =>
        updateDelivery(tx, row, { status: 'FAILED', endedAt: new Date(), lastError: 'rate limited' }),
      );
      deps.metrics?.record(row.channel, 'rate_limited', row.createdAt);
      return;
    }
    sent = await send(deps, row, address, data);
  } catch (err) {
    // Without its data, a failed capture falls back to no other channel.
    await recordFailure(deps, row, captured ? null : data, err);
    return;
  }
  await db.transaction(async (tx) => {
    await recordAttempt(tx, {
      deliveryId: row.id,
      attempt: row.attempts,
      transport: sent.transport,
      outcome: 'SENT',
      detail: oneLine(sent.detail ?? 'accepted'),
    });
    await updateDelivery(tx, row, {
      status: 'SENT',
      sentAt: new Date(),
      transport: sent.transport,
      providerMessageId: sent.providerMessageId,
      lastError: null,
    });
    await meterSentDelivery(tx, row);
  });
  log.info(
    { deliveryId: row.id, kind: row.kind, channel: row.channel, transport: sent.transport },
    'delivery sent',
  );
  deps.metrics?.record(row.channel, 'sent', row.createdAt);
}

/** Renders the delivery now (the current brand, template and links) and hands it to its channel's sender. */
async function send(
  deps: DeliveryWorkerDeps,
  row: ClaimedDelivery,
  address: string,
  data: DataOf<KindName>,
): Promise<Sent & { detail?: string }> {
  if (row.channel === 'EMAIL') {
    const rendered = await renderEmailOf(deps, row, data);
    return deps.email.send({
      to: { name: data.recipient?.name ?? '', address },
      subject: rendered.subject,
      text: rendered.text,
      // Critical mails' links carry secrets (account tokens, tickets, receipts): never through a
      // redirect, whose URL would hold them too. Event updates and announcements are tracked.
      html:
        deps.tracking && !row.critical
          ? deps.tracking.decorate(rendered.html, row.id, rendered.unsubscribeUrl)
          : rendered.html,
      messageId: messageIdOf(row.id, deps.from),
      ...(rendered.unsubscribeUrl && { unsubscribeUrl: rendered.unsubscribeUrl }),
      attachments: rendered.attachments,
    });
  }
  if (row.channel === 'WEB_PUSH') {
    if (!deps.push?.enabled) throw new DeliveryFailure('web push is not configured', true);
    const subscription = await pushSubscriptionById(deps.db, address);
    if (!subscription) throw new DeliveryFailure('the push subscription was removed', true);
    const short = await renderShortOf(deps, row, data);
    const sent = await deps.push.send(
      { endpoint: subscription.endpoint, keys: { p256dh: subscription.p256dh, auth: subscription.auth } },
      short,
      row.critical
        ? { ttlSeconds: PUSH_TTL_SECONDS.critical, urgency: 'high' }
        : { ttlSeconds: PUSH_TTL_SECONDS.other, urgency: 'normal' },
    );
    await markPushSubscriptionUsed(deps.db, subscription.id);
    return sent;
  }
  if (!deps.sms) throw new DeliveryFailure('SMS is not configured', true);
  return deps.sms.send(address, smsTextOf(await renderShortOf(deps, row, data)));
}

/**
 * A transient failure is retried at now + backoff until DELIVERY_MAX_ATTEMPTS; a permanent one (or
 * the last attempt) ends the delivery, suppresses a bounced address or invalid number, removes a
 * push subscription its service no longer knows, and gives a critical push or SMS an email instead.
 */
async function recordFailure(
  deps: DeliveryWorkerDeps,
  row: ClaimedDelivery,
  data: DataOf<KindName> | null,
  err: unknown,
): Promise<void> {
  const failure =
    err instanceof DeliveryFailure
      ? err
      : new DeliveryFailure(
          `${(err as Error)?.name ?? 'Error'}: ${(err as Error)?.message ?? String(err)}`,
          false,
        );
  const detail = oneLine(failure.message);
  const transport = (err as { transport?: string }).transport ?? DEFAULT_TRANSPORT[row.channel];
  const retry = !failure.permanent && row.attempts < deps.maxAttempts;
  await deps.db.transaction(async (tx) => {
    await recordAttempt(tx, {
      deliveryId: row.id,
      attempt: row.attempts,
      transport,
      outcome: failure.permanent ? 'PERMANENT' : 'TRANSIENT',
      detail,
    });
    if (retry) {
      const delay = retryDelayMs(row.attempts, deps.retryBaseMs, deps.random);
      await updateDelivery(tx, row, { nextAttemptAt: new Date(Date.now() + delay), lastError: detail });
      return;
    }
    const bounced = failure.addressProblem === 'BOUNCE';
    await updateDelivery(tx, row, {
      status: bounced ? 'BOUNCED' : 'FAILED',
      endedAt: new Date(),
      lastError: detail,
    });
    if (failure.addressProblem === 'BOUNCE' || failure.addressProblem === 'INVALID_NUMBER')
      await suppressAddress(tx, {
        addressHash: row.addressHash,
        channel: row.channel,
        reason: failure.addressProblem,
        deliveryId: row.id,
      });
    const pushSubscription =
      failure.addressProblem === 'GONE' && row.channel === 'WEB_PUSH'
        ? await addressOf(tx, deps.keys, row)
        : null;
    if (pushSubscription) await deletePushSubscription(tx, pushSubscription);
    if (!bounced && row.critical && row.channel !== 'EMAIL' && row.recipientId && data)
      await fallBackToEmail(tx, deps, row, data);
  });
  deps.log.warn(
    { deliveryId: row.id, kind: row.kind, channel: row.channel, attempt: row.attempts, retry, detail },
    'delivery attempt failed',
  );
  const ended = failure.addressProblem === 'BOUNCE' ? 'bounced' : 'failed';
  deps.metrics?.record(row.channel, retry ? 'retried' : ended, row.createdAt);
}

/** The same notice by email, to the user's address in the book, under the same source event. */
async function fallBackToEmail(
  tx: Transaction,
  deps: DeliveryWorkerDeps,
  row: ClaimedDelivery,
  data: DataOf<KindName>,
): Promise<void> {
  const [entry] = await recipientsByIds(tx, [row.recipientId!]);
  const address = entry ? await emailOf(tx, deps.keys, entry) : null;
  if (!address) return;
  await enqueueDeliveries(tx, deps, [
    {
      kind: row.kind as KindName,
      channel: 'EMAIL',
      locale: row.locale,
      sourceEventId: row.sourceEventId,
      recipientId: row.recipientId,
      address,
      data,
      organizationId: row.organizationId,
      eventId: row.eventId,
      fallbackOf: row.id,
    },
  ]);
}

/**
 * Sends due deliveries until stopped: at once when an enqueue commits (LISTEN), otherwise every
 * `pollMs` (retries, quiet hours, a missed notification). Several workers (replicas) share the
 * queue through SKIP LOCKED.
 */
export function startDeliveryWorker(deps: DeliveryWorkerDeps): { stop(): Promise<void> } {
  return startQueueWorker({
    name: 'delivery worker',
    db: deps.db,
    sql: deps.sql,
    channel: DELIVERIES_CHANNEL,
    log: deps.log,
    pollMs: deps.pollMs,
    batchSize: deps.batchSize ?? DEFAULT_BATCH,
    processDue: () => processDueDeliveries(deps),
  });
}
