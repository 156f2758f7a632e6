import { orderCreated, orderPaid, orderStatusChanged, ticketTransferred } from '@bilten/contracts/orders';
import { columnAad, type Database, type EventConsumer, type Transaction } from '@bilten/platform';
import type { z } from 'zod';
import {
  eventOfBook,
  holdingGuestRowsAfter,
  holdingUsersAfter,
  insertOrder,
  orderBookEntry,
  releaseEntry,
  releaseOrder,
  upsertHolding,
} from '../db/order-book.ts';
import { type MessagingKeys, openFor, personOf, sealFor } from '../db/person-keys.ts';
import { ORDER_BOOK_EMAIL_COLUMN, ORDER_BOOK_NAME_COLUMN, type OrderBookRow } from '../db/schema.ts';
import type { Money } from './channels.ts';
import type { Recipient } from './notify.ts';

/**
 * A row's address and name sealed under its person's key (the account's, or the guest's its blind
 * index names), with that index; null for an account erased here (a late event stores nothing).
 */
async function sealedContact(
  tx: Transaction,
  keys: MessagingKeys,
  id: string,
  userId: string | null,
  contact: { email: string; name: string },
) {
  const person = personOf(keys, userId, contact.email);
  const emailSealed = await sealFor(tx, keys, person, contact.email, columnAad(ORDER_BOOK_EMAIL_COLUMN, id));
  const nameSealed = await sealFor(tx, keys, person, contact.name, columnAad(ORDER_BOOK_NAME_COLUMN, id));
  return emailSealed === null || nameSealed === null
    ? null
    : { emailSealed, nameSealed, emailIndex: keys.users.index(contact.email, 'email') };
}

const personOfEntry = (row: Pick<OrderBookRow, 'userId' | 'emailIndex'>) =>
  row.userId ? { userId: row.userId } : { guestIndex: row.emailIndex! };

/** The row's name; empty once its person was erased here. */
export const nameOfEntry = async (
  db: Database | Transaction,
  keys: MessagingKeys,
  row: Pick<OrderBookRow, 'id' | 'userId' | 'nameSealed' | 'emailIndex'>,
) =>
  (await openFor(db, keys, personOfEntry(row), row.nameSealed, columnAad(ORDER_BOOK_NAME_COLUMN, row.id))) ??
  '';

/** The row's address; null once its person was erased here. */
export const emailOfEntry = (
  db: Database | Transaction,
  keys: MessagingKeys,
  row: Pick<OrderBookRow, 'id' | 'userId' | 'emailSealed' | 'emailIndex'>,
) => openFor(db, keys, personOfEntry(row), row.emailSealed, columnAad(ORDER_BOOK_EMAIL_COLUMN, row.id));

/** An order's buyer as a recipient (by account when they have one), or null when the book lacks the order. */
export async function buyerOf(
  tx: Transaction,
  keys: MessagingKeys,
  orderId: string,
): Promise<Recipient | null> {
  const row = await orderBookEntry(tx, orderId);
  return row
    ? { userId: row.userId, email: await emailOfEntry(tx, keys, row), name: await nameOfEntry(tx, keys, row) }
    : null;
}

/** A ticket holder, and what they paid for the event's tickets in all (an eventCancelled's refund). */
export type Holder = Recipient & { total: Money };

export const HOLDERS_BATCH = 1000;

/**
 * The event's ticket holders (paid or received, not released), one per account or, for guests, per
 * address, in batches of at most 1,000: accounts in id order, then guests. Accounts are mailed at
 * their book address; guests at the order's.
 */
export async function* holdersOf(
  tx: Transaction,
  keys: MessagingKeys,
  eventId: string,
  /** Also those who held until this moment or later (see db/order-book.ts `holding`). */
  releasedSince?: Date,
): AsyncGenerator<Holder[]> {
  let afterUser: string | undefined;
  for (;;) {
    const users = await holdingUsersAfter(tx, eventId, HOLDERS_BATCH, afterUser, releasedSince);
    if (!users.length) break;
    // Accounts are greeted by their own display name, from the address book (notify.ts).
    yield users.map(({ userId, amount, currency }) => ({
      userId,
      email: null,
      name: '',
      total: { amount, currency },
    }));
    afterUser = users.at(-1)!.userId;
  }
  // A guest's orders are rows of their own: the address (only decrypted here) makes them one holder.
  const guests = new Map<string, Holder>();
  let afterRow: string | undefined;
  for (;;) {
    const rows = await holdingGuestRowsAfter(tx, eventId, HOLDERS_BATCH, afterRow, releasedSince);
    if (!rows.length) break;
    for (const row of rows) {
      const email = await emailOfEntry(tx, keys, row);
      if (email === null) continue; // erased: nobody to tell
      const key = email.trim().toLowerCase();
      const known = guests.get(key);
      if (known) known.total = { ...known.total, amount: known.total.amount + row.totalAmount };
      else
        guests.set(key, {
          userId: null,
          email,
          name: await nameOfEntry(tx, keys, row),
          total: { amount: row.totalAmount, currency: row.currency },
        });
    }
    afterRow = rows.at(-1)!.id;
  }
  const all = [...guests.values()];
  for (let start = 0; start < all.length; start += HOLDERS_BATCH)
    yield all.slice(start, start + HOLDERS_BATCH);
}

