import {
  type Database,
  emailAddress,
  type Logger,
  mutationRule,
  type Outbox,
  requireUser,
  requireVerifiedUser,
  runPeriodically,
  type Transaction,
  type UserError,
  uuidInput,
  type Viewer,
} from '@bilten/platform';
import { v7 as uuidv7 } from 'uuid';
import { z } from 'zod';
import type { Context } from '../context.ts';
import { lockOffer, ticketTypesOfOffer } from '../db/offers.ts';
import { type OrdersPeople, openEntryEmail, sealEntryEmail } from '../db/person-data.ts';
import { activeHolds, insertReservation, markExpiredHolds } from '../db/reservations.ts';
import type { OfferRow, OfferTicketTypeRow, WaitingListEntryRow } from '../db/schema.ts';
import {
  entriesByIds,
  eventsWithOpenEntries,
  insertEntry,
  lockEntry,
  openEntriesOfEvent,
  openEntryOfUser,
  releaseOfferHold,
  updateEntry,
  waitedFor,
} from '../db/waiting-list.ts';
import { waitingListOffered } from '../events.ts';
import { allocate, eventNotOnSale, type HeldLine, type Holds, offerRefusal } from './inventory.ts';

/** As reserveTickets: no ticket type sells more in one order. */
const MAX_QUANTITY = 100;

const joinWaitingListInput = z.object({
  eventId: uuidInput,
  /** Null: any ticket type of the event will do. */
  ticketTypeId: uuidInput.nullish(),
  quantity: z
    .number()
    .int()
    .min(1, `must be 1–${MAX_QUANTITY}`)
    .max(MAX_QUANTITY, `must be 1–${MAX_QUANTITY}`),
  /** Where the offer is mailed: the access token carries no email address. */
  email: emailAddress,
});

export interface WaitingListResult {
  entry: WaitingListEntryRow | null;
  errors: UserError[];
}

const refused = (errors: UserError[]): WaitingListResult => ({ entry: null, errors });
const invalid = (message: string, field: string): UserError => ({
  code: 'INVALID_INPUT',
  message,
  field: ['input', field],
});

type Fit = { line: HeldLine } | { soldOut: true } | { errors: UserError[] };

/**
 * Whether `quantity` tickets of the wanted type (or, with none named, of any one type, in ticket
 * type order) could be held now, by the very rule reservations follow (inventory.ts allocate):
 * the line to hold, or that it is sold out, or why it cannot be had at all (limits, sales window).
 * The caller holds the offer's lock.
 */
function fit(
  offer: OfferRow,
  types: OfferTicketTypeRow[],
  holds: Map<string, Holds>,
  wanted: { ticketTypeId: string | null; quantity: number },
  buyer: { organizations: Record<string, unknown> },
  now: Date,
): Fit {
  const candidates = wanted.ticketTypeId
    ? [wanted.ticketTypeId]
    : types
        .filter((type) => !type.withdrawn && !type.hidden)
        .map((type) => type.id)
        .sort();
  let soldOut = false;
  let firstErrors: UserError[] | undefined;
  for (const ticketTypeId of candidates) {
    const { lines, errors } = allocate(
      offer,
      types,
      holds,
      [{ ticketTypeId, quantity: wanted.quantity }],
      buyer,
      now,
    );
    if (lines[0]) return { line: lines[0] };
    if (errors.every((error) => error.code === 'SOLD_OUT')) soldOut = true;
    // allocate names the fields of reserveTickets' items; here they are the input's own.
    firstErrors ??= errors.map((error) => ({
      ...error,
      field: ['input', error.field?.at(-1) ?? 'quantity'],
    }));
  }
  if (soldOut) return { soldOut: true };
  return { errors: firstErrors ?? [invalid('the event has no ticket type on sale', 'eventId')] };
}

/** Whether any ticket type still has a seat within its own capacity and the event's. */
function anythingFree(offer: OfferRow, types: OfferTicketTypeRow[], holds: Map<string, Holds>): boolean {
  const held = (type: OfferTicketTypeRow) => holds.get(type.id)?.held ?? 0;
  const taken = types.reduce((sum, type) => sum + type.sold + held(type), 0);
  return (
    offer.capacity > taken && types.some((type) => !type.withdrawn && type.capacity > type.sold + held(type))
  );
}

