import type { Transaction } from '@bilten/platform';
import { and, eq } from 'drizzle-orm';
import { type OfferTicketTypeRow, offerTicketTypes, type TicketRow, tickets } from './schema.ts';

/** The ticket, locked until the transaction ends: one transfer (or scan) of it at a time. */
export async function lockTicket(tx: Transaction, id: string): Promise<TicketRow | undefined> {
  const [ticket] = await tx.select().from(tickets).where(eq(tickets.id, id)).for('update');
  return ticket;
}

/**
 * VALID → TRANSFERRED in one conditional statement: of two transfers (or a transfer and a scan)
 * at once, only one finds it VALID. True when this call changed it.
 */
export async function markTransferred(tx: Transaction, id: string): Promise<boolean> {
  const changed = await tx
    .update(tickets)
    .set({ status: 'TRANSFERRED' })
    .where(and(eq(tickets.id, id), eq(tickets.status, 'VALID')))
    .returning({ id: tickets.id });
  return changed.length > 0;
}

export async function ticketTypeById(tx: Transaction, id: string): Promise<OfferTicketTypeRow | undefined> {
  const [type] = await tx.select().from(offerTicketTypes).where(eq(offerTicketTypes.id, id));
  return type;
}
