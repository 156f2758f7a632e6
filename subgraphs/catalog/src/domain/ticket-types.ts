import { mutationRule, type UserError } from '@bilten/platform';
import { v7 as uuidv7 } from 'uuid';
import type { Context, MutationContext } from '../context.ts';
import {
  insertTicketType,
  ticketTypesByEventIds,
  ticketTypesByIds,
  updateEventRow,
  updateTicketTypeRow,
} from '../db/queries.ts';
import type { EventRow, TicketTypeRow } from '../db/schema.ts';
import { requireCaller, withEditableEvent } from './access.ts';
import { record, snapshotOf } from './history.ts';
import {
  addTicketTypeInput,
  eventNotFound,
  invalid,
  salesWindowErrors,
  updateTicketTypeInput,
} from './validation.ts';

export interface TicketTypeResult {
  ticketType: TicketTypeRow | null;
  errors: UserError[];
}

/** The event of a ticket type the caller sees (so they see the event too). */
export const eventOfTicketType = async (ctx: Pick<Context, 'loaders'>, ticketType: TicketTypeRow) =>
  (await ctx.loaders.event.load(ticketType.eventId))!;

const invalidTicketType = (errors: UserError[]): TicketTypeResult => ({ ticketType: null, errors });

/**
 * Ticket types one event may have, hidden ones included: enough for a festival's days × tiers.
 * `Event.ticketTypes` declares it as its size, which the gateway's query cost counts for every
 * event of a page (a search page of 20 with prices costs about 3 100 of 5 000).
 */
const MAX_TICKET_TYPES = 30;

const cancelledEventErrors = (event: EventRow): UserError[] =>
  event.status === 'CANCELLED' ? [invalid('a cancelled event cannot be changed', ['input', 'eventId'])] : [];

const foreignCurrency = (event: EventRow) =>
  invalid(`must be in the event's currency ${event.currency}`, ['input', 'price', 'currency']);

export const addTicketType = mutationRule(
  { input: addTicketTypeInput, caller: requireCaller, invalid: invalidTicketType },
  async (ctx: MutationContext, { eventId, price, ...fields }) =>
    withEditableEvent<TicketTypeResult>(
      ctx,
      eventId,
      async (tx, event) => {
        const row = {
          ...fields,
          salesStartAt: fields.salesStartAt ?? null,
          salesEndAt: fields.salesEndAt ?? null,
          minPerOrder: fields.minPerOrder ?? 1,
          maxPerOrder: fields.maxPerOrder ?? 10,
          maxPerBuyer: fields.maxPerBuyer ?? null,
          transferable: fields.transferable ?? true,
          hidden: fields.hidden ?? false,
          sortOrder: fields.sortOrder ?? 0,
        };
        const errors = [...cancelledEventErrors(event), ...salesWindowErrors(row, event)];
        if (price.currency !== event.currency) errors.push(foreignCurrency(event));
        const existing = await ticketTypesByEventIds(tx, [event.id]);
        if (existing.length >= MAX_TICKET_TYPES)
          errors.push(invalid(`an event has at most ${MAX_TICKET_TYPES} ticket types`, ['input', 'eventId']));
        if (errors.length) return invalidTicketType(errors);
        const before = snapshotOf(event, existing);
        const ticketType = await insertTicketType(tx, {
          id: uuidv7(),
          eventId,
          ...row,
          priceAmount: price.amount,
          priceCurrency: price.currency,
        });
        const updated = await updateEventRow(tx, event.id, {});
        await record(tx, ctx, {
          action: 'ticket_type.added',
          before,
          event: updated,
          auditTarget: { type: 'ticket_type', id: ticketType.id, before: null, after: ticketType },
        });
        return { ticketType, errors: [] };
      },
      () => invalidTicketType([eventNotFound(['input', 'eventId'])]),
    ),
);

export const updateTicketType = mutationRule(
  { input: updateTicketTypeInput, caller: requireCaller, invalid: invalidTicketType },
  async (ctx: MutationContext, { id, price, ...fields }) => {
    const missing = () =>
      invalidTicketType([{ code: 'NOT_FOUND', message: 'no such ticket type', field: ['input', 'id'] }]);
    const [existing] = await ticketTypesByIds(ctx.db, [id]);
    if (!existing) return missing();
    return withEditableEvent<TicketTypeResult>(
      ctx,
      existing.eventId,
      async (tx, event) => {
        // Read again under the event's lock: it may have changed since.
        const [current] = await ticketTypesByIds(tx, [id]);
        if (!current) return missing();
        const merged = { ...current, ...fields };
        const errors = [...cancelledEventErrors(event), ...salesWindowErrors(merged, event)];
        if (price && price.currency !== event.currency) errors.push(foreignCurrency(event));
        // What is sold stays sold: orders stops selling at the capacity, it never takes tickets back.
        if (merged.capacity < current.ticketsSold) {
          errors.push(
            invalid(`cannot be less than the ${current.ticketsSold} tickets sold`, ['input', 'capacity']),
          );
        }
        if (errors.length) return invalidTicketType(errors);
        const before = snapshotOf(event, await ticketTypesByEventIds(tx, [event.id]));
        const ticketType = await updateTicketTypeRow(tx, id, {
          ...fields,
          ...(price ? { priceAmount: price.amount, priceCurrency: price.currency } : {}),
        });
        const updated = await updateEventRow(tx, event.id, {});
        await record(tx, ctx, {
          action: 'ticket_type.updated',
          before,
          event: updated,
          auditTarget: { type: 'ticket_type', id, before: current, after: ticketType },
        });
        return { ticketType, errors: [] };
      },
      missing,
    );
  },
);
