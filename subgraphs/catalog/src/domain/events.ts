import {
  type AuditEntry,
  actorIdOf,
  auditWriter,
  type BaseContext,
  DomainError,
  isStorableInstant,
  requireOrgAccess,
  type Transaction,
  type UserError,
  userErrorsFrom,
  uuidInput,
  type Viewer,
} from '@bilten/platform';
import { v7 as uuidv7 } from 'uuid';
import {
  deleteEventRow,
  eventVersion,
  insertEvent,
  insertEventVersion,
  insertTicketType,
  lockEvent,
  refreshPriceRange,
  repriceTicketTypes,
  ticketTypesByEventIds,
  ticketTypesByIds,
  updateEventRow,
  updateTicketTypeRow,
} from '../db/queries.ts';
import { auditLog, type EventRow, type events, type TicketTypeRow } from '../db/schema.ts';
import { eventCancelled, eventPublished, eventRescheduled } from '../events.ts';
import { renderDescription } from './description.ts';
import {
  addOccurrencesInput,
  addTicketTypeInput,
  cancelEventInput,
  changeRuleErrors,
  createEventInput,
  duplicateEventInput,
  type EventDefinitionInput,
  eventRuleErrors,
  idInput,
  restoreEventVersionInput,
  salesWindowErrors,
  updateEventInput,
  updateTicketTypeInput,
} from './validation.ts';

/** What a catalog mutation needs from the request. */
export type MutationContext = Pick<
  BaseContext,
  'db' | 'viewer' | 'outbox' | 'requestId' | 'clientIp' | 'userAgent'
>;

export interface EventResult {
  event: EventRow | null;
  errors: UserError[];
  currentVersion?: number | null;
}
export interface TicketTypeResult {
  ticketType: TicketTypeRow | null;
  errors: UserError[];
}

const invalid = (message: string, field: string[] | null = null): UserError => ({
  code: 'INVALID_INPUT',
  message,
  ...(field ? { field } : {}),
});
const notFound = (field: string[]): UserError => ({ code: 'NOT_FOUND', message: 'no such event', field });

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

/** Everyone sees what was published; drafts only those who see all of the organization's events. */
export const canSeeEvent = (viewer: Viewer, event: EventRow) =>
  event.status !== 'DRAFT' || seesAllEventsOf(viewer, event.organizationId);

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
function requireCaller(viewer: Viewer) {
  if (viewer.kind === 'anonymous')
    throw new DomainError('UNAUTHENTICATED', 'sign in or use an API key first');
}

/** Who made a change, as versions and audit entries record it: a user's or an API key's id. */
// ---------------------------------------------------------------- snapshots and versions

const iso = (date: Date | null) => date?.toISOString() ?? null;

function venueOf(event: EventRow) {
  return event.venueName
    ? {
        name: event.venueName,
        address: event.venueAddress!,
        city: event.venueCity!,
        country: event.venueCountry!,
        latitude: event.venueLatitude,
        longitude: event.venueLongitude,
      }
    : null;
}

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
    refundPolicy: {
      kind: event.refundPolicy,
      daysBeforeStart: event.refundDaysBeforeStart,
      percent: event.refundPercent,
    },
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
      hidden: type.hidden,
      sortOrder: type.sortOrder,
    })),
  };
}
export type EventSnapshot = ReturnType<typeof snapshotOf>;

/** `{ field: { from, to } }` for every top-level field that differs. */
export function diffOf(before: EventSnapshot | null, after: EventSnapshot): Record<string, unknown> {
  const diff: Record<string, { from: unknown; to: unknown }> = {};
  for (const [field, to] of Object.entries(after)) {
    const from = before ? before[field as keyof EventSnapshot] : null;
    if (JSON.stringify(from) !== JSON.stringify(to)) diff[field] = { from, to };
  }
  return diff;
}

interface Recorded {
  action: string;
  before: EventSnapshot | null;
  event: EventRow;
  /** For changes to a ticket type: the audit entry is about it. */
  auditTarget?: { type: string; id: string; before: unknown; after: unknown };
}

