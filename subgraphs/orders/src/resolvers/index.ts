import type { OrderRow } from '../db/schema.ts';
import { visibleCancellation } from '../domain/cancellation.ts';
import { checkInManifest, manifestKeys, manifestTickets, syncCheckIns } from '../domain/check-in-sync.ts';
import { checkout, myOrders, visibleOrder } from '../domain/orders.ts';
import { orderBuyer } from '../domain/organizer-sharing.ts';
import { organizationPricing, setOrganizationPricing } from '../domain/pricing.ts';
import { releaseReservation, reserveTickets, visibleReservation } from '../domain/reservations.ts';
import { availability, checkInStats, eventOrders, salesSummary } from '../domain/sales-views.ts';
import { attendeeNameOf, checkInTicket, qrCodeSvg, ticketsSeenBy } from '../domain/tickets.ts';
import { transferTicket } from '../domain/transfers.ts';
import { ticketUsageReport } from '../domain/usage.ts';
import { joinWaitingList, leaveWaitingList, visibleWaitingListEntry } from '../domain/waiting-list.ts';
import type { Resolvers } from '../generated/graphql.ts';

const money = (order: OrderRow, amount: number) => ({ amount, currency: order.currency });

export const resolvers: Resolvers = {
  Query: {
    order: (_, args, ctx) => visibleOrder(ctx, args),
    myOrders: (_, args, ctx) => myOrders(ctx, args),
    reservation: (_, args, ctx) => visibleReservation(ctx, args),
    organizationPricing: (_, args, ctx) => organizationPricing(ctx, args),
    waitingListEntry: (_, args, ctx) => visibleWaitingListEntry(ctx, args),
    checkInManifest: (_, { eventId }, ctx) => checkInManifest(ctx, eventId),
  },
  Mutation: {
    transferTicket: (_, { input }, ctx) => transferTicket(ctx, input),
    joinWaitingList: (_, { input }, ctx) => joinWaitingList(ctx, input),
    leaveWaitingList: (_, { input }, ctx) => leaveWaitingList(ctx, input),
    reserveTickets: (_, { input }, ctx) => reserveTickets(ctx, input),
    releaseReservation: (_, { input }, ctx) => releaseReservation(ctx, input),
    checkout: (_, { input }, ctx) => checkout(ctx, input),
    setOrganizationPricing: (_, { input }, ctx) => setOrganizationPricing(ctx, input),
    checkInTicket: (_, { input }, ctx) => checkInTicket(ctx, input),
    syncCheckIns: (_, { input }, ctx) => syncCheckIns(ctx, input),
  },
  UsageReport: {
    // Checked again here: a reference never trusts the root field's check (domain/usage.ts).
    __resolveReference: (report, ctx) => ticketUsageReport(ctx, report),
  },
  Event: {
    __resolveReference: (reference) => ({ id: reference.id }),
    cancellation: (event, _, ctx) => visibleCancellation(ctx, event.id),
    salesSummary: (event, _, ctx) => salesSummary(ctx, event.id),
    availability: (event, _, ctx) => availability(ctx, event.id),
    orders: (event, args, ctx) => eventOrders(ctx, event.id, args),
    checkInStats: (event, _, ctx) => checkInStats(ctx, event.id),
  },
  Order: {
    __resolveReference: (reference, ctx) => visibleOrder(ctx, reference),
    lines: async (order, _, ctx) =>
      (await ctx.loaders.reservationItems.load(order.reservationId))
        .sort((a, b) => a.ticketTypeId.localeCompare(b.ticketTypeId))
        .map((item) => ({
          ticketType: { id: item.ticketTypeId },
          quantity: item.quantity,
          unitPrice: money(order, item.unitPriceAmount),
          subtotal: money(order, item.unitPriceAmount * item.quantity),
        })),
    fees: (order) => money(order, order.feesAmount),
    taxes: (order) => money(order, order.taxesAmount),
    total: (order) => money(order, order.totalAmount),
    refunded: (order) => money(order, order.refundedAmount),
    buyer: (order, _, ctx) => orderBuyer(ctx, order),
    event: (order) => ({ id: order.eventId }),
    tickets: async (order, _, ctx) =>
      ticketsSeenBy(ctx.viewer, order, await ctx.loaders.ticketsOfOrder.load(order.id)),
  },
  CheckInManifest: {
    keys: (_, __, ctx) => manifestKeys(ctx),
    tickets: (manifest, args, ctx) => manifestTickets(ctx, manifest, args),
  },
  WaitingListEntry: {
    event: (entry) => ({ id: entry.eventId }),
    ticketType: (entry) => (entry.ticketTypeId ? { id: entry.ticketTypeId } : null),
    // The offer's hold is the entry's buyer's own reservation.
    reservation: (entry, _, ctx) =>
      entry.reservationId ? visibleReservation(ctx, { id: entry.reservationId }) : null,
  },
  Ticket: {
    event: (ticket) => ({ id: ticket.eventId }),
    ticketType: (ticket) => ({ id: ticket.ticketTypeId }),
    attendeeName: (ticket, _, ctx) => attendeeNameOf(ctx, ticket),
    qrCode: (ticket) => qrCodeSvg(ticket),
  },
};
