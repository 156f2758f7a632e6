import {
  type AuditEntry,
  actorIdOf,
  decodeCursor,
  pageSize,
  requireOrgAccess,
  requireOrgRole,
  type Transaction,
  toConnection,
} from '@bilten/platform';
import { z } from 'zod';
import type { Context, MutationContext } from '../context.ts';
import {
  aggregateHasEvents,
  auditEntries,
  insertAuditEntry,
  insertEventVersion,
  ticketTypesByEventIds,
  versionsOf,
} from '../db/queries.ts';
import { type EventRow, MAX_INT, type TicketTypeRow } from '../db/schema.ts';
import { eventOfferChanged } from '../events.ts';
import { READ_EVENTS } from './access.ts';
import { refundPolicyOf, venueOf } from './event-columns.ts';

const iso = (date: Date | null) => date?.toISOString() ?? null;

/** The event as JSON, with its ticket types: what versions store and audit entries compare. */
export function snapshotOf(event: EventRow, ticketTypes: TicketTypeRow[]) {
  return {
    title: event.title,
    description: event.description,
    category: event.category,
    tags: event.tags,
    imageIds: event.imageIds,
    seriesId: event.seriesId,
    startsAt: iso(event.startsAt),
    endsAt: iso(event.endsAt),
    timezone: event.timezone,
    venue: venueOf(event),
    onlineUrl: event.onlineUrl,
    currency: event.currency,
    capacity: event.capacity,
    refundPolicy: refundPolicyOf(event),
    visibility: event.visibility,
    status: event.status,
    ticketTypes: ticketTypes.map((type) => ({
      id: type.id,
      name: type.name,
      price: { amount: type.priceAmount, currency: type.priceCurrency },
      capacity: type.capacity,
      salesStartAt: iso(type.salesStartAt),
      salesEndAt: iso(type.salesEndAt),
      minPerOrder: type.minPerOrder,
      maxPerOrder: type.maxPerOrder,
      maxPerBuyer: type.maxPerBuyer,
      transferable: type.transferable,
      hidden: type.hidden,
      sortOrder: type.sortOrder,
    })),
  };
}
export type EventSnapshot = ReturnType<typeof snapshotOf>;

/** What selling needs of the event, whole: the payload of `offer_changed`. */
const offerOf = (event: EventRow, ticketTypes: TicketTypeRow[]) => ({
  eventId: event.id,
  organizationId: event.organizationId,
  title: event.title,
  status: event.status,
  startsAt: event.startsAt.toISOString(),
  endsAt: event.endsAt.toISOString(),
  timezone: event.timezone,
  currency: event.currency,
  capacity: event.capacity,
  refundPolicy: refundPolicyOf(event),
  ticketTypes: ticketTypes.map((type) => ({
    ticketTypeId: type.id,
    name: type.name,
    priceAmount: type.priceAmount,
    capacity: type.capacity,
    salesStartAt: iso(type.salesStartAt),
    salesEndAt: iso(type.salesEndAt),
    minPerOrder: type.minPerOrder,
    maxPerOrder: type.maxPerOrder,
    maxPerBuyer: type.maxPerBuyer,
    transferable: type.transferable,
    hidden: type.hidden,
  })),
});

/** `{ field: { from, to } }` for every top-level field that differs. */
export function diffOf(before: EventSnapshot | null, after: EventSnapshot): Record<string, unknown> {
  const diff: Record<string, { from: unknown; to: unknown }> = {};
  for (const [field, to] of Object.entries(after)) {
    const from = before ? before[field as keyof EventSnapshot] : null;
    if (JSON.stringify(from) !== JSON.stringify(to)) diff[field] = { from, to };
  }
  return diff;
}

/** When and where, as `published` and `rescheduled` report it. */
export const scheduleOf = (snapshot: EventSnapshot) => ({
  startsAt: snapshot.startsAt!,
  endsAt: snapshot.endsAt!,
  timezone: snapshot.timezone,
  venue: snapshot.venue,
  onlineUrl: snapshot.onlineUrl,
});

interface Recorded {
  action: string;
  before: EventSnapshot | null;
  event: EventRow;
  /** For changes to a ticket type: the audit entry is about it. */
  auditTarget?: { type: string; id: string; before: unknown; after: unknown };
}

/**
 * The version row, the audit entry and the offer of one change, in its transaction. Callers
 * pass the event as it is after the change, ticket types written, so what is read here is current.
 */
export async function record(
  tx: Transaction,
  ctx: MutationContext,
  { action, before, event, auditTarget }: Recorded,
) {
  const ticketTypes = await ticketTypesByEventIds(tx, [event.id]);
  const after = snapshotOf(event, ticketTypes);
  await insertEventVersion(tx, {
    eventId: event.id,
    version: event.version,
    action,
    snapshot: after,
    diff: diffOf(before, after),
    actorId: actorIdOf(ctx.viewer),
    requestId: ctx.requestId,
  });
  await writeAudit(tx, ctx, {
    action,
    scopeId: event.organizationId,
    targetType: auditTarget?.type ?? 'event',
    targetId: auditTarget?.id ?? event.id,
    before: auditTarget ? auditTarget.before : before,
    after: auditTarget ? auditTarget.after : { version: event.version, ...after },
  });
  // Every change passes here, so orders' copy of what it sells cannot miss one. Once an event has
  // been on sale, orders hears of every change, unpublish and cancel included (so it stops
  // selling); drafts never published are none of its business.
  if (
    event.status === 'PUBLISHED' ||
    (await aggregateHasEvents(tx, eventOfferChanged.aggregateType, event.id))
  ) {
    await ctx.outbox.publish(tx, eventOfferChanged, event.id, offerOf(event, ticketTypes));
  }
  return after;
}

/** An audit entry by the caller of this request. */
export const writeAudit = (
  tx: Transaction,
  ctx: MutationContext,
  entry: Omit<AuditEntry, 'actor' | 'requestId' | 'ip' | 'userAgent'>,
) =>
  insertAuditEntry(tx, {
    ...entry,
    actor: ctx.viewer,
    requestId: ctx.requestId,
    ip: ctx.clientIp,
    userAgent: ctx.userAgent,
  });

interface PageArgs {
  first?: number | null;
  after?: string | null;
}

/** An event's versions, newest first, for those who see all of its organization's events. */
export async function eventVersions(ctx: Pick<Context, 'db' | 'viewer'>, event: EventRow, args: PageArgs) {
  requireOrgAccess(ctx.viewer, event.organizationId, READ_EVENTS);
  const size = pageSize(args.first);
  const before = args.after ? decodeCursor(args.after, z.number().int().min(1).max(MAX_INT)) : undefined;
  return toConnection(await versionsOf(ctx.db, event.id, size + 1, before), size, (row) => row.version);
}

/** An organization's audit log, newest first. */
export async function auditLog(
  ctx: Pick<Context, 'db' | 'viewer'>,
  { organizationId, ...args }: PageArgs & { organizationId: string },
) {
  // People only: entries carry staff members' IP addresses and user agents.
  requireOrgRole(ctx.viewer, organizationId, 'ADMIN');
  const size = pageSize(args.first);
  const before = args.after ? decodeCursor(args.after) : undefined;
  return toConnection(await auditEntries(ctx.db, organizationId, size + 1, before), size);
}
