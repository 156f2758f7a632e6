import {
  displayText,
  emailAddress,
  mutationRule,
  requireUser,
  type UserError,
  uuidInput,
} from '@bilten/platform';
import { z } from 'zod';
import type { Context } from '../context.ts';
import { eventIsCancelled } from '../db/cancellations.ts';
import { lockOffer } from '../db/offers.ts';
import { guestPerson, openOrder, sealTicketData } from '../db/person-data.ts';
import { ordersByIds } from '../db/queries.ts';
import type { TicketRow } from '../db/schema.ts';
import { insertTickets, ticketById } from '../db/tickets.ts';
import { lockTicket, markTransferred, ticketTypeById } from '../db/transfers.ts';
import { ticketTransferred } from '../events.ts';
import { signedTicket } from './tickets.ts';

const transferTicketInput = z.object({
  ticketId: uuidInput,
  toEmail: emailAddress,
  toName: displayText(200).nullish(),
});

export interface TransferResult {
  ticket: TicketRow | null;
  errors: UserError[];
}

const refused = (errors: UserError[]): TransferResult => ({ ticket: null, errors });
const refusal = (code: UserError['code'], message: string, field = 'ticketId') =>
  refused([{ code, message, field: ['input', field] }]);
const noSuchTicket = () => refusal('NOT_FOUND', 'no such ticket');

/**
 * Gives a ticket to someone else: its code becomes TRANSFERRED (check-in refuses it) and a new
 * ticket with a fresh code, signed like every ticket, is issued to `toEmail`, who gets its link by
 * mail (`ticketTransferred`, for messaging). Only the ticket's holder may: the access token carries
 * no email address, so that is the order's buyer while no transfer happened; a ticket given away
 * is its recipient's, who holds it through the mailed link and cannot pass it on again through the
 * API. Anyone else's ticket is NOT_FOUND, as an unknown id.
 *
 * Under the event's offer lock, as refunds and the cancellation saga change tickets (they take it
 * too): a transfer never slips a VALID ticket past a refund that voids the order's tickets.
 */
export const transferTicket = mutationRule(
  { input: transferTicketInput, caller: requireUser, invalid: refused },
  async (
    ctx: Pick<Context, 'db' | 'viewer' | 'outbox' | 'paidOrders' | 'people'>,
    input,
    user,
  ): Promise<TransferResult> => {
    const found = await ticketById(ctx.db, input.ticketId);
    if (!found) return noSuchTicket();
    return ctx.db.transaction(async (tx): Promise<TransferResult> => {
      const offer = await lockOffer(tx, found.eventId);
      const ticket = await lockTicket(tx, found.id);
      const [order] = ticket ? await ordersByIds(tx, [ticket.orderId]) : [];
      if (!ticket || !order || !offer || order.buyerId !== user.userId || ticket.holderEmailIndex !== null)
        return noSuchTicket();
      if (ticket.status === 'CHECKED_IN')
        return refusal('ALREADY_CHECKED_IN', 'the ticket was checked in already');
      if (ticket.status !== 'VALID')
        return refusal(
          'INVALID_INPUT',
          ticket.status === 'TRANSFERRED' ? 'the ticket was transferred already' : 'the ticket is void',
        );
      if (order.status !== 'PAID' && order.status !== 'PARTIALLY_REFUNDED')
        return refusal('INVALID_INPUT', 'only tickets of paid orders can be transferred');
      const type = await ticketTypeById(tx, ticket.ticketTypeId);
      if (!type?.transferable) return refusal('INVALID_INPUT', 'tickets of this type cannot be transferred');
      if (offer.status === 'CANCELLED' || (await eventIsCancelled(tx, offer.eventId)))
        return refusal('INVALID_INPUT', 'the event is cancelled');
      if (offer.startsAt <= new Date()) return refusal('INVALID_INPUT', 'the event has started');
      const { buyerEmail: fromEmail } = await openOrder(tx, ctx.people, order);
      if (input.toEmail === fromEmail.toLowerCase())
        return refusal('INVALID_INPUT', 'the ticket is already yours: give another address', 'toEmail');
      if (!(await markTransferred(tx, ticket.id)))
        return refusal('INVALID_INPUT', 'the ticket changed meanwhile: try again');

      const issued = await signedTicket(tx, ctx.paidOrders.ticketKeys, ticket);
      const { id } = issued;
      const toName = input.toName ?? null;
      // The recipient is a person of their own (their email index), who may come back after erasure.
      const sealed = await sealTicketData(tx, ctx.people, guestPerson(ctx.people, input.toEmail), id, {
        attendeeName: toName ?? input.toEmail.split('@')[0]!,
        holderEmail: input.toEmail,
      });
      await insertTickets(tx, [
        {
          ...issued,
          ...sealed,
          orderId: ticket.orderId,
          eventId: ticket.eventId,
          organizationId: ticket.organizationId,
          ticketTypeId: ticket.ticketTypeId,
          transferredFromId: ticket.id,
        },
      ]);
      await ctx.outbox.publish(tx, ticketTransferred, id, {
        fromTicketId: ticket.id,
        toTicketId: id,
        eventId: ticket.eventId,
        fromEmail,
        toEmail: input.toEmail,
        toName,
        eventTitle: offer.title,
        sealedToken: ctx.paidOrders.ticketLinks.sealed(id),
      });
      // The giver gets the old ticket back, TRANSFERRED: the new code is the recipient's alone.
      return { ticket: (await ticketById(tx, ticket.id))!, errors: [] };
    });
  },
);