/**
 * A place in the event's line, for a signed-in buyer with a verified address, when what they want
 * is sold out now (or others already wait for it: released stock goes to the line first). One
 * place per buyer and event: joining again answers the place they hold.
 */
export const joinWaitingList = mutationRule(
  { input: joinWaitingListInput, caller: requireVerifiedUser, invalid: refused },
  async (ctx: Pick<Context, 'db' | 'viewer' | 'people'>, input, user) =>
    ctx.db.transaction(async (tx): Promise<WaitingListResult> => {
      const now = new Date();
      const offer = await lockOffer(tx, input.eventId);
      if (!offer) return refused([eventNotOnSale]);
      const refusal = offerRefusal(offer, now);
      if (refusal) return refused([refusal]);
      const existing = await openEntryOfUser(tx, offer.eventId, user.userId);
      if (existing) return { entry: existing, errors: [] };
      const ticketTypeId = input.ticketTypeId ?? null;
      const types = await ticketTypesOfOffer(tx, offer.eventId);
      const holds = await activeHolds(tx, offer.eventId, user.userId);
      const found = fit(
        offer,
        types,
        new Map(holds.map((hold) => [hold.ticketTypeId, hold])),
        { ticketTypeId, quantity: input.quantity },
        user,
        now,
      );
      if ('errors' in found) return refused(found.errors);
      if ('line' in found) {
        const waiting = await waitedFor(tx, offer.eventId);
        const lineExists =
          waiting.anyType ||
          (ticketTypeId ? waiting.ticketTypeIds.has(ticketTypeId) : waiting.ticketTypeIds.size > 0);
        if (!lineExists) return refused([invalid('tickets are on sale: reserve them', 'eventId')]);
      }
      const id = uuidv7();
      const entry =
        (await insertEntry(tx, {
          id,
          eventId: offer.eventId,
          ticketTypeId,
          userId: user.userId,
          emailSealed: await sealEntryEmail(tx, ctx.people, { id, userId: user.userId, email: input.email }),
          quantity: input.quantity,
        })) ?? (await openEntryOfUser(tx, offer.eventId, user.userId));
      return { entry: entry!, errors: [] };
    }),
);

const leaveWaitingListInput = z.object({ entryId: uuidInput });

/**
 * Gives up the caller's place (and the hold of an offer not checked out yet, which goes to the
 * next in line). Leaving again, or after the offer was claimed or lapsed, changes nothing.
 */
export const leaveWaitingList = mutationRule(
  { input: leaveWaitingListInput, caller: requireUser, invalid: refused },
  async (ctx: Pick<Context, 'db' | 'viewer'>, { entryId }, user) =>
    ctx.db.transaction(async (tx): Promise<WaitingListResult> => {
      const entry = await lockEntry(tx, entryId);
      if (!entry || entry.userId !== user.userId)
        return refused([
          { code: 'NOT_FOUND', message: 'no such waiting-list entry', field: ['input', 'entryId'] },
        ]);
      if (entry.status !== 'WAITING' && entry.status !== 'OFFERED') return { entry, errors: [] };
      if (entry.reservationId) await releaseOfferHold(tx, entry.reservationId);
      return { entry: await updateEntry(tx, entry.id, { status: 'LEFT' }), errors: [] };
    }),
);

/** `waitingListEntry(id:)`: the caller's own entry; anyone else's does not exist for them. */
export async function visibleWaitingListEntry(
  ctx: { db: Database; viewer: Viewer },
  { id }: { id: string },
): Promise<WaitingListEntryRow | null> {
  const parsed = uuidInput.safeParse(id);
  if (!parsed.success || ctx.viewer.kind !== 'user') return null;
  const [entry] = await entriesByIds(ctx.db, [parsed.data]);
  return entry && entry.userId === ctx.viewer.userId ? entry : null;
}

// ---------------------------------------------------------------- the sweep

export interface SweepDeps {
  db: Database;
  outbox: Outbox;
  log: Logger;
  /** Opens the entry's sealed email for the offer's mail. */
  people: OrdersPeople;
  /** WAITING_LIST_OFFER_TTL_SECONDS. */
  offerTtlSeconds: number;
}

