import type { Transaction } from '@bilten/platform';
import { and, eq } from 'drizzle-orm';
import { waitingListEntries } from './schema.ts';

/**
 * Who is still waiting for the event: whether someone waits for any ticket type, and the ticket
 * types someone waits for by name. Released stock of those goes to the line first (waiting-list.ts),
 * so a reservation may not take it meanwhile.
 */
export async function waitedFor(
  tx: Transaction,
  eventId: string,
): Promise<{ anyType: boolean; ticketTypeIds: Set<string> }> {
  const rows = await tx
    .selectDistinct({ ticketTypeId: waitingListEntries.ticketTypeId })
    .from(waitingListEntries)
    .where(and(eq(waitingListEntries.eventId, eventId), eq(waitingListEntries.status, 'WAITING')));
  return {
    anyType: rows.some((row) => row.ticketTypeId === null),
    ticketTypeIds: new Set(rows.flatMap((row) => (row.ticketTypeId ? [row.ticketTypeId] : []))),
  };
}