/** The version row and the audit entry of one change, in its transaction. */
async function record(
  tx: Transaction,
  ctx: MutationContext,
  { action, before, event, auditTarget }: Recorded,
) {
  const after = snapshotOf(event, await ticketTypesByEventIds(tx, [event.id]));
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
  return after;
}

const audit = auditWriter(auditLog);

const writeAudit = (
  tx: Transaction,
  ctx: MutationContext,
  entry: Omit<AuditEntry, 'actor' | 'requestId' | 'ip' | 'userAgent'>,
) =>
  audit(tx, {
    ...entry,
    actor: ctx.viewer,
    requestId: ctx.requestId,
    ip: ctx.clientIp,
    userAgent: ctx.userAgent,
  });

// ---------------------------------------------------------------- event definition

/** Input fields → column values; only the fields present in `input` are returned. */
function columnsOf(input: EventDefinitionInput): Partial<typeof events.$inferInsert> {
  const columns: Partial<typeof events.$inferInsert> = {};
  const set = <K extends keyof typeof events.$inferInsert>(
    key: K,
    value: (typeof events.$inferInsert)[K],
  ) => {
    columns[key] = value;
  };
  if (input.title !== undefined) set('title', input.title);
  if (input.description !== undefined) {
    set('description', input.description?.description ?? null);
    set('descriptionHtml', input.description?.descriptionHtml ?? null);
  }
  if (input.category !== undefined) set('category', input.category);
  if (input.tags !== undefined) set('tags', input.tags);
  if (input.imageIds !== undefined) set('imageIds', input.imageIds);
  if (input.startsAt !== undefined) set('startsAt', input.startsAt);
  if (input.endsAt !== undefined) set('endsAt', input.endsAt);
  if (input.timezone !== undefined) set('timezone', input.timezone);
  if (input.venue !== undefined) {
    set('venueName', input.venue?.name ?? null);
    set('venueAddress', input.venue?.address ?? null);
    set('venueCity', input.venue?.city ?? null);
    set('venueCountry', input.venue?.country ?? null);
    set('venueLatitude', input.venue?.latitude ?? null);
    set('venueLongitude', input.venue?.longitude ?? null);
  }
  if (input.onlineUrl !== undefined) set('onlineUrl', input.onlineUrl ?? null);
  if (input.currency !== undefined) set('currency', input.currency);
  if (input.capacity !== undefined) set('capacity', input.capacity);
  if (input.refundPolicy !== undefined) {
    set('refundPolicy', input.refundPolicy?.kind ?? 'NONE');
    set('refundDaysBeforeStart', input.refundPolicy?.daysBeforeStart ?? null);
    set('refundPercent', input.refundPolicy?.percent ?? null);
  }
  if (input.visibility !== undefined) set('visibility', input.visibility);
  return columns;
}

export async function createEvent(ctx: MutationContext, input: unknown): Promise<EventResult> {
  requireCaller(ctx.viewer);
  // Outsiders learn nothing, not even which of their inputs would be invalid.
  const organizationId = uuidInput.safeParse((input as { organizationId?: unknown }).organizationId);
  if (organizationId.success) requireOrgAccess(ctx.viewer, organizationId.data, EDIT_EVENTS);
  const parsed = createEventInput.safeParse(input);
  if (!parsed.success) return { event: null, errors: userErrorsFrom(parsed.error) };
  const { organizationId: orgId, ...definition } = parsed.data;
  const errors = eventRuleErrors(definition);
  if (errors.length) return { event: null, errors };
  const event = await ctx.db.transaction(async (tx) => {
    const created = await insertEvent(tx, {
      id: uuidv7(),
      organizationId: orgId,
      ...columnsOf({
        ...definition,
        category: definition.category ?? 'OTHER',
        tags: definition.tags ?? [],
        imageIds: definition.imageIds ?? [],
        visibility: definition.visibility ?? 'PUBLIC',
      }),
    } as typeof events.$inferInsert);
    await record(tx, ctx, { action: 'event.created', before: null, event: created });
    return created;
  });
  return { event, errors: [] };
}

/**
 * Locks the event and checks the caller may edit it, then runs `change`; a thrown FORBIDDEN
 * rolls back the transaction, so nothing is written for outsiders.
 */
