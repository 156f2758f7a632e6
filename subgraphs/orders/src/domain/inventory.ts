import type { UserError } from '@bilten/platform';
import type { OfferRow, OfferTicketTypeRow } from '../db/schema.ts';

export interface WantedItem {
  ticketTypeId: string;
  quantity: number;
}

/**
 * Tickets of one type held right now, all buyers together and the asking buyer's own, and what
 * the buyer bought and kept of it (paid orders): the per-buyer limit counts both.
 */
export interface Holds {
  held: number;
  heldByBuyer: number;
  boughtByBuyer?: number;
}

/** Who waits on the event's waiting list (db/waiting-list.ts `waitedFor`): released stock is theirs first. */
export interface Waiting {
  anyType: boolean;
  ticketTypeIds: Set<string>;
}

export const NOBODY_WAITING: Waiting = { anyType: false, ticketTypeIds: new Set() };

export interface HeldLine extends WantedItem {
  unitPriceAmount: number;
}

/** GraphQL's `Int`, the most a `Money.amount` can say. */
const MAX_AMOUNT = 2_147_483_647;

const invalid = (message: string, field: string[]): UserError => ({ code: 'INVALID_INPUT', message, field });

/** An event orders never heard of (catalog announces an offer when it is published). */
export const eventNotOnSale: UserError = {
  code: 'NOT_FOUND',
  message: 'no such event on sale',
  field: ['input', 'eventId'],
};

/** Why nothing of this event can be reserved now, if so: unpublished, cancelled or over. */
export function offerRefusal(offer: OfferRow, now: Date): UserError | null {
  // A draft is nobody's business but its organizer's, as in catalog: it answers as an unknown id.
  if (offer.status === 'DRAFT') return eventNotOnSale;
  if (offer.status === 'CANCELLED') return invalid('the event is cancelled', ['input', 'eventId']);
  if (offer.status === 'ENDED' || offer.endsAt <= now)
    return invalid('the event is over', ['input', 'eventId']);
  return null;
}

/**
 * The lines to hold, or every reason why not. Stock is what neither sales nor live holds took,
 * of the ticket type and of the event's shared quota (`sold + held ≤ capacity` for both); the
 * caller must have locked the offer, so that nothing changes these numbers until it commits.
 */
export function allocate(
  offer: OfferRow,
  types: OfferTicketTypeRow[],
  holds: Map<string, Holds>,
  wanted: WantedItem[],
  buyer: { organizations: Record<string, unknown> },
  now: Date,
  waiting: Waiting = NOBODY_WAITING,
): { lines: HeldLine[]; errors: UserError[] } {
  const byId = new Map(types.map((type) => [type.id, type]));
  const heldOf = (id: string) => holds.get(id) ?? { held: 0, heldByBuyer: 0 };
  const taken = types.reduce((sum, type) => sum + type.sold + heldOf(type.id).held, 0);
  let eventLeft = offer.capacity - taken;
  const lines: HeldLine[] = [];
  const errors: UserError[] = [];
  wanted.forEach(({ ticketTypeId, quantity }, index) => {
    const at = (name: string) => ['input', 'items', String(index), name];
    const type = byId.get(ticketTypeId);
    // Hidden ticket types are sold to the organization's members only, who alone see them in catalog.
    if (!type || type.withdrawn || (type.hidden && !(offer.organizationId in buyer.organizations))) {
      errors.push(invalid('not a ticket type on sale for this event', at('ticketTypeId')));
      return;
    }
    // While people wait for this ticket type (or for any), what comes back is offered to them in
    // turn (waiting-list.ts): a new reservation cannot take it.
    if (waiting.anyType || waiting.ticketTypeIds.has(type.id)) {
      errors.push({
        code: 'SOLD_OUT',
        message: `“${type.name}” is sold out; the waiting list goes first`,
        field: at('quantity'),
      });
      return;
    }
    const { heldByBuyer, boughtByBuyer = 0 } = heldOf(type.id);
    const problem = orderLimitProblem(type, quantity, heldByBuyer + boughtByBuyer, now);
    if (problem) {
      errors.push(invalid(problem.message, at(problem.field)));
      return;
    }
    const left = Math.max(0, Math.min(type.capacity - type.sold - heldOf(type.id).held, eventLeft));
    if (quantity > left) {
      errors.push({
        code: 'SOLD_OUT',
        message: left ? `only ${left} left of “${type.name}”` : `“${type.name}” is sold out (0 left)`,
        field: at('quantity'),
      });
      return;
    }
    eventLeft -= quantity;
    lines.push({ ticketTypeId, quantity, unitPriceAmount: type.priceAmount });
  });
  const total = lines.reduce((sum, line) => sum + line.quantity * line.unitPriceAmount, 0);
  if (total > MAX_AMOUNT)
    errors.push(invalid('the total is too large for one reservation', ['input', 'items']));
  return { lines: errors.length ? [] : lines, errors };
}

/** The ticket type's own limits on one order: sales window, min/max per order, most per buyer. */
function orderLimitProblem(
  type: OfferTicketTypeRow,
  quantity: number,
  takenByBuyer: number,
  now: Date,
): { message: string; field: string } | null {
  if (type.salesStartAt && now < type.salesStartAt)
    return { message: `sales open at ${type.salesStartAt.toISOString()}`, field: 'ticketTypeId' };
  if (type.salesEndAt && now >= type.salesEndAt)
    return { message: `sales closed at ${type.salesEndAt.toISOString()}`, field: 'ticketTypeId' };
  if (quantity < type.minPerOrder)
    return { message: `at least ${type.minPerOrder} per order`, field: 'quantity' };
  if (quantity > type.maxPerOrder)
    return { message: `at most ${type.maxPerOrder} per order`, field: 'quantity' };
  if (type.maxPerBuyer !== null && takenByBuyer + quantity > type.maxPerBuyer)
    return { message: perBuyerLimitMessage(type.maxPerBuyer, takenByBuyer), field: 'quantity' };
  return null;
}

export const perBuyerLimitMessage = (maxPerBuyer: number, taken: number) =>
  `at most ${maxPerBuyer} per buyer for this event; you hold or bought ${taken} already`;
