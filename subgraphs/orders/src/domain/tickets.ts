import { randomBytes } from 'node:crypto';
import { ticketCheckedIn } from '@bilten/contracts/orders';
import {
  DomainError,
  displayText,
  mutationRule,
  type Outbox,
  type Transaction,
  type UserError,
  uuidInput,
  type Viewer,
} from '@bilten/platform';
import QRCode from 'qrcode';
import { v7 as uuidv7 } from 'uuid';
import { z } from 'zod';
import type { TicketKeys, TicketPayload } from '../adapters/ticket-keys.ts';
import type { Context } from '../context.ts';
import {
  type OrderPersonalData,
  type OrdersPeople,
  openTicket,
  orderPerson,
  sealTicketData,
} from '../db/person-data.ts';
import type { OrderRow, TicketRow } from '../db/schema.ts';
import { insertTickets, markCheckedIn, ticketById } from '../db/tickets.ts';
import { readsOrdersOf, reportTicketReads } from './sales-views.ts';

/**
 * A new ticket's identity: a fresh id, a random code (128 bits: unguessable, and unique by the
 * table's index) and the payload signed by the current key. Issuing and transfers both use it.
 */
export async function signedTicket(
  tx: Transaction,
  keys: TicketKeys,
  { eventId, ticketTypeId }: { eventId: string; ticketTypeId: string },
): Promise<{ id: string; code: string; signedPayload: string; kid: string }> {
  const id = uuidv7();
  const code = randomBytes(16).toString('base64url');
  const { kid, signedPayload } = await keys.sign(tx, { ticketId: id, eventId, ticketTypeId, code });
  return { id, code, signedPayload, kid };
}

/**
 * Issues one ticket per admission of a paid order, inside the transaction that marks it PAID
 * (order-payments.ts), so an order is never paid without its tickets nor ticketed unpaid. Lines go
 * in ticket type order, as `Order.lines` lists them; the n-th ticket carries the n-th attendee
 * name given at checkout, else the buyer's name.
 */
export async function issueTickets(
  tx: Transaction,
  { ticketKeys: keys, people }: { ticketKeys: TicketKeys; people: OrdersPeople },
  order: OrderRow,
  buyer: OrderPersonalData,
  lines: Array<{ ticketTypeId: string; quantity: number }>,
): Promise<void> {
  const admissions = [...lines]
    .sort((a, b) => a.ticketTypeId.localeCompare(b.ticketTypeId))
    .flatMap((line) => Array.from({ length: line.quantity }, () => line.ticketTypeId));
  const rows = [];
  for (const [index, ticketTypeId] of admissions.entries()) {
    const signed = await signedTicket(tx, keys, { eventId: order.eventId, ticketTypeId });
    const attendeeName = buyer.attendees[index]?.name ?? buyer.buyerName;
    rows.push({
      ...signed,
      ...(await sealTicketData(tx, people, orderPerson(order), signed.id, { attendeeName })),
      orderId: order.id,
      eventId: order.eventId,
      organizationId: order.organizationId,
      ticketTypeId,
    });
  }
  await insertTickets(tx, rows);
}

/**
 * `Order.tickets`: all of them for the organization's members (STAFF and up) and platform ADMINs;
 * for the buyer, all but those given away (a transfer's new code is its recipient's alone, who
 * gets it by mail); nothing for anyone else.
 */
export function ticketsSeenBy(viewer: Viewer, order: OrderRow, tickets: TicketRow[]): TicketRow[] {
  // The organization's members and its keys with orders:read (box offices print them).
  if (readsOrdersOf(viewer, order.organizationId)) return tickets;
  if (viewer.kind !== 'user') return [];
  if (viewer.roles.includes('ADMIN')) return tickets;
  return viewer.userId === order.buyerId ? tickets.filter((ticket) => ticket.holderEmailIndex === null) : [];
}