async function withEditableEvent<T>(
  ctx: MutationContext,
  eventId: string,
  change: (tx: Transaction, event: EventRow) => Promise<T>,
  missing: () => T,
): Promise<T> {
  requireCaller(ctx.viewer);
  return ctx.db.transaction(async (tx) => {
    const event = await lockEvent(tx, eventId);
    if (!event) return missing();
    requireOrgAccess(ctx.viewer, event.organizationId, EDIT_EVENTS);
    return change(tx, event);
  });
}

const changedSchedule = (before: EventSnapshot, after: EventSnapshot) =>
  (['startsAt', 'endsAt', 'timezone', 'venue', 'onlineUrl'] as const).some(
    (field) => JSON.stringify(before[field]) !== JSON.stringify(after[field]),
  );

const scheduleOf = (snapshot: EventSnapshot) => ({
  startsAt: snapshot.startsAt!,
  endsAt: snapshot.endsAt!,
  timezone: snapshot.timezone,
  venue: snapshot.venue,
  onlineUrl: snapshot.onlineUrl,
});

/**
 * The one path of every change to an event's definition (updateEvent, restoreEventVersion):
 * a change that changes nothing answers the event as it is (no version, no audit entry); else
 * rules checked on the state after the change, version bumped, version and audit written,
 * `rescheduled` published when a published event moves in time or place.
 */
async function applyDefinition(
  tx: Transaction,
  ctx: MutationContext,
  event: EventRow,
  changes: EventDefinitionInput,
  action: string,
): Promise<EventResult> {
  if (event.status === 'CANCELLED') {
    return { event: null, errors: [invalid('a cancelled event cannot be changed', ['input', 'id'])] };
  }
  const types = await ticketTypesByEventIds(tx, [event.id]);
  const merged = { ...event, ...columnsOf(changes) } as EventRow;
  const before = snapshotOf(event, types);
  if (Object.keys(diffOf(before, snapshotOf(merged, types))).length === 0) return { event, errors: [] };
  const errors = [...eventRuleErrors(merged), ...changeRuleErrors(event, merged, types)];
  if (changes.currency !== undefined && changes.currency !== event.currency && event.ticketsSold > 0) {
    errors.push(invalid('cannot change once tickets are sold', ['input', 'currency']));
  }
  // The capacity is the quota all ticket types sell from: what is sold already stays sold.
  if (merged.capacity < event.ticketsSold) {
    errors.push(invalid(`cannot be less than the ${event.ticketsSold} tickets sold`, ['input', 'capacity']));
  }
  if (errors.length) return { event: null, errors };
  if (merged.currency !== event.currency) await repriceTicketTypes(tx, event.id, merged.currency);
  const updated = await updateEventRow(tx, event.id, columnsOf(changes));
  const after = await record(tx, ctx, { action, before, event: updated });
  if (updated.status === 'PUBLISHED' && changedSchedule(before, after)) {
    await ctx.outbox.publish(tx, eventRescheduled, updated.id, {
      eventId: updated.id,
      organizationId: updated.organizationId,
      title: updated.title,
      ...scheduleOf(after),
      previous: scheduleOf(before),
    });
  }
  return { event: updated, errors: [] };
}

const conflict = (current: number): EventResult => ({
  event: null,
  errors: [
    {
      code: 'CONFLICT',
      message: `the event was changed meanwhile: it is at version ${current}`,
      field: ['input', 'expectedVersion'],
    },
  ],
  currentVersion: current,
});

export async function updateEvent(ctx: MutationContext, input: unknown): Promise<EventResult> {
  requireCaller(ctx.viewer);
  const parsed = updateEventInput.safeParse(input);
  if (!parsed.success) return { event: null, errors: userErrorsFrom(parsed.error) };
  const { id, expectedVersion, ...changes } = parsed.data;
  return withEditableEvent<EventResult>(
    ctx,
    id,
    async (tx, event) =>
      event.version !== expectedVersion
        ? conflict(event.version)
        : applyDefinition(tx, ctx, event, changes, 'event.updated'),
    () => ({ event: null, errors: [notFound(['input', 'id'])] }),
  );
}

