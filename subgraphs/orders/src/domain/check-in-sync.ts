import {
  DomainError,
  decodeCursor,
  displayText,
  mutationRule,
  toConnection,
  type UserError,
} from '@bilten/platform';
import { z } from 'zod';
import type { Context } from '../context.ts';
import type { TicketRow } from '../db/schema.ts';
import {
  admissibleTicketsOfEvent,
  allTicketSigningKeys,
  markCheckedInAt,
  ticketById,
  ticketsByIds,
} from '../db/tickets.ts';
import { publishCheckIn, requireScanner, scannedTicket, scansFor } from './tickets.ts';

// Offline scanners: before the doors open a scanner downloads the event's manifest (the public
// ticket keys and the ids of the tickets that may enter), checks codes against it with no network,
// and later uploads what it scanned. The server stays the judge: each uploaded scan is verified
// as checkInTicket verifies one, and the first scan recorded wins.

type ManifestContext = Pick<Context, 'db' | 'viewer' | 'loaders'>;

/** Most scans one syncCheckIns call takes. */
export const MAX_SCANS_PER_SYNC = 500;
/** Most manifest tickets one page holds (and the default): 500 of them stay within the gateway's query cost. */
export const MANIFEST_PAGE_SIZE = 500;
/** How far ahead of the server's clock a scanner's clock may be before its scans are refused. */
export const SCAN_CLOCK_SKEW_MS = 5 * 60_000;

const eventId = z.uuid();

/** The event's organization when the caller scans for it; null for anyone else and unknown events alike. */
async function scannableOffer(ctx: ManifestContext, id: string) {
  if (ctx.viewer.kind === 'anonymous' || !eventId.safeParse(id).success) return null;
  const offer = await ctx.loaders.offerOfEvent.load(id);
  return offer && scansFor(ctx.viewer, offer.organizationId) ? offer : null;
}

export interface ManifestOfEvent {
  eventId: string;
}

/**
 * `checkInManifest(eventId)`: the organization's members (STAFF and up) and its API keys with the
 * `checkin` scope; null for anyone else, as for an unknown event.
 */
export async function checkInManifest(ctx: ManifestContext, id: string): Promise<ManifestOfEvent | null> {
  return (await scannableOffer(ctx, id)) ? { eventId: id } : null;
}

/**
 * `CheckInManifest.keys`: every ticket signing key, those not signing yet included, so a scanner
 * loaded before a rotation takes effect still reads the tickets the new key signs.
 */
export async function manifestKeys(ctx: Pick<Context, 'db'>) {
  const keys = await allTicketSigningKeys(ctx.db);
  return keys.map((key) => ({
    kid: key.kid,
    publicJwk: JSON.stringify(key.publicJwk),
    activatesAt: key.activatesAt,
  }));
}

/** `CheckInManifest.tickets`: a page of the VALID and CHECKED_IN tickets, in id order. */
export async function manifestTickets(
  ctx: Pick<Context, 'db'>,
  manifest: ManifestOfEvent,
  args: { first?: number | null; after?: string | null },
) {
  const size = args.first ?? MANIFEST_PAGE_SIZE;
  if (!Number.isInteger(size) || size < 1 || size > MANIFEST_PAGE_SIZE)
    throw new DomainError('BAD_USER_INPUT', `first: must be between 1 and ${MANIFEST_PAGE_SIZE}`);
  const afterId = args.after ? decodeCursor(args.after) : undefined;
  const rows = await admissibleTicketsOfEvent(ctx.db, manifest.eventId, size + 1, afterId);
  return toConnection(rows, size);
}

// ---------------------------------------------------------------- uploads

const syncInput = z.object({
  eventId,
  scans: z
    .array(
      z.object({
        code: z.string().min(1).max(2000, 'not a valid ticket'),
        scannedAt: z.date(),
        gate: displayText(100),
        /** Which scanner: logged, not stored (tickets keep the gate only). */
        deviceId: displayText(100).nullish(),
      }),
    )
    .min(1, 'at least one scan')
    .max(MAX_SCANS_PER_SYNC, `at most ${MAX_SCANS_PER_SYNC} scans per call`),
});

export type ScanOutcome = 'CHECKED_IN' | 'ALREADY_CHECKED_IN' | 'INVALID' | 'VOID' | 'NOT_FOUND';

export interface ScanResult {
  /** The scan's position in the upload. */
  index: number;
  /** The ticket the code names; null when it names none the caller may know of. */
  ticketId: string | null;
  outcome: ScanOutcome;
  /** The winning scan's time and gate (this one's for CHECKED_IN). */
  checkedInAt: Date | null;
  gate: string | null;
  message: string | null;
}

export interface SyncCheckInsResult {
  results: ScanResult[] | null;
  errors: UserError[];
}

type Scan = z.output<typeof syncInput>['scans'][number];

const refused = (errors: UserError[]): SyncCheckInsResult => ({ results: null, errors });

