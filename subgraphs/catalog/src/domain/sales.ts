import { eventSalesChanged } from '@bilten/contracts/orders';
import type { EventConsumer, Logger } from '@bilten/platform';
import type { Context } from '../context.ts';
import { setEventTicketsSold, setTicketTypesSold } from '../db/queries.ts';
import type { EventRow, TicketTypeRow } from '../db/schema.ts';
import { seesAllEventsOf } from './access.ts';

/**
 * Catalog's copy of what orders sold, which its rules read (currency lock, unpublish, delete →
 * cancel, capacities, closure). Each message holds absolute counts, applied in sequence order per
 * event and once (the inbox): a late, older count never overwrites a newer one. Sales are not an
 * edit: no version, no audit entry, no offer.
 */
export const salesConsumer = (log: Logger): EventConsumer<typeof eventSalesChanged.payload> => ({
  name: 'event-sales',
  event: eventSalesChanged,
  ordered: true,
  async handle({ id, payload: { eventId, ticketsSold, ticketTypes } }, tx) {
    // The event's row first: every edit locks it, so a rule reads counts that hold until it commits.
    // Only an unsold draft is ever deleted: whatever orders says of it has nothing left to guard.
    if (!(await setEventTicketsSold(tx, eventId, ticketsSold))) {
      log.info({ event: id, eventId }, 'sales of an event catalog does not know, ignored');
      return;
    }
    const updated = new Set(await setTicketTypesSold(tx, eventId, ticketTypes));
    const unknown = ticketTypes.filter((type) => !updated.has(type.ticketTypeId));
    if (unknown.length) {
      log.info(
        { event: id, eventId, ticketTypeIds: unknown.map((type) => type.ticketTypeId) },
        'sales of ticket types catalog does not know, ignored',
      );
    }
  },
});

/** Sales are the organization's business: its members and events:read API keys see them, nobody else. */
export const ticketsSoldOf = (ctx: Pick<Context, 'viewer'>, event: EventRow) =>
  seesAllEventsOf(ctx.viewer, event.organizationId) ? event.ticketsSold : null;

export const ticketTypeSoldOf = async (
  ctx: Pick<Context, 'viewer' | 'loaders'>,
  ticketType: TicketTypeRow,
) => {
  const event = await ctx.loaders.event.load(ticketType.eventId);
  return event && seesAllEventsOf(ctx.viewer, event.organizationId) ? ticketType.ticketsSold : null;
};
