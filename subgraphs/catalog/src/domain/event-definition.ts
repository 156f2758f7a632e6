import { mutationRule, type Transaction, type UserError } from '@bilten/platform';
import { v7 as uuidv7 } from 'uuid';
import type { MutationContext } from '../context.ts';
import {
  eventVersion,
  insertEvent,
  organizationTakesEvents,
  repriceTicketTypes,
  ticketTypesByEventIds,
  updateEventRow,
} from '../db/queries.ts';
import type { EventRow, events } from '../db/schema.ts';
import { eventRescheduled } from '../events.ts';
import { organizationClosed, requireCaller, requireEventCreator, withEditableEvent } from './access.ts';
import { renderDescription } from './description.ts';
import { columnsOf } from './event-columns.ts';
import { diffOf, type EventSnapshot, record, scheduleOf, snapshotOf } from './history.ts';
import {
  changeRuleErrors,
  createEventInput,
  type EventDefinitionInput,
  eventNotFound,
  eventRuleErrors,
  invalid,
  restoreEventVersionInput,
  updateEventInput,
} from './validation.ts';

/** What the mutations of one event answer. */
export interface EventResult {
  event: EventRow | null;
  errors: UserError[];
  currentVersion?: number | null;
}

export const invalidEvent = (errors: UserError[]): EventResult => ({ event: null, errors });
export const missingEvent = (): EventResult => invalidEvent([eventNotFound(['input', 'id'])]);

export const createEvent = mutationRule(
  { input: createEventInput, caller: requireEventCreator, invalid: invalidEvent },
  async (ctx: MutationContext, { organizationId, ...definition }) => {
    const errors = eventRuleErrors(definition);
    if (errors.length) return invalidEvent(errors);
    const event = await ctx.db.transaction(async (tx) => {
      if (!(await organizationTakesEvents(tx, organizationId))) throw organizationClosed();
      const created = await insertEvent(tx, {
        id: uuidv7(),
        organizationId,
        ...columnsOf({
          ...definition,
          category: definition.category ?? 'OTHER',
          tags: definition.tags ?? [],
          imageIds: definition.imageIds ?? [],
          visibility: definition.visibility ?? 'PUBLIC',
        }),
      } as typeof events.$inferInsert);
      await record(tx, ctx, { action: 'event.created', before: null, event: created });
      return created;
    });
    return { event, errors: [] };
  },
);

const changedSchedule = (before: EventSnapshot, after: EventSnapshot) =>
  (['startsAt', 'endsAt', 'timezone', 'venue', 'onlineUrl'] as const).some(
    (field) => JSON.stringify(before[field]) !== JSON.stringify(after[field]),
  );

/**
 * The one path of every change to an event's definition (updateEvent, restoreEventVersion):
 * a change that changes nothing answers the event as it is (no version, no audit entry); else
 * rules checked on the state after the change, version bumped, version and audit written,
 * `rescheduled` published when a published event moves in time or place.
 */
async function applyDefinition(
  tx: Transaction,
  ctx: MutationContext,
  event: EventRow,
  changes: EventDefinitionInput,
  action: string,
): Promise<EventResult> {
  if (event.status === 'CANCELLED') {
    return invalidEvent([invalid('a cancelled event cannot be changed', ['input', 'id'])]);
  }
  const types = await ticketTypesByEventIds(tx, [event.id]);
  const merged = { ...event, ...columnsOf(changes) } as EventRow;
  const before = snapshotOf(event, types);
  if (Object.keys(diffOf(before, snapshotOf(merged, types))).length === 0) return { event, errors: [] };
  const errors = [...eventRuleErrors(merged), ...changeRuleErrors(event, merged, types)];
  if (changes.currency !== undefined && changes.currency !== event.currency && event.ticketsSold > 0) {
    errors.push(invalid('cannot change once tickets are sold', ['input', 'currency']));
  }
  // The capacity is the quota all ticket types sell from: what is sold already stays sold.
  if (merged.capacity < event.ticketsSold) {
    errors.push(invalid(`cannot be less than the ${event.ticketsSold} tickets sold`, ['input', 'capacity']));
  }
  if (errors.length) return invalidEvent(errors);
  if (merged.currency !== event.currency) await repriceTicketTypes(tx, event.id, merged.currency);
  const updated = await updateEventRow(tx, event.id, columnsOf(changes));
  const after = await record(tx, ctx, { action, before, event: updated });
  if (updated.status === 'PUBLISHED' && changedSchedule(before, after)) {
    await ctx.outbox.publish(tx, eventRescheduled, updated.id, {
      eventId: updated.id,
      organizationId: updated.organizationId,
      title: updated.title,
      ...scheduleOf(after),
      previous: scheduleOf(before),
    });
  }
  return { event: updated, errors: [] };
}

const conflict = (current: number): EventResult => ({
  event: null,
  errors: [
    {
      code: 'CONFLICT',
      message: `the event was changed meanwhile: it is at version ${current}`,
      field: ['input', 'expectedVersion'],
    },
  ],
  currentVersion: current,
});

export const updateEvent = mutationRule(
  { input: updateEventInput, caller: requireCaller, invalid: invalidEvent },
  async (ctx: MutationContext, { id, expectedVersion, ...changes }) =>
    withEditableEvent<EventResult>(
      ctx,
      id,
      async (tx, event) =>
        event.version !== expectedVersion
          ? conflict(event.version)
          : applyDefinition(tx, ctx, event, changes, 'event.updated'),
      missingEvent,
    ),
);

/** A version's details come back as a new version; status and ticket types stay as they are. */
export const restoreEventVersion = mutationRule(
  { input: restoreEventVersionInput, caller: requireCaller, invalid: invalidEvent },
  async (ctx: MutationContext, { eventId, version, expectedVersion }) =>
    withEditableEvent<EventResult>(
      ctx,
      eventId,
      async (tx, event) => {
        if (event.version !== expectedVersion) return conflict(event.version);
        const stored = await eventVersion(tx, eventId, version);
        if (!stored) {
          return invalidEvent([
            { code: 'NOT_FOUND', message: 'no such version', field: ['input', 'version'] },
          ]);
        }
        const snapshot = stored.snapshot as EventSnapshot;
        const { ticketTypes: _types, status: _status, startsAt, endsAt, description, ...rest } = snapshot;
        // Rendered again: what was safe then must still pass today's rules.
        const rendered = description === null ? null : renderDescription(description);
        if (rendered && !rendered.ok) return invalidEvent([invalid(rendered.message, ['input', 'version'])]);
        const changes = {
          ...rest,
          startsAt: new Date(startsAt!),
          endsAt: new Date(endsAt!),
          description: rendered,
        } as EventDefinitionInput;
        return applyDefinition(tx, ctx, event, changes, 'event.restored');
      },
      () => invalidEvent([eventNotFound(['input', 'eventId'])]),
    ),
);
