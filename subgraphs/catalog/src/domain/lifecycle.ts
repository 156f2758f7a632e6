import { mutationRule, type Transaction, type UserError } from '@bilten/platform';
import type { MutationContext } from '../context.ts';
import { deleteEventRow, ticketTypesByEventIds, updateEventRow } from '../db/queries.ts';
import type { EventRow } from '../db/schema.ts';
import { eventCancelled, eventPublished } from '../events.ts';
import { requireCaller, withEditableEvent } from './access.ts';
import { type EventResult, invalidEvent, missingEvent } from './event-definition.ts';
import { record, scheduleOf, snapshotOf, writeAudit } from './history.ts';
import { cancelEventInput, idInput, invalid } from './validation.ts';

/** DRAFT → PUBLISHED; publishing a published event again changes nothing. */
export const publishEvent = mutationRule(
  { input: idInput, caller: requireCaller, invalid: invalidEvent },
  async (ctx: MutationContext, { id }) =>
    withEditableEvent<EventResult>(
      ctx,
      id,
      async (tx, event) => {
        if (event.status === 'PUBLISHED') return { event, errors: [] };
        if (event.status !== 'DRAFT') {
          return invalidEvent([
            invalid(`a ${event.status.toLowerCase()} event cannot be published`, ['input', 'id']),
          ]);
        }
        const types = await ticketTypesByEventIds(tx, [event.id]);
        const errors: UserError[] = [];
        if (event.startsAt <= new Date())
          errors.push(invalid('must be in the future to publish', ['event', 'startsAt']));
        if (types.length === 0)
          errors.push(invalid('add at least one ticket type before publishing', ['event', 'ticketTypes']));
        if (!event.venueName && !event.onlineUrl) {
          errors.push(invalid('give a venue or an online URL before publishing', ['event', 'venue']));
        }
        if (errors.length) return invalidEvent(errors);
        const before = snapshotOf(event, types);
        const published = await updateEventRow(tx, event.id, {
          status: 'PUBLISHED',
          publishedAt: new Date(),
        });
        const after = await record(tx, ctx, { action: 'event.published', before, event: published });
        await ctx.outbox.publish(tx, eventPublished, published.id, {
          eventId: published.id,
          organizationId: published.organizationId,
          title: published.title,
          visibility: published.visibility,
          ...scheduleOf(after),
        });
        return { event: published, errors: [] };
      },
      missingEvent,
    ),
);

/** PUBLISHED → DRAFT, while nobody holds a ticket. */
export const unpublishEvent = mutationRule(
  { input: idInput, caller: requireCaller, invalid: invalidEvent },
  async (ctx: MutationContext, { id }) =>
    withEditableEvent<EventResult>(
      ctx,
      id,
      async (tx, event) => {
        if (event.status === 'DRAFT') return { event, errors: [] };
        if (event.status !== 'PUBLISHED') {
          return invalidEvent([
            invalid(`a ${event.status.toLowerCase()} event cannot be unpublished`, ['input', 'id']),
          ]);
        }
        if (event.ticketsSold > 0) {
          return invalidEvent([invalid('tickets are sold: cancel the event instead', ['input', 'id'])]);
        }
        const before = snapshotOf(event, await ticketTypesByEventIds(tx, [event.id]));
        const draft = await updateEventRow(tx, event.id, { status: 'DRAFT', publishedAt: null });
        await record(tx, ctx, { action: 'event.unpublished', before, event: draft });
        return { event: draft, errors: [] };
      },
      missingEvent,
    ),
);

/** Cancels an event its caller has locked: version, audit entry and `cancelled` for orders to refund. */
export async function cancel(
  tx: Transaction,
  ctx: MutationContext,
  event: EventRow,
  reason: string | null,
  action: string,
) {
  const before = snapshotOf(event, await ticketTypesByEventIds(tx, [event.id]));
  const cancelled = await updateEventRow(tx, event.id, { status: 'CANCELLED', cancelledAt: new Date() });
  await record(tx, ctx, { action, before, event: cancelled });
  await ctx.outbox.publish(tx, eventCancelled, cancelled.id, {
    eventId: cancelled.id,
    organizationId: cancelled.organizationId,
    title: cancelled.title,
    reason,
    ticketsSold: cancelled.ticketsSold,
  });
  return cancelled;
}

/** DRAFT or PUBLISHED → CANCELLED, for good; cancelling again changes nothing. */
export const cancelEvent = mutationRule(
  { input: cancelEventInput, caller: requireCaller, invalid: invalidEvent },
  async (ctx: MutationContext, { id, reason }) =>
    withEditableEvent<EventResult>(
      ctx,
      id,
      async (tx, event) => {
        if (event.status === 'CANCELLED') return { event, errors: [] };
        if (event.endsAt <= new Date()) {
          return invalidEvent([invalid('an event that has ended cannot be cancelled', ['input', 'id'])]);
        }
        return { event: await cancel(tx, ctx, event, reason ?? null, 'event.cancelled'), errors: [] };
      },
      missingEvent,
    ),
);

export interface DeleteResult {
  deletedEventId: string | null;
  event: EventRow | null;
  errors: UserError[];
}

/**
 * A draft nobody bought a ticket for disappears with its ticket types and versions (the audit
 * entry keeps its last state); anything else is cancelled instead, so orders can refund.
 * Repeating it finds nothing to do and answers the same.
 */
export const deleteEvent = mutationRule(
  {
    input: idInput,
    caller: requireCaller,
    invalid: (errors): DeleteResult => ({ deletedEventId: null, event: null, errors }),
  },
  async (ctx: MutationContext, { id }) =>
    withEditableEvent<DeleteResult>(
      ctx,
      id,
      async (tx, event) => {
        if (event.status === 'CANCELLED') return { deletedEventId: null, event, errors: [] };
        if (event.status === 'DRAFT' && event.ticketsSold === 0) {
          const before = snapshotOf(event, await ticketTypesByEventIds(tx, [event.id]));
          await deleteEventRow(tx, event.id);
          await writeAudit(tx, ctx, {
            action: 'event.deleted',
            scopeId: event.organizationId,
            targetType: 'event',
            targetId: event.id,
            before: { version: event.version, ...before },
            after: null,
          });
          return { deletedEventId: event.id, event: null, errors: [] };
        }
        return {
          deletedEventId: null,
          event: await cancel(tx, ctx, event, null, 'event.deleted_as_cancelled'),
          errors: [],
        };
      },
      () => ({ deletedEventId: id, event: null, errors: [] }),
    ),
);
