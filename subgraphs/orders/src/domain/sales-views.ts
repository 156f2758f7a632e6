import { personalDataAccessed } from '@bilten/contracts/orders';
import {
  DomainError,
  decodeCursor,
  pageSize,
  reportPersonalDataAccess,
  toConnection,
  type Viewer,
} from '@bilten/platform';
import type { Context } from '../context.ts';
import { type EventOfferRow, ordersOfEvent } from '../db/sales-views.ts';
import type { OrderRow, OrderStatus, TicketRow } from '../db/schema.ts';
import { ordersShowingEmail } from './organizer-sharing.ts';

type ViewContext = Pick<Context, 'viewer' | 'loaders'>;

/** The organization's members (every role is STAFF or more), or its API keys with orders:read. */
export function readsOrdersOf(viewer: Viewer, organizationId: string): boolean {
  if (viewer.kind === 'user') return viewer.organizations[organizationId] !== undefined;
  if (viewer.kind === 'apiKey')
    return viewer.organizationId === organizationId && viewer.scopes.includes('orders:read');
  return false;
}

/** The event's offer copy when the caller may read the event's sales; else null (unknown events alike). */
async function readableOffer(ctx: ViewContext, eventId: string): Promise<EventOfferRow | null> {
  if (ctx.viewer.kind === 'anonymous') return null;
  const offer = await ctx.loaders.offerOfEvent.load(eventId);
  return offer && readsOrdersOf(ctx.viewer, offer.organizationId) ? offer : null;
}

/**
 * `Event.salesSummary`, from orders' tables alone: `sold` is the ticket type's sold count (what
 * reserveTickets counts: paid orders, less fully refunded ones), `held` its tickets in live holds
 * (HELD or CHECKED_OUT, unexpired), `remaining` what a reservation could take now by the same rule
 * as inventory.ts's allocate (within the type's capacity and the event's shared one; 0 for a
 * withdrawn type). `gross` is paid line totals minus refunds (not sold × the current price: a
 * price change leaves what was sold at its price), see db/sales-views.ts.
 */
export async function salesSummary(ctx: ViewContext, eventId: string) {
  const offer = await readableOffer(ctx, eventId);
  if (!offer) return null;
  const [stock, grossByType, gross] = await Promise.all([
    stockOf(ctx, offer),
    ctx.loaders.grossByTicketTypeOfEvent.load(eventId),
    ctx.loaders.grossOfEvent.load(eventId),
  ]);
  const money = (amount: number) => ({ amount, currency: offer.currency });
  const grossOf = new Map(grossByType.map((row) => [row.ticketTypeId, row.gross]));
  return {
    ticketTypes: stock.ticketTypes.map(({ type, held, remaining }) => ({
      ticketType: { id: type.id },
      sold: type.sold,
      held,
      remaining,
      gross: money(grossOf.get(type.id) ?? 0),
    })),
    sold: stock.ticketTypes.reduce((sum, row) => sum + row.type.sold, 0),
    held: stock.ticketTypes.reduce((sum, row) => sum + row.held, 0),
    remaining: stock.remaining,
    gross: money(gross?.gross ?? 0),
  };
}

/**
 * What is held and left of each ticket type of the event, and of the event, by the rule
 * inventory.ts's allocate applies: within the type's capacity and the event's shared one, 0 for
 * a withdrawn type.
 */
async function stockOf(ctx: ViewContext, offer: EventOfferRow) {
  const [types, held] = await Promise.all([
    ctx.loaders.ticketTypesOfEvent.load(offer.eventId),
    ctx.loaders.heldOfEvent.load(offer.eventId),
  ]);
  const heldOf = new Map(held.map((row) => [row.ticketTypeId, row.held]));
  const taken = types.reduce((sum, type) => sum + type.sold + (heldOf.get(type.id) ?? 0), 0);
  const eventLeft = Math.max(0, offer.capacity - taken);
  const rows = types.map((type) => {
    const typeHeld = heldOf.get(type.id) ?? 0;
    const typeLeft = type.withdrawn ? 0 : Math.max(0, type.capacity - type.sold - typeHeld);
    return { type, held: typeHeld, typeLeft, remaining: Math.min(typeLeft, eventLeft) };
  });
  return {
    ticketTypes: rows,
    remaining: Math.min(
      eventLeft,
      rows.reduce((sum, row) => sum + row.typeLeft, 0),
    ),
  };
}

/**
 * `Event.availability`, public: what a reservation could take now of each ticket type on sale
 * (hidden ones only for those who read the event's sales) and of the event; null for an event
 * orders never heard of. The gateway's `ticketAvailability` pushes it.
 */
export async function availability(ctx: ViewContext, eventId: string) {
  const offer = await ctx.loaders.offerOfEvent.load(eventId);
  if (!offer) return null;
  const stock = await stockOf(ctx, offer);
  const seesHidden = ctx.viewer.kind !== 'anonymous' && readsOrdersOf(ctx.viewer, offer.organizationId);
  return {
    remaining: stock.remaining,
    ticketTypes: stock.ticketTypes
      .filter(({ type }) => !type.withdrawn && (seesHidden || !type.hidden))
      .map(({ type, remaining }) => ({ ticketType: { id: type.id }, remaining })),
  };
}

