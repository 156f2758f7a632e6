import type { Database, Transaction } from '@bilten/platform';
import { and, eq, gte, inArray, isNotNull, lt, type SQL, sql } from 'drizzle-orm';
import type { KindName } from '../domain/delivery-rules.ts';
import { suppressAddress } from './deliveries.ts';
import { type Category, type Channel, consents, type DeliveryRow, deliveries } from './schema.ts';

/**
 * Engagement's writes to deliveries. The state only moves forward (SENT < DELIVERED < OPENED <
 * CLICKED, then BOUNCED/COMPLAINED end it) and each timestamp keeps its first value, so a pixel
 * loaded twice or a webhook delivered twice changes nothing.
 */

/** A time as a parameter PostgreSQL can type (a bare Date inside coalesce() is not). */
const timestamp = (at: Date) => sql`${at.toISOString()}::timestamptz`;

/** A mail the transport accepted and that has not ended: what opens, clicks and webhooks may move. */
const LIVE = ['SENT', 'DELIVERED', 'OPENED', 'CLICKED'] as const;

/**
 * Opens and clicks are behaviour, so they are recorded only for a recipient who granted ANALYTICS
 * now (messaging's copy of identity's consents). A guest has no account and so no consent to give:
 * a delivery without a recipient is never tracked.
 */
const analyticsGranted = sql`exists (
  select 1 from ${consents}
  where ${consents.userId} = ${deliveries.recipientId}
    and ${consents.purpose} = 'ANALYTICS' and ${consents.granted})`;

export const recordOpen = (db: Database, deliveryId: string, at: Date) =>
  db
    .update(deliveries)
    .set({
      openedAt: sql`coalesce(${deliveries.openedAt}, ${timestamp(at)})`,
      status: sql`case when ${deliveries.status} in ('SENT', 'DELIVERED') then 'OPENED' else ${deliveries.status} end`,
    })
    .where(and(eq(deliveries.id, deliveryId), isNotNull(deliveries.sentAt), analyticsGranted));

/** A click implies an open: a reader whose mail client blocked the pixel still read it. */
export const recordClick = (db: Database, deliveryId: string, at: Date) =>
  db
    .update(deliveries)
    .set({
      openedAt: sql`coalesce(${deliveries.openedAt}, ${timestamp(at)})`,
      clickedAt: sql`coalesce(${deliveries.clickedAt}, ${timestamp(at)})`,
      status: sql`case when ${deliveries.status} in ('SENT', 'DELIVERED', 'OPENED') then 'CLICKED' else ${deliveries.status} end`,
    })
    .where(and(eq(deliveries.id, deliveryId), isNotNull(deliveries.sentAt), analyticsGranted));

export type TrackedDelivery = Pick<DeliveryRow, 'id' | 'addressHash' | 'channel'>;

/**
 * The delivery a provider names by its message id, locked. Message-IDs come with or without their
 * angle brackets, depending on the provider, so both spellings match.
 */
export function deliveriesByProviderId(
  tx: Transaction,
  channel: Channel,
  providerMessageId: string,
): Promise<TrackedDelivery[]> {
  const bare = providerMessageId.trim().replace(/^<(.*)>$/, '$1');
  return tx
    .select({ id: deliveries.id, addressHash: deliveries.addressHash, channel: deliveries.channel })
    .from(deliveries)
    .where(
      and(
        eq(deliveries.channel, channel),
        inArray(deliveries.providerMessageId, channel === 'EMAIL' ? [bare, `<${bare}>`] : [bare]),
      ),
    )
    .limit(1)
    .for('update');
}

export const applyDelivered = (tx: Transaction, deliveryId: string, at: Date) =>
  tx
    .update(deliveries)
    .set({
      deliveredAt: sql`coalesce(${deliveries.deliveredAt}, ${timestamp(at)})`,
      status: sql`case when ${deliveries.status} = 'SENT' then 'DELIVERED' else ${deliveries.status} end`,
    })
    .where(and(eq(deliveries.id, deliveryId), isNotNull(deliveries.sentAt)));

/** Nothing more goes to this address on this channel (a changed address has another hash). */
const suppress = (
  tx: Transaction,
  delivery: TrackedDelivery,
  reason: 'BOUNCE' | 'COMPLAINT' | 'INVALID_NUMBER',
) =>
  suppressAddress(tx, {
    addressHash: delivery.addressHash,
    channel: delivery.channel,
    reason,
    deliveryId: delivery.id,
  });