/**
 * `syncCheckIns`: the scans an offline scanner made at the event, verified one by one as
 * checkInTicket verifies a scan (a forged or altered code, or a genuine one of another event, is
 * INVALID; another organization's ticket NOT_FOUND, as an unknown one; VOID and TRANSFERRED ones
 * VOID). A scan dated more than SCAN_CLOCK_SKEW_MS ahead of the server's clock, or before its
 * ticket was issued, is INVALID: the scanner's clock is wrong and its time cannot be recorded.
 *
 * First scan wins: scans are applied in scannedAt order (the upload's order breaks ties), each by
 * the conditional UPDATE that online check-in uses, recording the scan's own time and gate. A
 * ticket checked in before (online, or by an earlier upload or scan) answers ALREADY_CHECKED_IN
 * with the winning time and gate: the conflict the door staff need to see. A scan that is the
 * recorded one (same ticket, scannedAt and gate) answers CHECKED_IN again, so uploading a batch a
 * second time (its answer was lost) changes nothing and answers as the first time did.
 *
 * Each check-in commits on its own: an upload cut short is simply uploaded again.
 */
export const syncCheckIns = mutationRule(
  { input: syncInput, caller: requireScanner, invalid: refused },
  async (
    ctx: Pick<Context, 'db' | 'viewer' | 'loaders' | 'ticketKeys' | 'log' | 'outbox'>,
    input,
    scanner,
  ) => {
    if (!(await scannableOffer(ctx, input.eventId)))
      return refused([{ code: 'NOT_FOUND', message: 'no such event', field: ['input', 'eventId'] }]);
    const payloads = await Promise.all(
      input.scans.map((scan) => ctx.ticketKeys.verify(ctx.db, scan.code.trim())),
    );
    const ids = [...new Set(payloads.flatMap((payload) => (payload ? [payload.ticketId] : [])))];
    const ticketsById = new Map((await ticketsByIds(ctx.db, ids)).map((ticket) => [ticket.id, ticket]));
    const order = input.scans
      .map((scan, index) => ({ scan, index }))
      .sort((a, b) => a.scan.scannedAt.getTime() - b.scan.scannedAt.getTime() || a.index - b.index);
    const results: ScanResult[] = [];
    for (const { scan, index } of order) {
      const payload = payloads[index] ?? null;
      const scanned = scannedTicket(
        scanner,
        payload,
        payload ? ticketsById.get(payload.ticketId) : undefined,
      );
      results[index] =
        scanned.kind === 'ticket'
          ? await applyScan(ctx, input.eventId, scanned.ticket, scan, index)
          : outcome(index, null, scanned.kind === 'invalid' ? 'INVALID' : 'NOT_FOUND', {
              message: scanned.kind === 'invalid' ? 'not a valid ticket' : 'no such ticket',
            });
    }
    ctx.log.info(
      {
        eventId: input.eventId,
        scans: input.scans.length,
        devices: [...new Set(input.scans.flatMap((scan) => (scan.deviceId ? [scan.deviceId] : [])))],
        checkedIn: results.filter((result) => result.outcome === 'CHECKED_IN').length,
        conflicts: results.filter((result) => result.outcome === 'ALREADY_CHECKED_IN').length,
      },
      'offline check-ins synced',
    );
    return { results, errors: [] };
  },
);

function outcome(
  index: number,
  ticketId: string | null,
  kind: ScanOutcome,
  details: { checkedInAt?: Date | null; gate?: string | null; message?: string | null } = {},
): ScanResult {
  return {
    index,
    ticketId,
    outcome: kind,
    checkedInAt: details.checkedInAt ?? null,
    gate: details.gate ?? null,
    message: details.message ?? null,
  };
}

async function applyScan(
  ctx: Pick<Context, 'db' | 'outbox'>,
  eventId: string,
  ticket: TicketRow,
  scan: Scan,
  index: number,
): Promise<ScanResult> {
  if (ticket.eventId !== eventId)
    return outcome(index, ticket.id, 'INVALID', { message: 'a ticket of another event' });
  if (scan.scannedAt.getTime() > Date.now() + SCAN_CLOCK_SKEW_MS)
    return outcome(index, ticket.id, 'INVALID', {
      message: "scannedAt is in the future: check the scanner's clock",
    });
  if (scan.scannedAt < ticket.createdAt)
    return outcome(index, ticket.id, 'INVALID', {
      message: "scannedAt is before the ticket was issued: check the scanner's clock",
    });
  const checkedIn = await ctx.db.transaction(async (tx) => {
    const row = await markCheckedInAt(tx, ticket.id, scan.scannedAt, scan.gate);
    if (row) await publishCheckIn(ctx.outbox, tx, row);
    return row;
  });
  if (checkedIn)
    return outcome(index, ticket.id, 'CHECKED_IN', {
      checkedInAt: checkedIn.checkedInAt,
      gate: checkedIn.checkedInGate,
    });
  const now = (await ticketById(ctx.db, ticket.id))!;
  if (now.status === 'CHECKED_IN') {
    const won = { checkedInAt: now.checkedInAt, gate: now.checkedInGate };
    const sameScan =
      now.checkedInAt?.getTime() === scan.scannedAt.getTime() && now.checkedInGate === scan.gate;
    return sameScan
      ? outcome(index, ticket.id, 'CHECKED_IN', won)
      : outcome(index, ticket.id, 'ALREADY_CHECKED_IN', {
          ...won,
          message: `already checked in at ${now.checkedInAt!.toISOString()}${now.checkedInGate ? ` at gate “${now.checkedInGate}”` : ''}`,
        });
  }
  return outcome(index, ticket.id, 'VOID', {
    message:
      now.status === 'TRANSFERRED'
        ? 'this ticket was transferred: its new holder has another code'
        : 'this ticket is void',
  });
}