/** `Event.checkInStats`: per ticket type of the event (all of them, zeros included) and in total. */
export async function checkInStats(ctx: ViewContext, eventId: string) {
  if (!(await readableOffer(ctx, eventId))) return null;
  const [types, counts] = await Promise.all([
    ctx.loaders.ticketTypesOfEvent.load(eventId),
    ctx.loaders.checkInsOfEvent.load(eventId),
  ]);
  const countOf = new Map(counts.map((row) => [row.ticketTypeId, row]));
  const rows = types.map((type) => ({
    ticketType: { id: type.id },
    checkedIn: countOf.get(type.id)?.checkedIn ?? 0,
    valid: countOf.get(type.id)?.valid ?? 0,
  }));
  return {
    ticketTypes: rows,
    checkedIn: rows.reduce((sum, row) => sum + row.checkedIn, 0),
    valid: rows.reduce((sum, row) => sum + row.valid, 0),
  };
}

export interface EventOrdersArgs {
  filter?: { status?: OrderStatus | null; email?: string | null; createdAfter?: Date | null } | null;
  first?: number | null;
  after?: string | null;
}

/**
 * `Event.orders`: the event's orders, newest first, by keyset on the id (UUIDv7), filtered by
 * status (as it reads now), the buyer's email (case-insensitively) and creation time.
 */
export async function eventOrders(
  ctx: Pick<Context, 'viewer' | 'loaders' | 'db' | 'outbox' | 'requestId' | 'people'>,
  eventId: string,
  args: EventOrdersArgs,
) {
  if (!(await readableOffer(ctx, eventId))) return null;
  const size = pageSize(args.first);
  const beforeId = args.after ? decodeCursor(args.after) : undefined;
  const email = args.filter?.email?.trim().toLowerCase();
  if (email !== undefined && (email.length === 0 || email.length > 320))
    throw new DomainError('BAD_USER_INPUT', 'filter.email: 1 to 320 characters');
  const rows = await ordersOfEvent(
    ctx.db,
    eventId,
    {
      status: args.filter?.status,
      emailIndex: email === undefined ? undefined : ctx.people.keys.index(email, 'email'),
      createdAfter: args.filter?.createdAfter,
    },
    size + 1,
    beforeId,
  );
  await reportOrderReads(ctx, rows.slice(0, size), 'attendee-list');
  return toConnection(rows, size);
}

/** What an order shows of its buyer and attendees: personal data (issue 18). */
const ORDER_FIELDS = ['buyer.name', 'buyer.email', 'attendees'];
/** The same to an organization the buyer does not share their email with (organizer-sharing.ts). */
const ORDER_FIELDS_WITHOUT_EMAIL = ['buyer.name', 'attendees'];

/**
 * Records in identity's access log that the caller read these orders' buyers' data, unless it is
 * their own; `purpose` says why (`attendee-list`, `order`), a platform admin's is `admin-review`.
 * Guest orders have no account to name, so they are not recorded.
 */
export async function reportOrderReads(
  ctx: Pick<Context, 'viewer' | 'db' | 'outbox' | 'requestId'>,
  orders: OrderRow[],
  purpose: string,
) {
  const byAdmin =
    ctx.viewer.kind === 'user' &&
    ctx.viewer.roles.includes('ADMIN') &&
    !orders.every((order) => readsOrdersOf(ctx.viewer, order.organizationId));
  const showingEmail = await ordersShowingEmail(ctx, orders);
  await reportPersonalDataAccess(
    ctx,
    personalDataAccessed,
    ...orders.flatMap((order) =>
      order.buyerId
        ? [
            {
              subjectUserId: order.buyerId,
              organizationId: order.organizationId,
              purpose: byAdmin ? 'admin-review' : purpose,
              fields: showingEmail.has(order.id) ? ORDER_FIELDS : ORDER_FIELDS_WITHOUT_EMAIL,
              resource: `order:${order.id}`,
            },
          ]
        : [],
    ),
  );
}

/**
 * Records that door staff (or an admin) saw these tickets' attendee names, as the buyer's data
 * (issue 18). Tickets given away are their recipients', who have no account here to name, and
 * guest orders none either: both are left out.
 */
export async function reportTicketReads(
  ctx: Pick<Context, 'viewer' | 'db' | 'outbox' | 'requestId' | 'loaders'>,
  tickets: TicketRow[],
  purpose: string,
) {
  const orders = await Promise.all(tickets.map((ticket) => ctx.loaders.order.load(ticket.orderId)));
  await reportPersonalDataAccess(
    ctx,
    personalDataAccessed,
    ...tickets.flatMap((ticket, at) => {
      const buyerId = orders[at]?.buyerId;
      if (!buyerId || ticket.holderEmailIndex !== null) return [];
      const resource = `ticket:${ticket.id}`;
      return [
        {
          subjectUserId: buyerId,
          organizationId: ticket.organizationId,
          purpose,
          fields: ['attendeeName'],
          resource,
        },
      ];
    }),
  );
}