const RELEASING = new Set(['REFUNDED', 'CANCELLED', 'EXPIRED']);

/**
 * An order's row from what both orderCreated and orderPaid tell of it (a free order has only the
 * second); null for a buyer erased here.
 */
async function entryOf(
  tx: Transaction,
  keys: MessagingKeys,
  payload: z.output<typeof orderCreated.payload> | z.output<typeof orderPaid.payload>,
) {
  const contact = await sealedContact(tx, keys, payload.orderId, payload.buyerId, {
    email: payload.buyerEmail,
    name: payload.buyerName,
  });
  return (
    contact && {
      id: payload.orderId,
      orderId: payload.orderId,
      eventId: payload.eventId,
      organizationId: payload.organizationId,
      userId: payload.buyerId,
      ...contact,
      eventTitle: payload.eventTitle,
      totalAmount: payload.total.amount,
      currency: payload.total.currency,
    }
  );
}

/**
 * The order book follows orders: a created order is a row (buyer, title, total), paid it holds
 * tickets, refunded in full, cancelled or expired it holds none, and a transferred ticket makes its
 * new holder a row of their own. Every effect goes through the transaction (group commit).
 */
export function orderBookConsumers(keys: MessagingKeys): EventConsumer[] {
  const created: EventConsumer<typeof orderCreated.payload> = {
    name: 'order-book-created',
    event: orderCreated,
    groupCommit: true,
    async handle({ payload }, tx) {
      const entry = await entryOf(tx, keys, payload);
      if (entry) await insertOrder(tx, entry);
    },
  };
  const paid: EventConsumer<typeof orderPaid.payload> = {
    name: 'order-book-paid',
    event: orderPaid,
    groupCommit: true,
    async handle({ payload, occurredAt }, tx) {
      const entry = await entryOf(tx, keys, payload);
      if (entry) await upsertHolding(tx, { ...entry, holdingSince: new Date(occurredAt) });
    },
  };
  const statusChanged: EventConsumer<typeof orderStatusChanged.payload> = {
    name: 'order-book-status',
    event: orderStatusChanged,
    groupCommit: true,
    async handle({ payload, occurredAt }, tx) {
      if (RELEASING.has(payload.status)) await releaseOrder(tx, payload.orderId, new Date(occurredAt));
    },
  };
  const transferred: EventConsumer<typeof ticketTransferred.payload> = {
    name: 'order-book-transferred',
    event: ticketTransferred,
    groupCommit: true,
    async handle({ payload, occurredAt }, tx) {
      const at = new Date(occurredAt);
      // A ticket received by transfer and passed on: its holder holds it no more. (An order's own
      // tickets are not tracked one by one; its buyer stays a holder of what is left.)
      const from = await orderBookEntry(tx, payload.fromTicketId);
      if (from) await releaseEntry(tx, from.id, at);
      const known = from ?? (await eventOfBook(tx, payload.eventId));
      if (!known) return; // no order of this event is known: nothing to tell its holders either
      await upsertHolding(tx, {
        id: payload.toTicketId,
        // Its order when the ticket it came from is a known row; otherwise the ticket it came from.
        orderId: from?.orderId ?? payload.fromTicketId,
        eventId: payload.eventId,
        organizationId: known.organizationId,
        userId: null,
        // A guest's key renews after erasure: never null.
        ...(await sealedContact(tx, keys, payload.toTicketId, null, {
          email: payload.toEmail,
          name: payload.toName ?? '',
        }))!,
        eventTitle: payload.eventTitle,
        totalAmount: 0,
        currency: known.currency,
        holdingSince: at,
      });
    },
  };
  return [created, paid, statusChanged, transferred] as EventConsumer[];
}
