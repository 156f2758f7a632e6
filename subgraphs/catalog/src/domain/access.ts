import {
  type CallerCheck,
  DomainError,
  requireOrgAccess,
  type Transaction,
  uuidInput,
  type Viewer,
} from '@bilten/platform';
import type { Context, MutationContext } from '../context.ts';
import { lockEvent } from '../db/queries.ts';
import type { EventRow, TicketTypeRow } from '../db/schema.ts';

/** Reading an organization's drafts, hidden ticket types and history. */
export const READ_EVENTS = { role: 'STAFF', scope: 'events:read' } as const;
/** Changing an organization's events. */
const EDIT_EVENTS = { role: 'ADMIN', scope: 'events:write' } as const;

/** Members (any role) and API keys with events:read see all of an organization's events. */
export function seesAllEventsOf(viewer: Viewer, organizationId: string): boolean {
  // Most callers of lists are anonymous: answer them without throwing and catching an error per event.
  if (viewer.kind === 'anonymous') return false;
  try {
    requireOrgAccess(viewer, organizationId, READ_EVENTS);
    return true;
  } catch {
    return false;
  }
}

/**
 * What anyone may see of an event by its id: all but drafts, and nothing of a test-mode
 * organization (a sandbox), whose events are test data for its own members and keys alone. Lists
 * apply the same rule in SQL (db/search.ts `listable`), to published public events.
 */
export const isPublic = (event: Pick<EventRow, 'status' | 'testMode'>) =>
  event.status !== 'DRAFT' && !event.testMode;

/** Everyone sees what is public; the rest only those who see all of the organization's events. */
export const canSeeEvent = (viewer: Viewer, event: EventRow) =>
  isPublic(event) || seesAllEventsOf(viewer, event.organizationId);

/** The organizations whose drafts and unlisted events the viewer's lists include. */
export function organizationsSeenInFull(viewer: Viewer): string[] {
  const candidates =
    viewer.kind === 'user'
      ? Object.keys(viewer.organizations)
      : viewer.kind === 'apiKey'
        ? [viewer.organizationId]
        : [];
  return candidates.filter((organizationId) => seesAllEventsOf(viewer, organizationId));
}

/** Users and API keys get as far as the organization check; anonymous callers no further than here. */
export function requireCaller(viewer: Viewer) {
  if (viewer.kind === 'anonymous')
    throw new DomainError('UNAUTHENTICATED', 'sign in or use an API key first');
}

/** Creating events in an organization being closed or closed (see organizationTakesEvents). */
export const organizationClosed = () => new DomainError('FORBIDDEN', 'this organization is closed');

/** Who may create an event: one who may edit the events of the organization the input names. */
export const requireEventCreator: CallerCheck<void> = (viewer, input) => {
  requireCaller(viewer);
  const organizationId = uuidInput.safeParse((input as { organizationId?: unknown }).organizationId);
  if (organizationId.success) requireOrgAccess(viewer, organizationId.data, EDIT_EVENTS);
};

/**
 * Locks the event and checks the caller may edit it, then runs `change`; a thrown FORBIDDEN
 * rolls back the transaction, so nothing is written for outsiders. An event the caller cannot
 * even see (another organization's draft) answers as an unknown id: ids probe nothing.
 */
export async function withEditableEvent<T>(
  ctx: MutationContext,
  eventId: string,
  change: (tx: Transaction, event: EventRow) => Promise<T>,
  missing: () => T,
): Promise<T> {
  return ctx.db.transaction(async (tx) => {
    const event = await lockEvent(tx, eventId);
    if (!event) return missing();
    try {
      requireOrgAccess(ctx.viewer, event.organizationId, EDIT_EVENTS);
    } catch (err) {
      if (!canSeeEvent(ctx.viewer, event)) return missing();
      throw err;
    }
    return change(tx, event);
  });
}

type ReadContext = Pick<Context, 'loaders' | 'viewer'>;

/** An event the caller may see, or null: drafts exist only for their organization's members. */
export async function visibleEvent(ctx: ReadContext, id: string): Promise<EventRow | null> {
  const event = await ctx.loaders.event.load(id);
  return event && canSeeEvent(ctx.viewer, event) ? event : null;
}

/** A ticket type the caller may see, or null: of an event they see, and hidden ones only for insiders. */
export async function visibleTicketType(ctx: ReadContext, id: string): Promise<TicketTypeRow | null> {
  const ticketType = await ctx.loaders.ticketType.load(id);
  if (!ticketType) return null;
  const event = await visibleEvent(ctx, ticketType.eventId);
  return event && (!ticketType.hidden || seesAllEventsOf(ctx.viewer, event.organizationId))
    ? ticketType
    : null;
}

/**
 * An event reached through an object of another subgraph the caller already holds (their
 * reservation, order or ticket): a sandbox's too, which reads by id and lists hide, so a guest
 * buying in test mode sees what they bought. Drafts stay their organization's.
 */
export async function referencedEvent(ctx: ReadContext, id: string): Promise<EventRow | null> {
  const event = await ctx.loaders.event.load(id);
  return event && (event.status !== 'DRAFT' || seesAllEventsOf(ctx.viewer, event.organizationId))
    ? event
    : null;
}

/** A ticket type reached through the caller's own reservation, order or ticket (see referencedEvent); hidden ones only insiders. */
export async function referencedTicketType(ctx: ReadContext, id: string): Promise<TicketTypeRow | null> {
  const ticketType = await ctx.loaders.ticketType.load(id);
  if (!ticketType) return null;
  const event = await referencedEvent(ctx, ticketType.eventId);
  return event && (!ticketType.hidden || seesAllEventsOf(ctx.viewer, event.organizationId))
    ? ticketType
    : null;
}

/** The event's ticket types the caller may see: hidden ones only insiders. */
export async function visibleTicketTypes(ctx: ReadContext, event: EventRow): Promise<TicketTypeRow[]> {
  const types = await ctx.loaders.ticketTypesOfEvent.load(event.id);
  return seesAllEventsOf(ctx.viewer, event.organizationId) ? types : types.filter((type) => !type.hidden);
}
