import {
  decodeCursor,
  encodeCursor,
  isStorableInstant,
  mutationRule,
  pageSize,
  type Transaction,
  type UserError,
} from '@bilten/platform';
import { v7 as uuidv7 } from 'uuid';
import { z } from 'zod';
import type { Context, MutationContext } from '../context.ts';
import {
  insertEvent,
  insertTicketType,
  lockSeries,
  organizationTakesEvents,
  refreshPriceRange,
  type SeriesPage,
  ticketTypesByEventIds,
  updateEventRow,
} from '../db/queries.ts';
import type { EventRow, TicketTypeRow } from '../db/schema.ts';
import { organizationClosed, requireCaller, seesAllEventsOf, withEditableEvent } from './access.ts';
import { type EventResult, invalidEvent, missingEvent } from './event-definition.ts';
import { record, snapshotOf } from './history.ts';
import type { EventPage } from './search.ts';
import { addOccurrencesInput, duplicateEventInput, eventNotFound, invalid } from './validation.ts';

/**
 * Occurrences one series may have, the first included (a year of daily dates), so that calling
 * `addOccurrences` again and again cannot grow a series without end.
 */
const MAX_SERIES_OCCURRENCES = 365;

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
  if (!(await organizationTakesEvents(tx, source.organizationId))) throw organizationClosed();
  const copy = await insertEvent(tx, {
    ...definition,
    id: uuidv7(),
    title: overrides.title ?? source.title,
    startsAt: overrides.startsAt,
    endsAt: new Date(source.endsAt.getTime() + shift),
    seriesId: overrides.seriesId,
  });
  for (const type of types) {
    const {
      id: _typeId,
      eventId: _eventId,
      ticketsSold: _typeSold,
      createdAt: _typeCreated,
      ...fields
    } = type;
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
        // Until it joins a series, the source is a series of one.
        const size = source.seriesId ? await lockSeries(tx, seriesId) : 1;
        if (size + startsAt.length > MAX_SERIES_OCCURRENCES) {
          const room = MAX_SERIES_OCCURRENCES - size;
          return invalidOccurrences([
            invalid(
              `a series has at most ${MAX_SERIES_OCCURRENCES} occurrences: this one has ${size}, so ${room > 0 ? `at most ${room} more` : 'no more'}`,
              ['input', 'startsAt'],
            ),
          ]);
        }
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

/** An occurrences cursor: the start and id of the last one seen (keyset). */
const occurrenceKey = z
  .string()
  .transform((text) => JSON.parse(text) as unknown)
  .pipe(
    z.object({
      startsAt: z.iso.datetime().refine((text) => isStorableInstant(new Date(text))),
      id: z.uuid(),
    }),
  );

/**
 * A page of the occurrences of the event's series the caller may see (drafts only insiders), by
 * start; an event outside a series is its only occurrence.
 */
export async function occurrencesOf(
  ctx: Pick<Context, 'loaders' | 'viewer'>,
  event: EventRow,
  args: { first?: number | null; after?: string | null },
): Promise<EventPage> {
  const size = pageSize(args.first);
  const after = args.after ? decodeCursor(args.after, occurrenceKey) : undefined;
  const withDrafts = seesAllEventsOf(ctx.viewer, event.organizationId);
  const page: SeriesPage = { limit: size + 1, after, withDrafts };
  const { seriesId } = event;
  const rows = seriesId
    ? await ctx.loaders.seriesPage(page).load(seriesId)
    : after
      ? [] // its own cursor, from the first page
      : [event];
  const nodes = rows.slice(0, size);
  const cursorOf = (row: EventRow) =>
    encodeCursor(JSON.stringify({ startsAt: row.startsAt.toISOString(), id: row.id }));
  return {
    edges: nodes.map((node) => ({ cursor: cursorOf(node), node })),
    pageInfo: { hasNextPage: rows.length > size, endCursor: nodes.length ? cursorOf(nodes.at(-1)!) : null },
    count: async () =>
      seriesId ? ((await ctx.loaders.seriesSize(withDrafts).load(seriesId))?.size ?? 0) : 1,
  };
}