/** A version's details come back as a new version; status and ticket types stay as they are. */
export async function restoreEventVersion(ctx: MutationContext, input: unknown): Promise<EventResult> {
  requireCaller(ctx.viewer);
  const parsed = restoreEventVersionInput.safeParse(input);
  if (!parsed.success) return { event: null, errors: userErrorsFrom(parsed.error) };
  const { eventId, version, expectedVersion } = parsed.data;
  return withEditableEvent<EventResult>(
    ctx,
    eventId,
    async (tx, event) => {
      if (event.version !== expectedVersion) return conflict(event.version);
      const stored = await eventVersion(tx, eventId, version);
      if (!stored) {
        return {
          event: null,
          errors: [{ code: 'NOT_FOUND', message: 'no such version', field: ['input', 'version'] }],
        };
      }
      const snapshot = stored.snapshot as EventSnapshot;
      const { ticketTypes: _types, status: _status, startsAt, endsAt, description, ...rest } = snapshot;
      // Rendered again: what was safe then must still pass today's rules.
      const rendered = description === null ? null : renderDescription(description);
      if (rendered && !rendered.ok)
        return { event: null, errors: [invalid(rendered.message, ['input', 'version'])] };
      const changes = {
        ...rest,
        startsAt: new Date(startsAt!),
        endsAt: new Date(endsAt!),
        description: rendered,
      } as EventDefinitionInput;
      return applyDefinition(tx, ctx, event, changes, 'event.restored');
    },
    () => ({ event: null, errors: [notFound(['input', 'eventId'])] }),
  );
}

// ---------------------------------------------------------------- ticket types

const cancelledEventErrors = (event: EventRow): UserError[] =>
  event.status === 'CANCELLED' ? [invalid('a cancelled event cannot be changed', ['input', 'eventId'])] : [];

export async function addTicketType(ctx: MutationContext, input: unknown): Promise<TicketTypeResult> {
  requireCaller(ctx.viewer);
  const parsed = addTicketTypeInput.safeParse(input);
  if (!parsed.success) return { ticketType: null, errors: userErrorsFrom(parsed.error) };
  const { eventId, price, ...fields } = parsed.data;
  return withEditableEvent<TicketTypeResult>(
    ctx,
    eventId,
    async (tx, event) => {
      const row = {
        ...fields,
        salesStartAt: fields.salesStartAt ?? null,
        salesEndAt: fields.salesEndAt ?? null,
        minPerOrder: fields.minPerOrder ?? 1,
        maxPerOrder: fields.maxPerOrder ?? 10,
        hidden: fields.hidden ?? false,
        sortOrder: fields.sortOrder ?? 0,
      };
      const errors = [...cancelledEventErrors(event), ...salesWindowErrors(row, event)];
      if (price.currency !== event.currency) {
        errors.push(
          invalid(`must be in the event's currency ${event.currency}`, ['input', 'price', 'currency']),
        );
      }
      if (errors.length) return { ticketType: null, errors };
      const before = snapshotOf(event, await ticketTypesByEventIds(tx, [event.id]));
      const ticketType = await insertTicketType(tx, {
        id: uuidv7(),
        eventId,
        ...row,
        priceAmount: price.amount,
        priceCurrency: price.currency,
      });
      const updated = await updateEventRow(tx, event.id, {});
      await record(tx, ctx, {
        action: 'ticket_type.added',
        before,
        event: updated,
        auditTarget: { type: 'ticket_type', id: ticketType.id, before: null, after: ticketType },
      });
      return { ticketType, errors: [] };
    },
    () => ({ ticketType: null, errors: [notFound(['input', 'eventId'])] }),
  );
}

