import { v7 as uuidv7 } from 'uuid';
import { describe, expect, it } from 'vitest';
import {
  call,
  count,
  type Event,
  type EventPayload,
  footprint,
  inAYear,
  MUTATIONS,
  mutate,
  ORG,
  seedEvent,
  seedPublished,
  seedTicketType,
  sql,
  startCatalog,
  type UserError,
} from './support.ts';

startCatalog();

/** What the outbox holds for one event, in order. */
/** The event's own events; its offers (aggregate `event_offer`) are offers.test.ts's. */
const outboxOf = (eventId: string) =>
  sql<
    Array<{ type: string; sequence: number; payload: Record<string, unknown>; correlation_id: string | null }>
  >`
    select type, sequence::int, payload, correlation_id from catalog.outbox
    where aggregate_type = 'event' and aggregate_id = ${eventId} order by sequence`;

describe('publishing, rescheduling, cancelling and their events', () => {
  it('refuses to publish without a future start, a ticket type or a place, naming each', async () => {
    const past = new Date(Date.now() - 86_400_000).toISOString();
    const event = await seedEvent({ title: 'Not ready', startsAt: past, endsAt: inAYear(), venue: null });
    const { event: published, errors } = await mutate('owner', 'publishEvent', { id: event.id });
    expect(published).toBeNull();
    expect(errors.map((error) => [error.code, error.field])).toEqual([
      ['INVALID_INPUT', ['event', 'startsAt']],
      ['INVALID_INPUT', ['event', 'ticketTypes']],
      ['INVALID_INPUT', ['event', 'venue']],
    ]);
    expect(await outboxOf(event.id)).toEqual([]);
    const [row] = await sql`select status from catalog.events where id = ${event.id}`;
    expect(row!.status).toBe('DRAFT');
  });

  it('publishes bilten.catalog.event.published once, with the request id as correlation id', async () => {
    const event = await seedEvent({ title: 'Going live' });
    await seedTicketType(event.id);
    const requestId = `pub-${uuidv7()}`;
    const first = await call<{ publishEvent: EventPayload }>(
      'owner',
      MUTATIONS.publishEvent,
      { input: { id: event.id } },
      { 'x-request-id': requestId },
    );
    expect(first.data!.publishEvent.event!.status).toBe('PUBLISHED');
    const again = await mutate('owner', 'publishEvent', { id: event.id });
    expect(again.errors).toEqual([]);
    const rows = await outboxOf(event.id);
    expect(rows).toEqual([
      {
        type: 'bilten.catalog.event.published',
        sequence: 1,
        correlation_id: requestId,
        payload: expect.objectContaining({
          eventId: event.id,
          organizationId: ORG,
          title: 'Going live',
          visibility: 'PUBLIC',
        }),
      },
    ]);
  });

  it('publishes rescheduled for a date or venue change after publishing, not for a new title or before publishing', async () => {
    const draft = await seedEvent({ title: 'Moving draft' });
    await mutate('owner', 'updateEvent', {
      id: draft.id,
      expectedVersion: 1,
      startsAt: inAYear(1),
      endsAt: inAYear(5),
    });
    expect(await outboxOf(draft.id)).toEqual([]);

    const event = await seedPublished({ title: 'Moving show' });
    let version = event.version;
    const update = async (changes: Record<string, unknown>) => {
      const result = await mutate('owner', 'updateEvent', {
        id: event.id,
        expectedVersion: version,
        ...changes,
      });
      expect(result.errors).toEqual([]);
      version = result.event!.version;
    };
    await update({ title: 'Moving show!' });
    await update({ startsAt: inAYear(48), endsAt: inAYear(52) });
    await update({ venue: { name: 'Zetra', address: 'Alipašina bb', city: 'Sarajevo', country: 'BA' } });
    const rows = await outboxOf(event.id);
    expect(rows.map((row) => row.type)).toEqual([
      'bilten.catalog.event.published',
      'bilten.catalog.event.rescheduled',
      'bilten.catalog.event.rescheduled',
    ]);
    expect(rows[1]!.payload).toMatchObject({
      eventId: event.id,
      previous: { startsAt: event.startsAt },
    });
    expect((rows[1]!.payload.startsAt as string).slice(0, 13)).toBe(
      new Date(inAYear(48)).toISOString().slice(0, 13),
    );
    expect(rows[2]!.payload).toMatchObject({
      venue: { name: 'Zetra' },
      previous: { venue: { name: 'Dom mladih' } },
    });
  });

  it('cancels with bilten.catalog.event.cancelled; a cancelled event cannot be changed or published', async () => {
    const event = await seedPublished({ title: 'Rained out' });
    const cancelled = await mutate('owner', 'cancelEvent', { id: event.id, reason: 'Storm warning' });
    expect(cancelled.event!.status).toBe('CANCELLED');
    expect((await mutate('owner', 'cancelEvent', { id: event.id })).errors).toEqual([]);
    const rows = await outboxOf(event.id);
    expect(rows.map((row) => row.type)).toEqual([
      'bilten.catalog.event.published',
      'bilten.catalog.event.cancelled',
    ]);
    expect(rows[1]!.payload).toMatchObject({ eventId: event.id, reason: 'Storm warning', ticketsSold: 0 });
    const update = await mutate('owner', 'updateEvent', {
      id: event.id,
      expectedVersion: cancelled.event!.version,
      title: 'x',
    });
    expect(update.errors.map((e) => e.field)).toEqual([['input', 'id']]);
    const publish = await mutate('owner', 'publishEvent', { id: event.id });
    expect(publish.errors.map((e) => e.code)).toEqual(['INVALID_INPUT']);
  });

  it('refuses a currency change once tickets are sold, and moves ticket prices along before', async () => {
    const event = await seedEvent({ title: 'Currency' });
    await seedTicketType(event.id);
    const before = await mutate('owner', 'updateEvent', {
      id: event.id,
      expectedVersion: 2,
      currency: 'BAM',
    });
    expect(before.errors).toEqual([]);
    expect(before.event!.ticketTypes.map((t) => t.price)).toEqual([{ amount: 2500, currency: 'BAM' }]);
    // Orders will keep this column up to date from its events.
    await sql`update catalog.events set tickets_sold = 3 where id = ${event.id}`;
    const after = await mutate('owner', 'updateEvent', { id: event.id, expectedVersion: 3, currency: 'EUR' });
    expect(after).toMatchObject({
      event: null,
      errors: [{ code: 'INVALID_INPUT', field: ['input', 'currency'] }],
    });
    const [row] = await sql`select currency, version from catalog.events where id = ${event.id}`;
    expect(row).toEqual({ currency: 'BAM', version: 3 });
  });

  it('keeps the capacity at or above the tickets sold, on update and on restore', async () => {
    const event = await seedPublished({ title: 'Small club', capacity: 300 });
    const version = async () =>
      (await sql`select version from catalog.events where id = ${event.id}`)[0]!.version as number;
    const versionWith = async (capacity: number) =>
      (
        await sql`select version from catalog.event_versions
          where event_id = ${event.id} and (snapshot->>'capacity')::int = ${capacity} order by version limit 1`
      )[0]!.version as number;
    const update = async (capacity: number) =>
      mutate('owner', 'updateEvent', { id: event.id, expectedVersion: await version(), capacity });
    const restore = async (capacity: number) =>
      mutate('owner', 'restoreEventVersion', {
        eventId: event.id,
        version: await versionWith(capacity),
        expectedVersion: await version(),
      });
    const sell = (sold: number) =>
      sql`update catalog.events set tickets_sold = ${sold} where id = ${event.id}`;

    expect((await update(50)).errors).toEqual([]);
    await sell(40);
    expect(await update(39)).toMatchObject({
      event: null,
      errors: [{ code: 'INVALID_INPUT', field: ['input', 'capacity'] }],
    });
    expect((await update(40)).errors).toEqual([]);
    // A version with room for what is sold may come back; one with less may not.
    await sell(45);
    expect((await restore(50)).errors).toEqual([]);
    await sell(50);
    const refused = await restore(40);
    expect(refused.errors.map((e) => e.field)).toEqual([['input', 'capacity']]);
    const [row] = await sql`select capacity from catalog.events where id = ${event.id}`;
    expect(row).toEqual({ capacity: 50 });
    expect((await restore(300)).errors).toEqual([]);
  });

  it('unpublishes while nothing is sold, not after', async () => {
    const event = await seedPublished({ title: 'Second thoughts' });
    expect((await mutate('owner', 'unpublishEvent', { id: event.id })).event!.status).toBe('DRAFT');
    await mutate('owner', 'publishEvent', { id: event.id });
    await sql`update catalog.events set tickets_sold = 1 where id = ${event.id}`;
    const refused = await mutate('owner', 'unpublishEvent', { id: event.id });
    expect(refused.errors.map((e) => e.code)).toEqual(['INVALID_INPUT']);
  });

  it('reports ENDED for a published event whose end has passed', async () => {
    const event = await seedPublished({ title: 'Yesterday' });
    await sql`update catalog.events set starts_at = now() - interval '2 days', ends_at = now() - interval '1 day' where id = ${event.id}`;
    const { data } = await call<{ event: { status: string } }>(
      'anonymous',
      'query($id: ID!) { event(id: $id) { status } }',
      {
        id: event.id,
      },
    );
    expect(data!.event.status).toBe('ENDED');
  });
});