/** Ends a live delivery with `status`; one already ended keeps its state. */
const endDelivery = (
  tx: Transaction,
  deliveryId: string,
  status: 'BOUNCED' | 'COMPLAINED' | 'FAILED',
  at: Date,
  lastError: string,
  from: readonly DeliveryRow['status'][] = LIVE,
) =>
  tx
    .update(deliveries)
    .set({ status, endedAt: at, lastError })
    .where(and(eq(deliveries.id, deliveryId), inArray(deliveries.status, [...from])));

export async function applyBounce(tx: Transaction, delivery: TrackedDelivery, at: Date) {
  await endDelivery(tx, delivery.id, 'BOUNCED', at, 'hard bounce reported by the provider');
  await suppress(tx, delivery, 'BOUNCE');
}

export async function applyComplaint(tx: Transaction, delivery: TrackedDelivery, at: Date) {
  await endDelivery(tx, delivery.id, 'COMPLAINED', at, 'marked as spam by the recipient');
  await suppress(tx, delivery, 'COMPLAINT');
}

/** A soft bounce (a full mailbox, a greylisting server): worth knowing, not the address's end. */
export const recordSoftBounce = (tx: Transaction, deliveryId: string) =>
  tx
    .update(deliveries)
    .set({ lastError: 'soft bounce reported by the provider' })
    .where(eq(deliveries.id, deliveryId));

/** The provider could not deliver an SMS it accepted; one it already delivered stays delivered. */
export async function applySmsFailure(
  tx: Transaction,
  delivery: TrackedDelivery,
  detail: string,
  options: { invalidNumber: boolean },
) {
  await endDelivery(tx, delivery.id, 'FAILED', new Date(), `provider: ${detail}`, ['SENT']);
  if (options.invalidNumber) await suppress(tx, delivery, 'INVALID_NUMBER');
}

/** Which deliveries notificationStats counts; unset fields do not filter. */
export interface StatsScope {
  organizationId?: string | undefined;
  kind?: KindName | undefined;
  eventId?: string | undefined;
  channel?: Channel | undefined;
  /** Inclusive. */
  from?: Date | undefined;
  /** Exclusive. */
  to?: Date | undefined;
  /** Only these categories (an organization's admins see what it sends its audience). */
  categories?: Category[] | undefined;
}

const countWhere = (condition: SQL) => sql<number>`(count(*) filter (where ${condition}))::int`;

/**
 * One pass over the scope's deliveries (the (organization_id, created_at) index narrows an
 * organizer's), each counted under every state it reached: an opened mail was also sent.
 */
export async function deliveryStats(db: Database, scope: StatsScope) {
  const conditions = [
    scope.organizationId && eq(deliveries.organizationId, scope.organizationId),
    scope.from && gte(deliveries.createdAt, scope.from),
    scope.to && lt(deliveries.createdAt, scope.to),
    scope.kind && eq(deliveries.kind, scope.kind),
    scope.eventId && eq(deliveries.eventId, scope.eventId),
    scope.channel && eq(deliveries.channel, scope.channel),
    scope.categories && inArray(deliveries.category, scope.categories),
  ].filter((condition): condition is SQL => Boolean(condition));
  const [counts] = await db
    .select({
      queued: countWhere(sql`${deliveries.status} = 'QUEUED'`),
      sent: countWhere(sql`${deliveries.sentAt} is not null`),
      delivered: countWhere(
        sql`${deliveries.deliveredAt} is not null or ${deliveries.openedAt} is not null or ${deliveries.clickedAt} is not null`,
      ),
      opened: countWhere(sql`${deliveries.openedAt} is not null`),
      clicked: countWhere(sql`${deliveries.clickedAt} is not null`),
      bounced: countWhere(sql`${deliveries.status} = 'BOUNCED'`),
      complained: countWhere(sql`${deliveries.status} = 'COMPLAINED'`),
      failed: countWhere(sql`${deliveries.status} = 'FAILED'`),
      suppressed: countWhere(sql`${deliveries.status} = 'SUPPRESSED'`),
    })
    .from(deliveries)
    .where(and(...conditions));
  return counts!;
}