export async function updateTicketType(ctx: MutationContext, input: unknown): Promise<TicketTypeResult> {
  requireCaller(ctx.viewer);
  const parsed = updateTicketTypeInput.safeParse(input);
  if (!parsed.success) return { ticketType: null, errors: userErrorsFrom(parsed.error) };
  const { id, price, ...fields } = parsed.data;
  const missing = (): TicketTypeResult => ({
    ticketType: null,
    errors: [{ code: 'NOT_FOUND', message: 'no such ticket type', field: ['input', 'id'] }],
  });
  const [existing] = await ticketTypesByIds(ctx.db, [id]);
  if (!existing) return missing();
  return withEditableEvent<TicketTypeResult>(
    ctx,
    existing.eventId,
    async (tx, event) => {
      // Read again under the event's lock: it may have changed since.
      const [current] = await ticketTypesByIds(tx, [id]);
      if (!current) return missing();
      const merged = { ...current, ...fields };
      const errors = [...cancelledEventErrors(event), ...salesWindowErrors(merged, event)];
      if (price && price.currency !== event.currency) {
        errors.push(
          invalid(`must be in the event's currency ${event.currency}`, ['input', 'price', 'currency']),
        );
      }
      if (errors.length) return { ticketType: null, errors };
      const before = snapshotOf(event, await ticketTypesByEventIds(tx, [event.id]));
      const ticketType = await updateTicketTypeRow(tx, id, {
        ...fields,
        ...(price ? { priceAmount: price.amount, priceCurrency: price.currency } : {}),
      });
      const updated = await updateEventRow(tx, event.id, {});
      await record(tx, ctx, {
        action: 'ticket_type.updated',
        before,
        event: updated,
        auditTarget: { type: 'ticket_type', id, before: current, after: ticketType },
      });
      return { ticketType, errors: [] };
    },
    missing,
  );
}

// ---------------------------------------------------------------- lifecycle

const missingEvent = (): EventResult => ({ event: null, errors: [notFound(['input', 'id'])] });

/** DRAFT → PUBLISHED; publishing a published event again changes nothing. */
export async function publishEvent(ctx: MutationContext, input: unknown): Promise<EventResult> {
  requireCaller(ctx.viewer);
  const parsed = idInput.safeParse(input);
  if (!parsed.success) return { event: null, errors: userErrorsFrom(parsed.error) };
  return withEditableEvent<EventResult>(
    ctx,
    parsed.data.id,
    async (tx, event) => {
      if (event.status === 'PUBLISHED') return { event, errors: [] };
      if (event.status !== 'DRAFT') {
        return {
          event: null,
          errors: [invalid(`a ${event.status.toLowerCase()} event cannot be published`, ['input', 'id'])],
        };
      }
      const types = await ticketTypesByEventIds(tx, [event.id]);
      const errors: UserError[] = [];
      if (event.startsAt <= new Date())
        errors.push(invalid('must be in the future to publish', ['event', 'startsAt']));
      if (types.length === 0)
        errors.push(invalid('add at least one ticket type before publishing', ['event', 'ticketTypes']));
      if (!event.venueName && !event.onlineUrl) {
        errors.push(invalid('give a venue or an online URL before publishing', ['event', 'venue']));
      }
      if (errors.length) return { event: null, errors };
      const before = snapshotOf(event, types);
      const published = await updateEventRow(tx, event.id, { status: 'PUBLISHED', publishedAt: new Date() });
      const after = await record(tx, ctx, { action: 'event.published', before, event: published });
      await ctx.outbox.publish(tx, eventPublished, published.id, {
        eventId: published.id,
        organizationId: published.organizationId,
        title: published.title,
        visibility: published.visibility,
        ...scheduleOf(after),
      });
      return { event: published, errors: [] };
    },
    missingEvent,
  );
}

/** PUBLISHED → DRAFT, while nobody holds a ticket. */
export async function unpublishEvent(ctx: MutationContext, input: unknown): Promise<EventResult> {
  requireCaller(ctx.viewer);
  const parsed = idInput.safeParse(input);
  if (!parsed.success) return { event: null, errors: userErrorsFrom(parsed.error) };
  return withEditableEvent<EventResult>(
    ctx,
    parsed.data.id,
    async (tx, event) => {
      if (event.status === 'DRAFT') return { event, errors: [] };
      if (event.status !== 'PUBLISHED') {
        return {
          event: null,
          errors: [invalid(`a ${event.status.toLowerCase()} event cannot be unpublished`, ['input', 'id'])],
        };
      }
      if (event.ticketsSold > 0) {
        return {
          event: null,
          errors: [invalid('tickets are sold: cancel the event instead', ['input', 'id'])],
        };
      }
      const before = snapshotOf(event, await ticketTypesByEventIds(tx, [event.id]));
      const draft = await updateEventRow(tx, event.id, { status: 'DRAFT', publishedAt: null });
      await record(tx, ctx, { action: 'event.unpublished', before, event: draft });
      return { event: draft, errors: [] };
    },
    missingEvent,
  );
}