/**
 * One pass over every event with someone in line: each in its own transaction under the event's
 * offer lock, which every hold and sale of the event also takes, so the stock it offers is counted
 * exactly as a reservation counts it, and two replicas sweeping at once take turns (the second
 * finds the first's offers). Answers how many offers it made.
 */
export async function sweepWaitingLists(deps: SweepDeps): Promise<number> {
  let offered = 0;
  for (const { eventId } of await eventsWithOpenEntries(deps.db)) {
    offered += await deps.db.transaction((tx) => sweepEvent(tx, deps, eventId));
  }
  return offered;
}

/**
 * Settles the offers out (checked out: CLAIMED; released or expired unused: LAPSED), then offers
 * what is free to the line in order of joining: the first WAITING entry whose quantity fits gets a
 * hold of its own (OFFERED) and `waitingListOffered` for messaging to mail; entries that do not
 * fit keep their place. A cancelled or finished event's line lapses.
 */
async function sweepEvent(tx: Transaction, deps: SweepDeps, eventId: string): Promise<number> {
  const offer = await lockOffer(tx, eventId);
  if (!offer) return 0;
  const now = new Date();
  const entries = await openEntriesOfEvent(tx, eventId);
  const over = offer.status === 'CANCELLED' || offer.status === 'ENDED' || offer.endsAt <= now;
  const waiting: WaitingListEntryRow[] = [];
  for (const { entry, offer: hold } of entries) {
    if (entry.status === 'OFFERED' && hold === 'CLAIMED')
      await updateEntry(tx, entry.id, { status: 'CLAIMED' });
    else if (entry.status === 'OFFERED' && hold !== 'LIVE')
      await updateEntry(tx, entry.id, { status: 'LAPSED' });
    else if (entry.status === 'WAITING' && over) await updateEntry(tx, entry.id, { status: 'LAPSED' });
    else if (entry.status === 'WAITING') waiting.push(entry);
  }
  if (!waiting.length || offer.status !== 'PUBLISHED') return 0;
  await markExpiredHolds(tx, eventId);
  const types = await ticketTypesOfOffer(tx, eventId);
  let offered = 0;
  for (const entry of waiting) {
    const holds = new Map(
      (await activeHolds(tx, eventId, entry.userId)).map((hold) => [hold.ticketTypeId, hold]),
    );
    // Sold out (the usual case while people wait): one count per pass, however long the line.
    if (!anythingFree(offer, types, holds)) break;
    const found = fit(
      offer,
      types,
      holds,
      entry,
      // A named type was checked at joining, hidden ones included (for the organization's members).
      { organizations: entry.ticketTypeId ? { [offer.organizationId]: 'STAFF' } : {} },
      now,
    );
    if (!('line' in found)) continue;
    const reservation = await insertReservation(
      tx,
      {
        id: uuidv7(),
        buyerId: entry.userId,
        waitingListEntryId: entry.id,
        eventId,
        currency: offer.currency,
      },
      [found.line],
      deps.offerTtlSeconds,
    );
    // A fresh id and no idempotency key: nothing can conflict.
    if (!reservation) throw new Error('waiting-list offer hold not stored');
    await updateEntry(tx, entry.id, { status: 'OFFERED', reservationId: reservation.id, offeredAt: now });
    await deps.outbox.publish(tx, waitingListOffered, entry.id, {
      entryId: entry.id,
      eventId,
      userId: entry.userId,
      email: await openEntryEmail(tx, deps.people, entry),
      reservationId: reservation.id,
      quantity: found.line.quantity,
      eventTitle: offer.title,
      expiresAt: reservation.expiresAt.toISOString(),
    });
    offered += 1;
  }
  return offered;
}

/** Sweeps every `intervalMs` (WAITING_LIST_SWEEP_MS) until stopped; a failed pass is logged and the next tries again. */
export const startWaitingListSweep = (deps: SweepDeps, intervalMs: number) =>
  runPeriodically(
    intervalMs,
    async () => {
      const offered = await sweepWaitingLists(deps);
      if (offered) deps.log.info({ offered }, 'waiting-list offers made');
    },
    (error) => deps.log.error({ err: error }, 'waiting-list sweep failed'),
  );
