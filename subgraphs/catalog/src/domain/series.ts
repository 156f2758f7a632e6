import { isStorableInstant, mutationRule, type Transaction, type UserError } from '@bilten/platform';
import { v7 as uuidv7 } from 'uuid';
import type { MutationContext } from '../context.ts';
import {
  insertEvent,
  insertTicketType,
  refreshPriceRange,
  ticketTypesByEventIds,
  updateEventRow,
} from '../db/queries.ts';
import type { EventRow, TicketTypeRow } from '../db/schema.ts';
import { requireCaller, withEditableEvent } from './access.ts';
import { type EventResult, invalidEvent, missingEvent } from './event-definition.ts';
import { record, snapshotOf } from './history.ts';
import { addOccurrencesInput, duplicateEventInput, eventNotFound, invalid } from './validation.ts';

/**
 * Whether a copy of `source` (with its ticket types) moved to start at `startsAt` keeps its end
 * and sales windows within the years 1–9999; else it could not be stored or read back.
 */
function copyFits(source: EventRow, types: TicketTypeRow[], startsAt: Date): boolean {
  const shift = startsAt.getTime() - source.startsAt.getTime();
  return [source.endsAt, ...types.flatMap((type) => [type.salesStartAt, type.salesEndAt])].every(
    (instant) => !instant || isStorableInstant(new Date(instant.getTime() + shift)),
  );
}

const copyOutOfRange = (field: string[]) =>
  invalid('the copy would end or sell tickets outside the years 1–9999', field);

/** Copies the definition and ticket types of `source` into a new draft starting at `startsAt`. */
async function copyEvent(
  tx: Transaction,
  ctx: MutationContext,
  source: EventRow,
  types: TicketTypeRow[],
  overrides: { title?: string; startsAt: Date; seriesId: string | null },
  action: string,
): Promise<EventRow> {
  const shift = overrides.startsAt.getTime() - source.startsAt.getTime();
  const {
    id: _id,
    status: _status,
    version: _version,
    ticketsSold: _sold,
    publishedAt: _published,
    cancelledAt: _cancelled,
    createdAt: _created,
    updatedAt: _updated,
    ...definition
  } = source;
  const copy = await insertEvent(tx, {
    ...definition,
    id: uuidv7(),
    title: overrides.title ?? source.title,
    startsAt: overrides.startsAt,
    endsAt: new Date(source.endsAt.getTime() + shift),
    seriesId: overrides.seriesId,
  });
  for (const type of types) {
    const { id: _typeId, eventId: _eventId, createdAt: _typeCreated, ...fields } = type;
    await insertTicketType(tx, {
      ...fields,
      id: uuidv7(),
      eventId: copy.id,
      salesStartAt: fields.salesStartAt && new Date(fields.salesStartAt.getTime() + shift),
      salesEndAt: fields.salesEndAt && new Date(fields.salesEndAt.getTime() + shift),
    });
  }
  await refreshPriceRange(tx, copy.id);
  await record(tx, ctx, { action, before: null, event: copy });
  return copy;
}

export const duplicateEvent = mutationRule(
  { input: duplicateEventInput, caller: requireCaller, invalid: invalidEvent },
  async (ctx: MutationContext, { id, title, startsAt }) =>
    withEditableEvent<EventResult>(
      ctx,
      id,
      async (tx, source) => {
        const types = await ticketTypesByEventIds(tx, [source.id]);
        const start = startsAt ?? source.startsAt;
        if (!copyFits(source, types, start)) return invalidEvent([copyOutOfRange(['input', 'startsAt'])]);
        const overrides = { title: title ?? undefined, startsAt: start, seriesId: null };
        return { event: await copyEvent(tx, ctx, source, types, overrides, 'event.duplicated'), errors: [] };
      },
      missingEvent,
    ),
);

export interface OccurrencesResult {
  occurrences: EventRow[];
  errors: UserError[];
}

const invalidOccurrences = (errors: UserError[]): OccurrencesResult => ({ occurrences: [], errors });

/**
 * A recurring event is a series of ordinary events (each with its own date, status and
 * inventory) that share a series id; new occurrences copy the given one's definition.
 */
export const addOccurrences = mutationRule(
  { input: addOccurrencesInput, caller: requireCaller, invalid: invalidOccurrences },
  async (ctx: MutationContext, { eventId, startsAt }) =>
    withEditableEvent<OccurrencesResult>(
      ctx,
      eventId,
      async (tx, source) => {
        const types = await ticketTypesByEventIds(tx, [source.id]);
        const outside = startsAt.findIndex((start) => !copyFits(source, types, start));
        if (outside >= 0) return invalidOccurrences([copyOutOfRange(['input', 'startsAt', String(outside)])]);
        const seriesId = source.seriesId ?? source.id;
        if (!source.seriesId) {
          // The source becomes the series' first occurrence: a change of its own, recorded as such.
          const before = snapshotOf(source, types);
          const head = await updateEventRow(tx, source.id, { seriesId });
          await record(tx, ctx, { action: 'event.series_started', before, event: head });
        }
        const occurrences: EventRow[] = [];
        for (const start of [...startsAt].sort((a, b) => a.getTime() - b.getTime())) {
          occurrences.push(
            await copyEvent(tx, ctx, source, types, { startsAt: start, seriesId }, 'event.occurrence_added'),
          );
        }
        return { occurrences, errors: [] };
      },
      () => invalidOccurrences([eventNotFound(['input', 'eventId'])]),
    ),
);
