import {
  columnAad,
  type Database,
  ERASED_EMAIL,
  ERASED_NAME,
  erasedAsNull,
  type PersonKeys,
  type PersonVault,
  type Transaction,
} from '@bilten/platform';
import type { OrderRow, TicketRow, WaitingListEntryRow } from './schema.ts';

// Personal data sealed per person (issue 18, docs/person-keys.md): what is sealed under whom, and
// the one place a destroyed key reads as the erased placeholder instead of failing.

/** Built once in setup: accounts' vault never renews an erased key; guests' does (a guest may buy again). */
export interface OrdersPeople {
  keys: PersonKeys;
  guests: PersonVault;
}

/** Whose data key seals a value: a signed-in person's user id, or a guest's email index. */
export interface Person {
  id: string;
  guest: boolean;
}

export const accountPerson = (userId: string): Person => ({ id: userId, guest: false });

export const guestPerson = (people: OrdersPeople, email: string): Person => ({
  id: people.keys.index(email, 'email'),
  guest: true,
});

/** The buyer of an order: their account when signed in, else the address they typed. */
export const buyerPerson = (people: OrdersPeople, buyerId: string | null, email: string): Person =>
  buyerId ? accountPerson(buyerId) : guestPerson(people, email);

/** Whose key seals an order's data (set once sealed, so the index is there). */
export const orderPerson = (order: Pick<OrderRow, 'buyerId' | 'buyerEmailIndex'>): Person =>
  order.buyerId ? accountPerson(order.buyerId) : { id: order.buyerEmailIndex ?? '', guest: true };

type Column =
  | 'orders.buyer_name_sealed'
  | 'orders.buyer_email_sealed'
  | 'orders.attendees_sealed'
  | 'tickets.attendee_name_sealed'
  | 'tickets.holder_email_sealed'
  | 'waiting_list_entries.email_sealed';

const aad = (column: Column, rowId: string) => {
  const [table, name] = column.split('.') as [string, string];
  return columnAad({ schema: 'orders', table, column: name }, rowId);
};

export const sealFor = (
  tx: Transaction,
  people: OrdersPeople,
  person: Person,
  plaintext: string,
  column: Column,
  rowId: string,
) =>
  (person.guest ? people.guests : people.keys.vault).encryptFor(tx, person.id, plaintext, aad(column, rowId));

/**
 * The plaintext; `erased` when the person's key was destroyed. A value not sealed (the marker an
 * erasure wrote) reads as it is. Either vault decrypts: they share one keys table.
 */
export async function openFor(
  db: Database | Transaction,
  people: OrdersPeople,
  personId: string | null,
  value: string,
  column: Column,
  rowId: string,
  erased: string,
): Promise<string> {
  if (personId === null || !people.keys.vault.isEncrypted(value)) return value;
  return (
    (await erasedAsNull(() => people.keys.vault.decryptFor(db, personId, value, aad(column, rowId)))) ??
    erased
  );
}

export interface OrderPersonalData {
  buyerName: string;
  buyerEmail: string;
  attendees: Array<{ name: string }>;
}

/** An order's columns holding personal data, sealed under its buyer. */
export async function sealOrderData(
  tx: Transaction,
  people: OrdersPeople,
  orderId: string,
  buyerId: string | null,
  data: OrderPersonalData,
) {
  const person = buyerPerson(people, buyerId, data.buyerEmail);
  const seal = (plaintext: string, column: Column) => sealFor(tx, people, person, plaintext, column, orderId);
  return {
    buyerNameSealed: await seal(data.buyerName, 'orders.buyer_name_sealed'),
    buyerEmailSealed: await seal(data.buyerEmail, 'orders.buyer_email_sealed'),
    buyerEmailIndex: people.keys.index(data.buyerEmail, 'email'),
    attendeesSealed: await seal(JSON.stringify(data.attendees), 'orders.attendees_sealed'),
  };
}

export async function openOrder(
  db: Database | Transaction,
  people: OrdersPeople,
  order: Pick<
    OrderRow,
    'id' | 'buyerId' | 'buyerEmailIndex' | 'buyerNameSealed' | 'buyerEmailSealed' | 'attendeesSealed'
  >,
): Promise<OrderPersonalData> {
  const personId = order.buyerId ?? order.buyerEmailIndex;
  const open = (value: string, column: Column, erased: string) =>
    openFor(db, people, personId, value, column, order.id, erased);
  const [buyerName, buyerEmail, attendees] = await Promise.all([
    open(order.buyerNameSealed, 'orders.buyer_name_sealed', ERASED_NAME),
    open(order.buyerEmailSealed, 'orders.buyer_email_sealed', ERASED_EMAIL),
    open(order.attendeesSealed, 'orders.attendees_sealed', '[]'),
  ]);
  return { buyerName, buyerEmail, attendees: JSON.parse(attendees) as Array<{ name: string }> };
}

/** A ticket's personal data sealed under `person`: its order's buyer, or the holder it was given to. */
export async function sealTicketData(
  tx: Transaction,
  people: OrdersPeople,
  person: Person,
  ticketId: string,
  data: { attendeeName: string; holderEmail?: string },
) {
  const seal = (plaintext: string, column: Column) =>
    sealFor(tx, people, person, plaintext, column, ticketId);
  return {
    personId: person.id,
    attendeeNameSealed: await seal(data.attendeeName, 'tickets.attendee_name_sealed'),
    ...(data.holderEmail === undefined
      ? {}
      : {
          holderEmailSealed: await seal(data.holderEmail, 'tickets.holder_email_sealed'),
          holderEmailIndex: people.keys.index(data.holderEmail, 'email'),
        }),
  };
}

export async function openTicket(
  db: Database | Transaction,
  people: OrdersPeople,
  ticket: Pick<TicketRow, 'id' | 'personId' | 'attendeeNameSealed' | 'holderEmailSealed'>,
): Promise<{ attendeeName: string; holderEmail: string | null }> {
  const open = (value: string, column: Column, erased: string) =>
    openFor(db, people, ticket.personId, value, column, ticket.id, erased);
  const [attendeeName, holderEmail] = await Promise.all([
    open(ticket.attendeeNameSealed, 'tickets.attendee_name_sealed', ERASED_NAME),
    ticket.holderEmailSealed === null
      ? null
      : open(ticket.holderEmailSealed, 'tickets.holder_email_sealed', ERASED_EMAIL),
  ]);
  return { attendeeName, holderEmail };
}

export const sealEntryEmail = (
  tx: Transaction,
  people: OrdersPeople,
  entry: { id: string; userId: string; email: string },
) =>
  sealFor(
    tx,
    people,
    accountPerson(entry.userId),
    entry.email,
    'waiting_list_entries.email_sealed',
    entry.id,
  );

export const openEntryEmail = (
  db: Database | Transaction,
  people: OrdersPeople,
  entry: Pick<WaitingListEntryRow, 'id' | 'userId' | 'emailSealed'>,
) =>
  openFor(
    db,
    people,
    entry.userId,
    entry.emailSealed,
    'waiting_list_entries.email_sealed',
    entry.id,
    ERASED_EMAIL,
  );
