import { randomBytes } from 'node:crypto';
import {
  DomainError,
  displayText,
  mutationRule,
  type Transaction,
  type UserError,
  type Viewer,
} from '@bilten/platform';
import QRCode from 'qrcode';
import { v7 as uuidv7 } from 'uuid';
import { z } from 'zod';
import type { TicketKeys } from '../adapters/ticket-keys.ts';
import type { Context } from '../context.ts';
import type { OrderRow, TicketRow } from '../db/schema.ts';
import { insertTickets, markCheckedIn, ticketById } from '../db/tickets.ts';

/**
 * Issues one ticket per admission of a paid order, inside the transaction that marks it PAID
 * (order-payments.ts), so an order is never paid without its tickets nor ticketed unpaid. Lines go
 * in ticket type order, as `Order.lines` lists them; the n-th ticket carries the n-th attendee
 * name given at checkout, else the buyer's name.
 */
export async function issueTickets(
  tx: Transaction,
  keys: TicketKeys,
  order: OrderRow,
  lines: Array<{ ticketTypeId: string; quantity: number }>,
): Promise<void> {
  const admissions = [...lines]
    .sort((a, b) => a.ticketTypeId.localeCompare(b.ticketTypeId))
    .flatMap((line) => Array.from({ length: line.quantity }, () => line.ticketTypeId));
  const rows = [];
  for (const [index, ticketTypeId] of admissions.entries()) {
    const id = uuidv7();
    // 128 random bits: unguessable, and unique by the table's index.
    const code = randomBytes(16).toString('base64url');
    const { kid, signedPayload } = await keys.sign(tx, {
      ticketId: id,
      eventId: order.eventId,
      ticketTypeId,
      code,
    });
    rows.push({
      id,
      orderId: order.id,
      eventId: order.eventId,
      organizationId: order.organizationId,
      ticketTypeId,
      attendeeName: order.attendees[index]?.name ?? order.buyerName,
      code,
      signedPayload,
      kid,
    });
  }
  await insertTickets(tx, rows);
}

/** `Order.tickets`: its buyer's, the organization's members' (STAFF and up) and platform ADMINs'. */
export function maySeeTickets(viewer: Viewer, order: OrderRow): boolean {
  if (viewer.kind !== 'user') return false;
  return (
    viewer.userId === order.buyerId ||
    viewer.organizations[order.organizationId] !== undefined ||
    viewer.roles.includes('ADMIN')
  );
}

/** `Ticket.qrCode`: the signed payload as an SVG QR code, the way a scanner reads it. */
export const qrCodeSvg = (ticket: TicketRow) =>
  QRCode.toString(ticket.signedPayload, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 });

// ---------------------------------------------------------------- check-in

const checkInInput = z.object({
  /** The scanned QR payload: a compact JWS, a few hundred characters. */
  code: z.string().min(1).max(2000, 'not a valid ticket'),
  gate: displayText(100).nullish(),
});

export interface CheckInResult {
  ticket: TicketRow | null;
  errors: UserError[];
}

const refused = (errors: UserError[]): CheckInResult => ({ ticket: null, errors });
const codeError = (code: UserError['code'], message: string): CheckInResult =>
  refused([{ code, message, field: ['input', 'code'] }]);

/**
 * Who may scan at all: a member of some organization (every role is STAFF or more), or an API key
 * with the `events:write` scope (a dedicated `checkin` scope needs the kit's API_KEY_SCOPES). Whether
 * it is the ticket's organization is known only once the code is read (see checkInTicket).
 */
function requireScanner(viewer: Viewer): Exclude<Viewer, { kind: 'anonymous' }> {
  if (viewer.kind === 'anonymous') throw new DomainError('UNAUTHENTICATED', 'sign in first');
  if (viewer.kind === 'apiKey' && viewer.scopes.includes('events:write')) return viewer;
  if (viewer.kind === 'user' && Object.keys(viewer.organizations).length > 0) return viewer;
  throw new DomainError('FORBIDDEN', "only the event organization's staff check tickets in");
}

/** STAFF or more in the ticket's organization, or its API key with events:write. */
function scansFor(viewer: Exclude<Viewer, { kind: 'anonymous' }>, organizationId: string): boolean {
  return viewer.kind === 'apiKey'
    ? viewer.organizationId === organizationId && viewer.scopes.includes('events:write')
    : viewer.organizations[organizationId] !== undefined;
}

/**
 * `checkInTicket`: the scanned code must carry a signature of one of orders' ticket keys over an
 * unaltered payload whose key id is the signing key's (else INVALID_INPUT, "not a valid ticket"),
 * and name a ticket of the caller's organization (another organization's is NOT_FOUND, as an
 * unknown one, so codes cannot be probed). The first scan of a VALID ticket checks it in, with
 * time and gate; every later one, even at the same moment, answers ALREADY_CHECKED_IN with the
 * first scan's time and gate (one conditional UPDATE decides, see markCheckedIn). VOID and
 * TRANSFERRED tickets are refused.
 */
export const checkInTicket = mutationRule(
  { input: checkInInput, caller: requireScanner, invalid: refused },
  async (ctx: Pick<Context, 'db' | 'viewer' | 'ticketKeys'>, input, scanner): Promise<CheckInResult> => {
    const payload = await ctx.ticketKeys.verify(ctx.db, input.code.trim());
    if (!payload) return codeError('INVALID_INPUT', 'not a valid ticket');
    const ticket = await ticketById(ctx.db, payload.ticketId);
    if (!ticket || !scansFor(scanner, ticket.organizationId)) return codeError('NOT_FOUND', 'no such ticket');
    // A genuine signature over another ticket's details (the code was reissued): not this ticket.
    if (
      ticket.code !== payload.code ||
      ticket.eventId !== payload.eventId ||
      ticket.ticketTypeId !== payload.ticketTypeId
    )
      return codeError('INVALID_INPUT', 'not a valid ticket');
    const checkedIn = await markCheckedIn(ctx.db, ticket.id, input.gate ?? null);
    if (checkedIn) return { ticket: checkedIn, errors: [] };
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
