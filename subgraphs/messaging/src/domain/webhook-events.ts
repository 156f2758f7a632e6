import { eventCancelled, eventPublished, eventRescheduled } from '@bilten/contracts/catalog';
import { orderCreated, orderPaid, orderStatusChanged, ticketCheckedIn } from '@bilten/contracts/orders';
import type { EventConsumer, EventDefinition, Transaction } from '@bilten/platform';
import { v7 as uuidv7 } from 'uuid';
import type { z } from 'zod';
import { insertWebhookDeliveries, notifyWebhookWorkers, subscribedEndpoints } from '../db/webhooks.ts';

/**
 * What an organization's webhook endpoints can receive, each made from a domain event messaging
 * consumes. Every one of those carries its organization (`organizationId`), so no lookup is
 * needed; the data is what the organization may already read through the API: ids, statuses,
 * amounts and schedules, never the buyers' personal data nor ticket links.
 */
export const WEBHOOK_EVENT_TYPES = [
  'order.created',
  'order.paid',
  'order.refunded',
  'ticket.checked_in',
  'event.published',
  'event.rescheduled',
  'event.cancelled',
] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

/** `webhookEventTypes`: anyone may know them. */
export const webhookEventTypes = () => [...WEBHOOK_EVENT_TYPES];

/** The `webhook-id` of every delivery made from one domain event, replays included. */
export const messageIdOf = (sourceEventId: string) => `msg_${sourceEventId}`;

/** The body sent: `{ type, timestamp, data }`, the timestamp being when the domain event happened. */
export const webhookBody = (type: WebhookEventType, timestamp: string, data: Record<string, unknown>) =>
  JSON.stringify({ type, timestamp, data });

/**
 * One delivery per enabled endpoint of the organization that receives `type`, in the consumer's
 * transaction; a redelivered domain event finds its rows (unique per source event and endpoint)
 * and adds none. Wakes the workers on commit.
 */
export async function fanOutWebhook(
  tx: Transaction,
  source: { id: string; occurredAt: string },
  message: { type: WebhookEventType; organizationId: string; data: Record<string, unknown> },
): Promise<number> {
  const endpoints = await subscribedEndpoints(tx, message.organizationId, message.type);
  if (!endpoints.length) return 0;
  const payload = webhookBody(message.type, source.occurredAt, message.data);
  const inserted = await insertWebhookDeliveries(
    tx,
    endpoints.map((endpoint) => ({
      id: uuidv7(),
      endpointId: endpoint.id,
      organizationId: message.organizationId,
      sourceEventId: source.id,
      messageId: messageIdOf(source.id),
      eventType: message.type,
      payload,
    })),
  );
  if (inserted) await notifyWebhookWorkers(tx);
  return inserted;
}

/** A consumer of `event` that sends what `toMessage` makes of it (null: nothing to send). */
function webhookConsumer<S extends z.ZodType>(
  name: string,
  event: EventDefinition<S>,
  type: WebhookEventType,
  toData: (payload: z.output<S>) => Record<string, unknown> | null,
): EventConsumer {
  const consumer: EventConsumer<S> = {
    name: `webhooks-${name}`,
    event,
    groupCommit: true,
    async handle(domainEvent, tx) {
      const data = toData(domainEvent.payload);
      if (!data) return;
      await fanOutWebhook(tx, domainEvent, {
        type,
        organizationId: (domainEvent.payload as { organizationId: string }).organizationId,
        data,
      });
    },
  };
  return consumer as unknown as EventConsumer;
}

const REFUNDED = new Set(['REFUNDED', 'PARTIALLY_REFUNDED']);

/** One consumer per domain event a webhook is made from; each idempotent (inbox, and the unique fan-out). */
export function webhookConsumers(): EventConsumer[] {
  return [
    webhookConsumer('order-created', orderCreated, 'order.created', (order) => ({
      orderId: order.orderId,
      eventId: order.eventId,
      organizationId: order.organizationId,
      status: 'PENDING_PAYMENT',
      lines: order.lines,
      subtotal: order.subtotal,
      fees: order.fees,
      taxes: order.taxes,
      total: order.total,
      expiresAt: order.expiresAt,
    })),
    webhookConsumer('order-paid', orderPaid, 'order.paid', (order) => ({
      orderId: order.orderId,
      eventId: order.eventId,
      organizationId: order.organizationId,
      status: 'PAID',
      total: order.total,
      // The ids only: each ticket's sealed link token is its holder's alone.
      ticketIds: order.tickets.map((ticket) => ticket.ticketId),
    })),
    webhookConsumer('order-refunded', orderStatusChanged, 'order.refunded', (change) =>
      REFUNDED.has(change.status)
        ? {
            orderId: change.orderId,
            eventId: change.eventId,
            organizationId: change.organizationId,
            status: change.status,
            previousStatus: change.from,
          }
        : null,
    ),
    webhookConsumer('ticket-checked-in', ticketCheckedIn, 'ticket.checked_in', (ticket) => ({ ...ticket })),
    webhookConsumer('event-published', eventPublished, 'event.published', (event) => ({
      eventId: event.eventId,
      organizationId: event.organizationId,
      title: event.title,
      visibility: event.visibility,
      startsAt: event.startsAt,
      endsAt: event.endsAt,
      timezone: event.timezone,
      venue: event.venue,
      onlineUrl: event.onlineUrl,
    })),
    webhookConsumer('event-rescheduled', eventRescheduled, 'event.rescheduled', (event) => ({
      eventId: event.eventId,
      organizationId: event.organizationId,
      title: event.title,
      startsAt: event.startsAt,
      endsAt: event.endsAt,
      timezone: event.timezone,
      venue: event.venue,
      onlineUrl: event.onlineUrl,
      previous: event.previous,
    })),
    webhookConsumer('event-cancelled', eventCancelled, 'event.cancelled', (event) => ({
      eventId: event.eventId,
      organizationId: event.organizationId,
      title: event.title,
      reason: event.reason,
      ticketsSold: event.ticketsSold,
    })),
  ];
}
