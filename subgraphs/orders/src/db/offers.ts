import type { Database, Transaction } from '@bilten/platform';
import { and, eq, getTableColumns, notExists, notInArray, type SQL, sql } from 'drizzle-orm';
import type { PgTable } from 'drizzle-orm/pg-core';
import {
  type OfferRow,
  type OfferTicketTypeRow,
  offers,
  offerTicketTypes,
  reservationItems,
} from './schema.ts';

/** `set` of an upsert that takes every column but `keep` from the row that was proposed. */
function fromExcluded<T extends PgTable>(table: T, keep: string[]): Record<string, SQL> {
  return Object.fromEntries(
    Object.entries(getTableColumns(table))
      .filter(([key]) => !keep.includes(key))
      .map(([key, column]) => [key, sql.raw(`excluded."${column.name}"`)]),
  );
}

/**
 * Replaces the copy of one event's offer with a whole snapshot. Ticket types the snapshot leaves
 * out are deleted, unless a hold or sale names them: those stay, withdrawn from sale, so what
 * they hold keeps counting against the event's quota.
 */
export async function saveOffer(
  tx: Transaction,
  offer: Omit<OfferRow, 'updatedAt'>,
  ticketTypes: Array<Omit<OfferTicketTypeRow, 'sold' | 'withdrawn'>>,
): Promise<void> {
  await tx
    .insert(offers)
    .values(offer)
    .onConflictDoUpdate({
      target: offers.eventId,
      set: {
        ...fromExcluded(offers, ['eventId']),
        // Cancelled is for good (catalog's rule): the saga may have marked it before a late
        // snapshot of the event's last edits arrives, which must not put it back on sale.
        status: sql`case when ${offers.status} = 'CANCELLED' then ${offers.status} else excluded.status end`,
        updatedAt: sql`now()`,
      },
    });
  if (ticketTypes.length) {
    await tx
      .insert(offerTicketTypes)
      .values(ticketTypes)
      .onConflictDoUpdate({
        target: offerTicketTypes.id,
        set: fromExcluded(offerTicketTypes, ['id', 'eventId', 'sold']),
        // A ticket type belongs to one event for good.
        setWhere: sql`${offerTicketTypes.eventId} = excluded.event_id`,
      });
  }
  const leftOut = and(
    eq(offerTicketTypes.eventId, offer.eventId),
    notInArray(
      offerTicketTypes.id,
      ticketTypes.map((type) => type.id),
    ),
  );
  await tx
    .delete(offerTicketTypes)
    .where(
      and(
        leftOut,
        eq(offerTicketTypes.sold, 0),
        notExists(
          tx
            .select({ one: sql`1` })
            .from(reservationItems)
            .where(eq(reservationItems.ticketTypeId, offerTicketTypes.id)),
        ),
      ),
    );
  await tx.update(offerTicketTypes).set({ withdrawn: true }).where(leftOut);
}

/**
 * The offer, locked until the transaction ends: every change to its inventory (a hold, later a
 * sale) happens one after another, and each sees what the one before it committed.
 */
export async function lockOffer(tx: Transaction, eventId: string): Promise<OfferRow | undefined> {
  const [offer] = await tx.select().from(offers).where(eq(offers.eventId, eventId)).for('update');
  return offer;
}

/** The offer as it stands, unlocked (a reservation's look before it queues for the lock). */
export async function offerOf(tx: Transaction, eventId: string): Promise<OfferRow | undefined> {
  const [offer] = await tx.select().from(offers).where(eq(offers.eventId, eventId));
  return offer;
}

export const ticketTypesOfOffer = (db: Database | Transaction, eventId: string) =>
  db.select().from(offerTicketTypes).where(eq(offerTicketTypes.eventId, eventId));
