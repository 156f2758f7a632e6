import { z } from 'zod';
import {
  defineEvent,
  personalDataAccessesPayload,
  personalDataErasedPayload,
  personalDataExportedPayload,
  securityEventsPayload,
  usageJumpedPayload,
} from './define.ts';

const money = z.object({ amount: z.number().int().nonnegative(), currency: z.string().length(3) });

/**
 * A checked-out order waiting for its payment: billing charges `total`, never a client's figure.
 * Not published for a free order (total 0): checkout marks it paid at once, so there is nothing to
 * charge (its `orderPaid` follows as for any paid order).
 */
export const orderCreated = defineEvent({
  type: 'bilten.orders.order.created',
  // 2: what was bought (event title, lines, subtotal, fees, taxes) for billing's receipts (issue 14).
  version: 2,
  aggregateType: 'order',
  payload: z.object({
    orderId: z.uuid(),
    eventId: z.uuid(),
    organizationId: z.uuid(),
    /** The signed-in buyer, or null for a guest checkout. */
    buyerId: z.uuid().nullable(),
    /**
     * A guest's reservation token, SHA-256 hex (orders keeps only this hash): billing lets whoever
     * shows the token pay the order. Null for a signed-in buyer.
     */
    guestTokenHash: z.string().length(64).nullable(),
    buyerEmail: z.string().max(320),
    /** The buyer's name as given at checkout, for the receipt. */
    buyerName: z.string().max(200),
    /** The event's title when the order was made, for the receipt. */
    eventTitle: z.string(),
    /** What was bought, one line per ticket type: the receipt's lines. */
    lines: z
      .array(
        z.object({
          ticketTypeId: z.uuid(),
          name: z.string(),
          quantity: z.number().int().positive(),
          unitPrice: money,
        }),
      )
      .min(1),
    /** subtotal (the lines) + fees + taxes = total, as checkout computed them. */
    subtotal: money,
    fees: money,
    taxes: money,
    /** The tax rate applied to subtotal + fees, in basis points (1900 = 19 %). */
    taxBasisPoints: z.number().int().min(0).max(10_000),
    total: money,
    /** When the order expires unpaid (its reservation's end). */
    expiresAt: z.iso.datetime(),
    /**
     * The terms the buyer bought under, for billing's `requestRefund`: the event's refund policy
     * (`FULL_UNTIL` n days before the start, `PARTIAL` percent until n days, `NONE`) and its start.
     */
    refundPolicy: z.object({
      kind: z.enum(['FULL_UNTIL', 'PARTIAL', 'NONE']),
      daysBeforeStart: z.number().int().nullable(),
      percent: z.number().int().nullable(),
    }),
    eventStartsAt: z.iso.datetime(),
  }),
});

/** Orders asks billing to give money back: a cancelled event, a refund by policy, a late payment. */
export const refundRequested = defineEvent({
  type: 'bilten.orders.refund.requested',
  aggregateType: 'order',
  payload: z.object({
    orderId: z.uuid(),
    /** Names this refund, so billing refunds it once however often it is asked. */
    refundId: z.uuid(),
    amount: money,
    reason: z.enum(['EVENT_CANCELLED', 'CUSTOMER_REQUEST', 'PAID_AFTER_EXPIRY', 'DUPLICATE_PAYMENT']),
  }),
});

/**
 * What is sold of one event, whole, after every sale and return: catalog keeps `tickets_sold` from
 * it. Absolute counts, so a redelivery or a lost predecessor cannot skew them.
 */
export const eventSalesChanged = defineEvent({
  type: 'bilten.orders.event_sales.changed',
  aggregateType: 'event_sales',
  payload: z.object({
    eventId: z.uuid(),
    ticketsSold: z.number().int().nonnegative(),
    ticketTypes: z.array(z.object({ ticketTypeId: z.uuid(), sold: z.number().int().nonnegative() })),
  }),
});

/**
 * How far orders got with a cancelled event (`bilten.catalog.event.cancelled`): published after
 * every batch of the cancellation saga (status RUNNING, counts so far; orders itself takes the next
 * batch on it) and once at the end (DONE, the final counts). Messaging tells ticket holders from
 * the `refundRequested` of each order (reason EVENT_CANCELLED) and closes with the DONE one.
 */
export const eventCancellationProgressed = defineEvent({
  type: 'bilten.orders.event_cancellation.progressed',
  aggregateType: 'event_cancellation',
  payload: z.object({
    eventId: z.uuid(),
    organizationId: z.uuid(),
    status: z.enum(['RUNNING', 'DONE']),
    /** Live holds given back (not counting the holds of cancelled orders). */
    holdsReleased: z.number().int().nonnegative(),
    /** Orders waiting for payment, now CANCELLED. */
    ordersCancelled: z.number().int().nonnegative(),
    /** Paid orders billing was asked to refund in full (one `refundRequested` each). */
    refundsRequested: z.number().int().nonnegative(),
    ticketsVoided: z.number().int().nonnegative(),
  }),
});

/**
 * An order was paid and its tickets issued: messaging mails the buyer (a guest has no other way to
 * get them) a link to each ticket, `/tickets/{ticketId}.pdf?token=…`, whose token travels sealed
 * for the ticket id under MAIL_LINK_SECRET (linkTokenSeal), as identity's link tokens do.
 */