/** `Ticket.attendeeName`, opened under its person's key ('(erased)' once that key is destroyed). */
export const attendeeNameOf = async (ctx: Pick<Context, 'db' | 'people'>, ticket: TicketRow) =>
  (await openTicket(ctx.db, ctx.people, ticket)).attendeeName;

/** `Ticket.qrCode`: the signed payload as an SVG QR code, the way a scanner reads it. */
export const qrCodeSvg = (ticket: TicketRow) =>
  QRCode.toString(ticket.signedPayload, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 });

// ---------------------------------------------------------------- check-in

const checkInInput = z
  .object({
    /** The scanned QR payload: a compact JWS, a few hundred characters. */
    code: z.string().min(1).max(2000, 'not a valid ticket').nullish(),
    ticketId: uuidInput.nullish(),
    gate: displayText(100).nullish(),
  })
  .refine((input) => input.code || input.ticketId, {
    message: 'give the scanned code or the ticket id',
    path: ['code'],
  });

/** Tells the organization's integrations (webhooks) of a check-in, in the transaction that made it. */
export async function publishCheckIn(outbox: Outbox, tx: Transaction, ticket: TicketRow): Promise<void> {
  await outbox.publish(tx, ticketCheckedIn, ticket.id, {
    ticketId: ticket.id,
    orderId: ticket.orderId,
    eventId: ticket.eventId,
    organizationId: ticket.organizationId,
    gate: ticket.checkedInGate,
    checkedInAt: ticket.checkedInAt!.toISOString(),
  });
}

export interface CheckInResult {
  ticket: TicketRow | null;
  errors: UserError[];
}

const refused = (errors: UserError[]): CheckInResult => ({ ticket: null, errors });
const codeError = (code: UserError['code'], message: string, field = 'code'): CheckInResult =>
  refused([{ code, message, field: ['input', field] }]);

/** The API-key scope that lets a key scan its organization's tickets, and nothing else. */
export const CHECKIN_SCOPE = 'checkin';

/**
 * Who may scan at all: a member of some organization (every role is STAFF or more), or an API key
 * with the `checkin` scope. `events:write` is not enough: a door scanner's key should not be able
 * to edit events, nor an event-editing integration to admit people. Whether it is the ticket's
 * organization is known only once the code (or the event) is read: see scansFor.
 */
export function requireScanner(viewer: Viewer): Scanner {
  if (viewer.kind === 'anonymous') throw new DomainError('UNAUTHENTICATED', 'sign in first');
  if (viewer.kind === 'apiKey' && viewer.scopes.includes(CHECKIN_SCOPE)) return viewer;
  if (viewer.kind === 'user' && Object.keys(viewer.organizations).length > 0) return viewer;
  throw new DomainError('FORBIDDEN', "only the event organization's staff check tickets in");
}
export type Scanner = Exclude<Viewer, { kind: 'anonymous' }>;

/** STAFF or more in the organization, or its API key with the `checkin` scope. */
export function scansFor(viewer: Viewer, organizationId: string): boolean {
  if (viewer.kind === 'apiKey')
    return viewer.organizationId === organizationId && viewer.scopes.includes(CHECKIN_SCOPE);
  return viewer.kind === 'user' && viewer.organizations[organizationId] !== undefined;
}

export type ScannedCode =
  | { kind: 'ticket'; ticket: TicketRow }
  /** Not a payload signed by one of our keys, or altered, or a genuine one of a reissued code. */
  | { kind: 'invalid' }
  /** No such ticket, or one of an organization the scanner does not scan for. */
  | { kind: 'notFound' };

/**
 * What a scanned code names, once its signature checked out (TicketKeys.verify: a signature of one
 * of orders' ticket keys over an unaltered payload whose key id is the signing key's): a ticket of
 * an organization the scanner scans for (another organization's is notFound, as an unknown one, so
 * codes cannot be probed) that still carries the payload's code and details (a transfer reissues
 * the code: the old one is invalid).
 */
