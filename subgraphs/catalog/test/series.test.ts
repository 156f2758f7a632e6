import { describe, expect, it } from 'vitest';
import {
  call,
  inAYear,
  mutate,
  OWNER_ID,
  seedEvent,
  seedPublished,
  seedTicketType,
  sql,
  startCatalog,
  type UserError,
  versionsOf,
} from './support.ts';

startCatalog();

describe('duplicateEvent and recurring events', () => {
  it('duplicates into a draft with the same details and ticket types, shifted to a new start', async () => {
    const source = await seedPublished({ title: 'Original' });
    const startsAt = inAYear(24 * 30);
    const { event: copy, errors } = await mutate('owner', 'duplicateEvent', {
      id: source.id,
      title: 'Copy',
      startsAt,
    });
    expect(errors).toEqual([]);
    expect(copy).toMatchObject({ title: 'Copy', status: 'DRAFT', version: 1, currency: 'EUR' });
    expect(copy!.id).not.toBe(source.id);
    expect(new Date(copy!.endsAt).getTime() - new Date(copy!.startsAt).getTime()).toBe(4 * 3_600_000);
    expect(copy!.ticketTypes.map((t) => [t.name, t.price])).toEqual(
      source.ticketTypes.map((t) => [t.name, t.price]),
    );
    expect(copy!.ticketTypes[0]!.id).not.toBe(source.ticketTypes[0]!.id);
  });

  it('adds dated occurrences that share the definition and list each other', async () => {
    const source = await seedEvent({ title: 'Weekly quiz' });
    await seedTicketType(source.id);
    const starts = [inAYear(24 * 14), inAYear(24 * 7)];
    const result = await mutate<{
      occurrences: Array<{ id: string; startsAt: string; status: string }>;
      errors: UserError[];
    }>('owner', 'addOccurrences', { eventId: source.id, startsAt: starts });
    expect(result.errors).toEqual([]);
    expect(result.occurrences.map((o) => o.status)).toEqual(['DRAFT', 'DRAFT']);
    const { data } = await call<{
      event: { occurrences: Array<{ id: string; title: string; ticketTypes: unknown[] }> };
    }>('owner', 'query($id: ID!) { event(id: $id) { occurrences { id title ticketTypes { name } } } }', {
      id: result.occurrences[1]!.id,
    });
    expect(data!.event.occurrences.map((o) => o.id)).toEqual([
      source.id,
      ...result.occurrences.map((o) => o.id),
    ]);
    expect(
      data!.event.occurrences.every((o) => o.title === 'Weekly quiz' && o.ticketTypes.length === 1),
    ).toBe(true);
    const tooMany = await mutate<{ errors: UserError[] }>('owner', 'addOccurrences', {
      eventId: source.id,
      startsAt: Array.from({ length: 53 }, (_, i) => inAYear(i)),
    });
    expect(tooMany.errors.map((e) => e.field)).toEqual([['input', 'startsAt']]);
  });

  it('refuses copies whose end or sales window would fall outside the years 1–9999, storing nothing', async () => {
    const source = await seedEvent({ title: 'Edge of time' });
    // Sales open 60 days before the event: a copy early in year 1 would open them in year 0.
    const salesStartAt = new Date(new Date(source.startsAt).getTime() - 60 * 86_400_000).toISOString();
    await seedTicketType(source.id, { salesStartAt });
    const versions = (await versionsOf(source.id)).length;
    const [before] = await sql`select count(*)::int as n from catalog.events`;
    // The source lasts hours: a copy starting an hour before the end of 9999 would end in 10000.
    const lastHour = '9999-12-31T23:00:00.000Z';
    const duplicated = await mutate<{ event: unknown; errors: UserError[] }>('owner', 'duplicateEvent', {
      id: source.id,
      startsAt: lastHour,
    });
    expect(duplicated.event).toBeNull();
    expect(duplicated.errors.map((e) => [e.code, e.field])).toEqual([
      ['INVALID_INPUT', ['input', 'startsAt']],
    ]);
    const added = await mutate<{ occurrences: unknown[]; errors: UserError[] }>('owner', 'addOccurrences', {
      eventId: source.id,
      startsAt: [inAYear(24 * 7), lastHour],
    });
    expect(added.occurrences).toEqual([]);
    expect(added.errors.map((e) => [e.code, e.field])).toEqual([
      ['INVALID_INPUT', ['input', 'startsAt', '1']],
    ]);
    const earliest = await mutate<{ event: unknown; errors: UserError[] }>('owner', 'duplicateEvent', {
      id: source.id,
      startsAt: '0001-01-10T00:00:00.000Z',
    });
    expect(earliest.errors.map((e) => [e.code, e.field])).toEqual([['INVALID_INPUT', ['input', 'startsAt']]]);
    const [after] = await sql`select count(*)::int as n from catalog.events`;
    expect(after!.n).toBe(before!.n);
    expect(await versionsOf(source.id)).toHaveLength(versions);
  });

  it('records the source joining a series as a version and an audit entry of its own, once', async () => {
    const source = await seedEvent({ title: 'Monthly meetup' });
    const added = await mutate<{ errors: UserError[] }>('owner', 'addOccurrences', {
      eventId: source.id,
      startsAt: [inAYear(24 * 30)],
    });
    expect(added.errors).toEqual([]);
    const versions = await versionsOf(source.id);
    expect(versions.map((v) => [v.version, v.action])).toEqual([
      [2, 'event.series_started'],
      [1, 'event.created'],
    ]);
    expect(versions[0]).toMatchObject({
      actorId: OWNER_ID,
      diff: { seriesId: { from: null, to: source.id } },
      snapshot: { seriesId: source.id },
    });
    expect(Object.keys(versions[0]!.diff)).toEqual(['seriesId']);
    const audit = await sql`
      select action, before, after from catalog.audit_log where target_id = ${source.id} order by id`;
    expect(audit.map((row) => row.action)).toEqual(['event.created', 'event.series_started']);
    expect(audit[1]).toMatchObject({
      before: expect.objectContaining({ seriesId: null }),
      after: expect.objectContaining({ seriesId: source.id, version: 2 }),
    });
    // Once in the series, more occurrences leave the source as it is.
    await mutate('owner', 'addOccurrences', { eventId: source.id, startsAt: [inAYear(24 * 60)] });
    expect(await versionsOf(source.id)).toHaveLength(2);
  });
});