export const orderPaid = defineEvent({
  type: 'bilten.orders.order.paid',
  // 2: the buyer's user id and the organization, for messaging's book of ticket holders (issue 15).
  version: 2,
  aggregateType: 'order',
  payload: z.object({
    orderId: z.uuid(),
    eventId: z.uuid(),
    organizationId: z.uuid(),
    /** The signed-in buyer, or null for a guest checkout. */
    buyerId: z.uuid().nullable(),
    buyerEmail: z.string().max(320),
    buyerName: z.string().max(200),
    eventTitle: z.string().max(500),
    tickets: z.array(z.object({ ticketId: z.uuid(), sealedToken: z.string().min(1) })),
    total: money,
  }),
});

/**
 * A ticket changed hands (`transferTicket`): the old code is void, the recipient holds a new
 * ticket; messaging mails the recipient.
 */
export const ticketTransferred = defineEvent({
  type: 'bilten.orders.ticket.transferred',
  aggregateType: 'ticket',
  payload: z.object({
    fromTicketId: z.uuid(),
    toTicketId: z.uuid(),
    eventId: z.uuid(),
    fromEmail: z.string().max(320),
    toEmail: z.string().max(320),
    toName: z.string().max(200).nullable(),
    eventTitle: z.string().max(500),
    /** The new ticket's link token, sealed for `toTicketId` (see orderPaid). */
    sealedToken: z.string().min(1),
  }),
});

/**
 * A ticket was admitted at the door, once per ticket: the scan that checked it in (checkInTicket,
 * or an offline scan synced by syncCheckIns, with the scan's own time), never a repeated one.
 * Messaging sends it to the organization's webhooks (`ticket.checked_in`).
 */
export const ticketCheckedIn = defineEvent({
  type: 'bilten.orders.ticket.checked_in',
  aggregateType: 'ticket',
  payload: z.object({
    ticketId: z.uuid(),
    orderId: z.uuid(),
    eventId: z.uuid(),
    organizationId: z.uuid(),
    gate: z.string().max(100).nullable(),
    checkedInAt: z.iso.datetime(),
  }),
});

/**
 * Released stock was set aside for the next buyer on the event's waiting list, as a hold of their
 * own until `expiresAt`: messaging mails them to check it out.
 */
export const waitingListOffered = defineEvent({
  type: 'bilten.orders.waiting_list.offered',
  aggregateType: 'waiting_list_entry',
  payload: z.object({
    entryId: z.uuid(),
    eventId: z.uuid(),
    userId: z.uuid(),
    email: z.string().max(320),
    reservationId: z.uuid(),
    quantity: z.number().int().positive(),
    eventTitle: z.string().max(500),
    expiresAt: z.iso.datetime(),
  }),
});

/**
 * An order moved in its state machine (order-states.ts): PAID, PARTIALLY_REFUNDED, REFUNDED,
 * CANCELLED, or EXPIRED when a late payment made orders record it. For live pushes (the gateway's
 * `orderUpdated`): it carries the key and the new status, subscribers read the rest as they may.
 * An unpaid order also reads EXPIRED once its expiry passes, with no event at that instant.
 */
export const orderStatusChanged = defineEvent({
  type: 'bilten.orders.order.status_changed',
  aggregateType: 'order',
  payload: z.object({
    orderId: z.uuid(),
    eventId: z.uuid(),
    organizationId: z.uuid(),
    from: z.enum(['PENDING_PAYMENT', 'PAID', 'PARTIALLY_REFUNDED', 'REFUNDED', 'EXPIRED', 'CANCELLED']),
    status: z.enum(['PENDING_PAYMENT', 'PAID', 'PARTIALLY_REFUNDED', 'REFUNDED', 'EXPIRED', 'CANCELLED']),
  }),
});

/**
 * Holds of the event were taken or given back (reserveTickets, releaseReservation), so what is
 * left to reserve moved. Only the key: the gateway's `ticketAvailability` reads
 * the numbers when it pushes, at most once a second per event. Sales that change what is left
 * (a full refund) come as `eventSalesChanged`.
 */
export const eventAvailabilityChanged = defineEvent({
  type: 'bilten.orders.event_availability.changed',
  aggregateType: 'event_availability',
  payload: z.object({ eventId: z.uuid() }),
});

/**
 * Someone read another person's personal data that orders serves (issue 18): identity appends it to
 * the tamper-evident access log. Published in a transaction of its own (a read has none).
 */
export const personalDataAccessed = defineEvent({
  type: 'bilten.orders.personal_data.accessed',
  aggregateType: 'user',
  payload: personalDataAccessesPayload,
});

/** Security events this service saw (issue 18): identity's monitoring records them and runs its detection rules. */
export const securityEventsRecorded = defineEvent({
  type: 'bilten.orders.security_event.recorded',
  aggregateType: 'security_event',
  payload: securityEventsPayload,
});

/** This service's part of a user's data export (issue 18), answering identity's `dataExportRequested`. */
export const personalDataExported = defineEvent({
  type: 'bilten.orders.personal_data.exported',
  aggregateType: 'privacy_request',
  payload: personalDataExportedPayload,
});

/** This service erased or anonymized what it held about a user (issue 18), answering `accountErasureRequested`. */
export const personalDataErased = defineEvent({
  type: 'bilten.orders.personal_data.erased',
  aggregateType: 'privacy_request',
  payload: personalDataErasedPayload,
});

/** An organization's usage of a metric orders meters jumped in one hour (issue 19): messaging tells the platform admins. */
export const usageJumped = defineEvent({
  type: 'bilten.orders.usage.jumped',
  aggregateType: 'organization',
  payload: usageJumpedPayload,
});