describe('deleteEvent', () => {
  it('deletes a draft without sales with its ticket types and versions, keeps the audit, and repeats harmlessly', async () => {
    const event = await seedEvent({ title: 'Throwaway' });
    await seedTicketType(event.id);
    const first = await mutate<{ deletedEventId: string; event: null; errors: UserError[] }>(
      'owner',
      'deleteEvent',
      {
        id: event.id,
      },
    );
    expect(first).toEqual({ deletedEventId: event.id, event: null, errors: [] });
    expect(await count('catalog.events where id = $1', event.id)).toBe(0);
    expect(await count('catalog.ticket_types where event_id = $1', event.id)).toBe(0);
    expect(await count('catalog.event_versions where event_id = $1', event.id)).toBe(0);
    const audit =
      await sql`select action, before, after from catalog.audit_log where target_id = ${event.id} and action = 'event.deleted'`;
    expect(audit).toEqual([
      {
        action: 'event.deleted',
        before: expect.objectContaining({ title: 'Throwaway', version: 2 }),
        after: null,
      },
    ]);
    const before = await footprint();
    expect(await mutate('owner', 'deleteEvent', { id: event.id })).toEqual(first);
    expect(await footprint()).toEqual(before);
    expect(await outboxOf(event.id)).toEqual([]);
  });

  it('cancels an event with sales instead, publishing cancelled once however often it is repeated', async () => {
    const event = await seedPublished({ title: 'Sold some' });
    await sql`update catalog.events set tickets_sold = 12 where id = ${event.id}`;
    for (let i = 0; i < 3; i++) {
      const result = await mutate<{ deletedEventId: string | null; event: Event; errors: UserError[] }>(
        'owner',
        'deleteEvent',
        { id: event.id },
      );
      expect(result).toMatchObject({
        deletedEventId: null,
        event: { id: event.id, status: 'CANCELLED' },
        errors: [],
      });
    }
    const rows = await outboxOf(event.id);
    expect(rows.map((row) => row.type)).toEqual([
      'bilten.catalog.event.published',
      'bilten.catalog.event.cancelled',
    ]);
    expect(rows[1]!.payload).toMatchObject({ ticketsSold: 12 });
    expect(await count('catalog.ticket_types where event_id = $1', event.id)).toBe(1);
  });
});