export function scannedTicket(
  scanner: Scanner,
  payload: TicketPayload | null,
  ticket: TicketRow | undefined,
): ScannedCode {
  if (!payload) return { kind: 'invalid' };
  if (!ticket || !scansFor(scanner, ticket.organizationId)) return { kind: 'notFound' };
  if (
    ticket.id !== payload.ticketId ||
    ticket.code !== payload.code ||
    ticket.eventId !== payload.eventId ||
    ticket.ticketTypeId !== payload.ticketTypeId
  )
    return { kind: 'invalid' };
  return { kind: 'ticket', ticket };
}

/** One scanned code, verified and looked up (see scannedTicket). */
export async function readScannedCode(
  ctx: Pick<Context, 'db' | 'ticketKeys'>,
  scanner: Scanner,
  code: string,
): Promise<ScannedCode> {
  const payload = await ctx.ticketKeys.verify(ctx.db, code.trim());
  const ticket = payload ? await ticketById(ctx.db, payload.ticketId) : undefined;
  return scannedTicket(scanner, payload, ticket);
}

/** A ticket named by id (a check-in by hand): notFound unless the scanner scans for its organization, as for an unknown one. */
async function namedTicket(
  ctx: Pick<Context, 'db'>,
  scanner: Scanner,
  ticketId: string,
): Promise<ScannedCode> {
  const ticket = await ticketById(ctx.db, ticketId);
  return ticket && scansFor(scanner, ticket.organizationId)
    ? { kind: 'ticket', ticket }
    : { kind: 'notFound' };
}

/**
 * `checkInTicket`: a code readScannedCode does not accept is INVALID_INPUT ("not a valid ticket")
 * or NOT_FOUND (another organization's ticket, as an unknown one); a ticket id alone (a check-in by
 * hand) needs the same right to scan its organization's tickets. The first scan of a VALID
 * ticket checks it in, with time and gate; every later one, even at the same moment, answers ALREADY_CHECKED_IN with the
 * first scan's time and gate (one conditional UPDATE decides, see markCheckedIn). VOID and
 * TRANSFERRED tickets are refused.
 */
export const checkInTicket = mutationRule(
  { input: checkInInput, caller: requireScanner, invalid: refused },
  async (
    ctx: Pick<Context, 'db' | 'viewer' | 'ticketKeys' | 'outbox' | 'loaders' | 'requestId'>,
    input,
    scanner,
  ): Promise<CheckInResult> => {
    const scanned = input.code
      ? await readScannedCode(ctx, scanner, input.code)
      : await namedTicket(ctx, scanner, input.ticketId!);
    if (scanned.kind === 'invalid') return codeError('INVALID_INPUT', 'not a valid ticket');
    if (scanned.kind === 'notFound')
      return codeError('NOT_FOUND', 'no such ticket', input.code ? 'code' : 'ticketId');
    const { ticket } = scanned;
    if (input.ticketId && ticket.id !== input.ticketId)
      return codeError('INVALID_INPUT', 'the code is not this ticket’s');
    // Only the scan that checks the ticket in publishes: a repeated one changes nothing.
    const checkedIn = await ctx.db.transaction(async (tx) => {
      const row = await markCheckedIn(tx, ticket.id, input.gate ?? null);
      if (row) await publishCheckIn(ctx.outbox, tx, row);
      return row;
    });
    if (checkedIn) {
      await reportTicketReads(ctx, [checkedIn], 'check-in');
      return { ticket: checkedIn, errors: [] };
    }
    const now = await ticketById(ctx.db, ticket.id);
    if (now?.status === 'CHECKED_IN') {
      const gate = now.checkedInGate ? ` at gate “${now.checkedInGate}”` : '';
      return codeError(
        'ALREADY_CHECKED_IN',
        `already checked in at ${now.checkedInAt!.toISOString()}${gate}`,
      );
    }
    return codeError(
      'INVALID_INPUT',
      now?.status === 'TRANSFERRED'
        ? 'this ticket was transferred: its new holder has another code'
        : 'this ticket is void',
    );
  },
);
