import type { Database } from '@bilten/platform';
import { and, desc, eq, getTableColumns, inArray, lt, type SQL, sql } from 'drizzle-orm';
import {
  type OrderStatus,
  offers,
  offerTicketTypes,
  orderRecords,
  reservationItems,
  reservations,
  tickets,
} from './schema.ts';

// The organizer's views of events (domain/sales-views.ts): each query takes many events at once,
// for the loaders of a list of events.

export const offersByEventIds = (db: Database, eventIds: string[]) =>
  db
    .select({
      eventId: offers.eventId,
      organizationId: offers.organizationId,
      capacity: offers.capacity,
      currency: offers.currency,
    })
    .from(offers)
    .where(inArray(offers.eventId, eventIds));

export type EventOfferRow = Awaited<ReturnType<typeof offersByEventIds>>[number];

/** Every ticket type of the events, withdrawn ones included (their sales and holds still count). */
export const ticketTypesOfEvents = (db: Database, eventIds: string[]) =>
  db
    .select()
    .from(offerTicketTypes)
    .where(inArray(offerTicketTypes.eventId, eventIds))
    .orderBy(offerTicketTypes.id);

/**
 * Tickets held right now per ticket type: a hold counts while HELD or CHECKED_OUT (its order is
 * waiting for payment) and unexpired, the rule schema.ts states for stock. Once paid the hold is
 * PURCHASED and its tickets count as `sold` instead.
 */
export const heldOfEvents = (db: Database, eventIds: string[]) =>
  db
    .select({
      eventId: reservations.eventId,
      ticketTypeId: reservationItems.ticketTypeId,
      held: sql<number>`sum(${reservationItems.quantity})::int`,
    })
    .from(reservationItems)
    .innerJoin(reservations, eq(reservations.id, reservationItems.reservationId))
    .where(
      and(
        inArray(reservations.eventId, eventIds),
        sql`${reservations.status} in ('HELD', 'CHECKED_OUT') and ${reservations.expiresAt} > statement_timestamp()`,
      ),
    )
    .groupBy(reservations.eventId, reservationItems.ticketTypeId);

const paidOrder = sql`${orderRecords.status} in ('PAID', 'PARTIALLY_REFUNDED')`;

/**
 * Gross per ticket type: the line totals of paid orders (PAID, PARTIALLY_REFUNDED; a REFUNDED one
 * nets nothing) minus what was refunded of them, each order's refunds shared among its lines by
 * their subtotals, rounded down (so the per-type figures may add up to a few minor units more than
 * the event's `gross` from grossOfEvents).
 */
export const grossByTicketTypeOfEvents = (db: Database, eventIds: string[]) =>
  db
    .select({
      eventId: orderRecords.eventId,
      ticketTypeId: reservationItems.ticketTypeId,
      gross: sql<number>`coalesce(sum(
        ${reservationItems.quantity}::bigint * ${reservationItems.unitPriceAmount}
        - least(${orderRecords.refundedAmount}, ${orderRecords.subtotalAmount})::bigint
          * ${reservationItems.quantity} * ${reservationItems.unitPriceAmount}
          / nullif(${orderRecords.subtotalAmount}, 0)
      ), 0)::bigint`.mapWith(Number),
    })
    .from(orderRecords)
    .innerJoin(reservationItems, eq(reservationItems.reservationId, orderRecords.reservationId))
    .where(and(inArray(orderRecords.eventId, eventIds), paidOrder))
    .groupBy(orderRecords.eventId, reservationItems.ticketTypeId);

/** The event's gross, exactly: Σ over paid orders of their line totals minus their refunds. */
export const grossOfEvents = (db: Database, eventIds: string[]) =>
  db
    .select({
      eventId: orderRecords.eventId,
      gross: sql<number>`coalesce(sum(${orderRecords.subtotalAmount}::bigint
        - least(${orderRecords.refundedAmount}, ${orderRecords.subtotalAmount})), 0)::bigint`.mapWith(Number),
    })
    .from(orderRecords)
    .where(and(inArray(orderRecords.eventId, eventIds), paidOrder))
    .groupBy(orderRecords.eventId);

/** Per ticket type of the events: tickets scanned in, and tickets VALID (not scanned yet). */
export const checkInsOfEvents = (db: Database, eventIds: string[]) =>
  db
    .select({
      eventId: tickets.eventId,
      ticketTypeId: tickets.ticketTypeId,
      checkedIn: sql<number>`(count(*) filter (where ${tickets.status} = 'CHECKED_IN'))::int`,
      valid: sql<number>`(count(*) filter (where ${tickets.status} = 'VALID'))::int`,
    })
    .from(tickets)
    .where(and(inArray(tickets.eventId, eventIds), inArray(tickets.status, ['CHECKED_IN', 'VALID'])))
    .groupBy(tickets.eventId, tickets.ticketTypeId);

// As queries.ts reads orders: a PENDING_PAYMENT order past its expiry reads (and filters) EXPIRED.
const statusNow = sql<OrderStatus>`case when ${orderRecords.status} = 'PENDING_PAYMENT'
  and ${orderRecords.expiresAt} <= statement_timestamp() then 'EXPIRED' else ${orderRecords.status} end`;

export interface EventOrdersFilter {
  status?: OrderStatus | null;
  /** The blind index of the buyer's email (the email itself is sealed). */
  emailIndex?: string | null;
  createdAfter?: Date | null;
}

/** One page of the event's orders, newest first (ids are UUIDv7), before `beforeId`. */
export function ordersOfEvent(
  db: Database,
  eventId: string,
  filter: EventOrdersFilter,
  limit: number,
  beforeId?: string,
) {
  const conditions: Array<SQL | undefined> = [
    eq(orderRecords.eventId, eventId),
    beforeId ? lt(orderRecords.id, beforeId) : undefined,
    filter.status ? sql`${statusNow} = ${filter.status}` : undefined,
    filter.emailIndex ? eq(orderRecords.buyerEmailIndex, filter.emailIndex) : undefined,
    // At the API's precision (milliseconds): an order's own createdAt leaves that order out.
    filter.createdAfter
      ? sql`date_trunc('milliseconds', ${orderRecords.createdAt}) > ${filter.createdAfter.toISOString()}::timestamptz`
      : undefined,
  ];
  return db
    .select({ ...getTableColumns(orderRecords), status: statusNow })
    .from(orderRecords)
    .where(and(...conditions))
    .orderBy(desc(orderRecords.id))
    .limit(limit);
}