async function cancel(
  tx: Transaction,
  ctx: MutationContext,
  event: EventRow,
  reason: string | null,
  action: string,
) {
  const before = snapshotOf(event, await ticketTypesByEventIds(tx, [event.id]));
  const cancelled = await updateEventRow(tx, event.id, { status: 'CANCELLED', cancelledAt: new Date() });
  await record(tx, ctx, { action, before, event: cancelled });
  await ctx.outbox.publish(tx, eventCancelled, cancelled.id, {
    eventId: cancelled.id,
    organizationId: cancelled.organizationId,
    title: cancelled.title,
    reason,
    ticketsSold: cancelled.ticketsSold,
  });
  return cancelled;
}

/** DRAFT or PUBLISHED → CANCELLED, for good; cancelling again changes nothing. */
export async function cancelEvent(ctx: MutationContext, input: unknown): Promise<EventResult> {
  requireCaller(ctx.viewer);
  const parsed = cancelEventInput.safeParse(input);
  if (!parsed.success) return { event: null, errors: userErrorsFrom(parsed.error) };
  return withEditableEvent<EventResult>(
    ctx,
    parsed.data.id,
    async (tx, event) => {
      if (event.status === 'CANCELLED') return { event, errors: [] };
      if (event.endsAt <= new Date()) {
        return {
          event: null,
          errors: [invalid('an event that has ended cannot be cancelled', ['input', 'id'])],
        };
      }
      return {
        event: await cancel(tx, ctx, event, parsed.data.reason ?? null, 'event.cancelled'),
        errors: [],
      };
    },
    missingEvent,
  );
}

export interface DeleteResult {
  deletedEventId: string | null;
  event: EventRow | null;
  errors: UserError[];
}

/**
 * A draft nobody bought a ticket for disappears with its ticket types and versions (the audit
 * entry keeps its last state); anything else is cancelled instead, so orders can refund.
 * Repeating it finds nothing to do and answers the same.
 */
export async function deleteEvent(ctx: MutationContext, input: unknown): Promise<DeleteResult> {
  requireCaller(ctx.viewer);
  const parsed = idInput.safeParse(input);
  if (!parsed.success) return { deletedEventId: null, event: null, errors: userErrorsFrom(parsed.error) };
  const { id } = parsed.data;
  return withEditableEvent<DeleteResult>(
    ctx,
    id,
    async (tx, event): Promise<DeleteResult> => {
      if (event.status === 'CANCELLED') return { deletedEventId: null, event, errors: [] };
      if (event.status === 'DRAFT' && event.ticketsSold === 0) {
        const before = snapshotOf(event, await ticketTypesByEventIds(tx, [event.id]));
        await deleteEventRow(tx, event.id);
        await writeAudit(tx, ctx, {
          action: 'event.deleted',
          scopeId: event.organizationId,
          targetType: 'event',
          targetId: event.id,
          before: { version: event.version, ...before },
          after: null,
        });
        return { deletedEventId: event.id, event: null, errors: [] };
      }
      return {
        deletedEventId: null,
        event: await cancel(tx, ctx, event, null, 'event.deleted_as_cancelled'),
        errors: [],
      };
    },
    () => ({ deletedEventId: id, event: null, errors: [] }),
  );
}

/**
 * Whether a copy of `source` (with its ticket types) moved to start at `startsAt` keeps its end
 * and sales windows within the years 1–9999; else it could not be stored or read back.
 */
function copyFits(source: EventRow, types: TicketTypeRow[], startsAt: Date): boolean {
  const shift = startsAt.getTime() - source.startsAt.getTime();
  return [source.endsAt, ...types.flatMap((type) => [type.salesStartAt, type.salesEndAt])].every(
    (instant) => !instant || isStorableInstant(new Date(instant.getTime() + shift)),
  );
}

const copyOutOfRange = (field: string[]) =>
  invalid('the copy would end or sell tickets outside the years 1–9999', field);

/** Copies the definition and ticket types of `source` into a new draft starting at `startsAt`. */
async function copyEvent(
  tx: Transaction,
  ctx: MutationContext,
  source: EventRow,
  types: TicketTypeRow[],
  overrides: { title?: string; startsAt: Date; seriesId: string | null },
  action: string,
): Promise<EventRow> {
  const shift = overrides.startsAt.getTime() - source.startsAt.getTime();
  const {
    id: _id,
    status: _status,
    version: _version,
    ticketsSold: _sold,
    publishedAt: _published,
    cancelledAt: _cancelled,
    createdAt: _created,
    updatedAt: _updated,
    ...definition
  } = source;
  const copy = await insertEvent(tx, {
    ...definition,
    id: uuidv7(),
    title: overrides.title ?? source.title,
    startsAt: overrides.startsAt,
    endsAt: new Date(source.endsAt.getTime() + shift),
    seriesId: overrides.seriesId,
  });
  for (const type of types) {
    const { id: _typeId, eventId: _eventId, createdAt: _typeCreated, ...fields } = type;
    await insertTicketType(tx, {
      ...fields,
      id: uuidv7(),
      eventId: copy.id,
      salesStartAt: fields.salesStartAt && new Date(fields.salesStartAt.getTime() + shift),
      salesEndAt: fields.salesEndAt && new Date(fields.salesEndAt.getTime() + shift),
    });
  }
  await refreshPriceRange(tx, copy.id);
  await record(tx, ctx, { action, before: null, event: copy });
  return copy;
}

export async function duplicateEvent(ctx: MutationContext, input: unknown): Promise<EventResult> {
  requireCaller(ctx.viewer);
  const parsed = duplicateEventInput.safeParse(input);
  if (!parsed.success) return { event: null, errors: userErrorsFrom(parsed.error) };
  const { id, title, startsAt } = parsed.data;
  return withEditableEvent<EventResult>(
    ctx,
    id,
    async (tx, source) => {
      const types = await ticketTypesByEventIds(tx, [source.id]);
      const start = startsAt ?? source.startsAt;
      if (!copyFits(source, types, start))
        return { event: null, errors: [copyOutOfRange(['input', 'startsAt'])] };
      const overrides = { title: title ?? undefined, startsAt: start, seriesId: null };
      return { event: await copyEvent(tx, ctx, source, types, overrides, 'event.duplicated'), errors: [] };
    },
    missingEvent,
  );
}

export interface OccurrencesResult {
  occurrences: EventRow[];
  errors: UserError[];
}

/**
 * A recurring event is a series of ordinary events (each with its own date, status and
 * inventory) that share a series id; new occurrences copy the given one's definition.
 */
export async function addOccurrences(ctx: MutationContext, input: unknown): Promise<OccurrencesResult> {
  requireCaller(ctx.viewer);
  const parsed = addOccurrencesInput.safeParse(input);
  if (!parsed.success) return { occurrences: [], errors: userErrorsFrom(parsed.error) };
  const { eventId, startsAt } = parsed.data;
  return withEditableEvent<OccurrencesResult>(
    ctx,
    eventId,
    async (tx, source) => {
      const types = await ticketTypesByEventIds(tx, [source.id]);
      const outside = startsAt.findIndex((start) => !copyFits(source, types, start));
      if (outside >= 0)
        return { occurrences: [], errors: [copyOutOfRange(['input', 'startsAt', String(outside)])] };
      const seriesId = source.seriesId ?? source.id;
      if (!source.seriesId) {
        // The source becomes the series' first occurrence: a change of its own, recorded as such.
        const before = snapshotOf(source, types);
        const head = await updateEventRow(tx, source.id, { seriesId });
        await record(tx, ctx, { action: 'event.series_started', before, event: head });
      }
      const occurrences: EventRow[] = [];
      for (const start of [...startsAt].sort((a, b) => a.getTime() - b.getTime())) {
        occurrences.push(
          await copyEvent(tx, ctx, source, types, { startsAt: start, seriesId }, 'event.occurrence_added'),
        );
      }
      return { occurrences, errors: [] };
    },
    () => ({ occurrences: [], errors: [notFound(['input', 'eventId'])] }),
  );
}
