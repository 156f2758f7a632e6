import { statementsOf } from '@bilten/testkit';
import { describe, expect, it } from 'vitest';
import {
  call,
  footprint,
  inAYear,
  mutate,
  OWNER_ID,
  type Role,
  seedEvent,
  seedPublished,
  seedTicketType,
  service,
  sql,
  startCatalog,
  type UserError,
  versionsOf,
} from './support.ts';

startCatalog();

interface Connection<T> {
  edges: Array<{ cursor: string; node: T }>;
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
  totalCount: number;
}
type Occurrences = Connection<{ id: string; status: string }>;

const OCCURRENCES = `query($id: ID!, $first: Int, $after: String) { event(id: $id) {
  occurrences(first: $first, after: $after) {
    edges { cursor node { id status } } pageInfo { hasNextPage endCursor } totalCount } } }`;

async function occurrencesOf(role: Role, id: string, first?: number, after?: string | null) {
  const { data, errors } = await call<{ event: { occurrences: Occurrences } }>(role, OCCURRENCES, {
    id,
    first,
    after,
  });
  expect(errors).toBeUndefined();
  return data!.event.occurrences;
}

/** Adds occurrences one day apart after the source's start, 52 (the most) at a time. */
async function addDays(source: { id: string }, days: number[]) {
  for (let i = 0; i < days.length; i += 52) {
    const added = await mutate<{ errors: UserError[] }>('owner', 'addOccurrences', {
      eventId: source.id,
      startsAt: days.slice(i, i + 52).map((day) => inAYear(24 * day)),
    });
    expect(added.errors).toEqual([]);
  }
}

const seriesSize = async (seriesId: string) =>
  (await sql`select count(*)::int as n from catalog.events where series_id = ${seriesId}`)[0]!.n as number;

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
      event: { occurrences: Connection<{ id: string; title: string; ticketTypes: unknown[] }> };
    }>(
      'owner',
      'query($id: ID!) { event(id: $id) { occurrences { edges { node { id title ticketTypes { name } } } } } }',
      { id: result.occurrences[1]!.id },
    );
    const occurrences = data!.event.occurrences.edges.map((edge) => edge.node);
    expect(occurrences.map((o) => o.id)).toEqual([source.id, ...result.occurrences.map((o) => o.id)]);
    expect(occurrences.every((o) => o.title === 'Weekly quiz' && o.ticketTypes.length === 1)).toBe(true);
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

describe('the occurrences of a series: paginated and bounded', () => {
  it('pages them by start with keyset cursors and counts them; drafts only for insiders', async () => {
    const source = await seedEvent({ title: 'Paged series' });
    await seedTicketType(source.id);
    await addDays(source, [4, 1, 3, 2]);
    const all = await occurrencesOf('owner', source.id, 10);
    expect(all.totalCount).toBe(5);
    expect(all.edges[0]!.node.id).toBe(source.id);
    const ids = all.edges.map((edge) => edge.node.id);
    const [, second, , fourth] = ids;
    for (const id of [second!, fourth!]) {
      expect((await mutate('owner', 'publishEvent', { id })).errors).toEqual([]);
    }

    const pages: string[] = [];
    let after: string | null = null;
    for (const hasNextPage of [true, true, false]) {
      const page: Occurrences = await occurrencesOf('staff', fourth!, 2, after);
      expect(page.pageInfo.hasNextPage).toBe(hasNextPage);
      expect(page.totalCount).toBe(5);
      pages.push(...page.edges.map((edge) => edge.node.id));
      after = page.pageInfo.endCursor;
    }
    expect(pages).toEqual(ids);

    const seenByCustomer = await occurrencesOf('customer', second!);
    expect(seenByCustomer.edges.map((edge) => [edge.node.id, edge.node.status])).toEqual([
      [second, 'PUBLISHED'],
      [fourth, 'PUBLISHED'],
    ]);
    expect(seenByCustomer.totalCount).toBe(2);
    const afterSecond = await occurrencesOf('customer', second!, 1, seenByCustomer.edges[0]!.cursor);
    expect(afterSecond.edges.map((edge) => edge.node.id)).toEqual([fourth]);
    expect(afterSecond.pageInfo.hasNextPage).toBe(false);
  });

  it('lists an event outside a series as its only occurrence, and refuses tampered cursors and pages over 100', async () => {
    const single = await seedPublished({ title: 'Once only' });
    const page = await occurrencesOf('customer', single.id);
    expect(page.edges.map((edge) => edge.node.id)).toEqual([single.id]);
    expect(page).toMatchObject({ pageInfo: { hasNextPage: false }, totalCount: 1 });
    expect((await occurrencesOf('customer', single.id, 5, page.pageInfo.endCursor)).edges).toEqual([]);

    const tampered = Buffer.from(
      JSON.stringify({ k: '{"startsAt":"0000-01-01T00:00:00Z","id":"x"}' }),
    ).toString('base64url');
    for (const variables of [{ after: tampered }, { after: 'not a cursor' }, { first: 101 }]) {
      const { errors } = await call('customer', OCCURRENCES, { id: single.id, ...variables });
      expect(errors?.map((error) => error.extensions?.code)).toEqual(['BAD_USER_INPUT']);
    }
  });

  it('reads the pages and counts of every series at one level in one statement each', async () => {
    const events: string[] = [];
    for (const title of ['Series A', 'Series B', 'Series C']) {
      const source = await seedEvent({ title });
      await addDays(source, [1, 2, 3]);
      events.push(source.id);
    }
    const representations = events.map((id) => ({ __typename: 'Event', id }));
    const query = `query($r: [_Any!]!) { _entities(representations: $r) {
      ... on Event { occurrences(first: 2) { edges { node { id } } totalCount } } } }`;
    const run = () => call('owner', query, { r: representations });
    const { data } = await run();
    expect(data).toMatchObject({
      _entities: events.map(() => ({ occurrences: { edges: [{}, {}], totalCount: 4 } })),
    });
    // The events, the pages of their three series, and their sizes.
    expect(await statementsOf(service.url, run)).toBe(3);
  });

  it('holds at most 365 occurrences in a series, counted under the series lock', async () => {
    const source = await seedEvent({ title: 'Daily for a year' });
    await seedTicketType(source.id);
    const days = (from: number, count: number) => Array.from({ length: count }, (_, i) => from + i);
    await addDays(source, days(1, 299));
    // Two changes through two occurrences of the series at once: one fits, the other no longer does.
    const [first, second] = (await occurrencesOf('owner', source.id, 3)).edges
      .slice(1)
      .map((edge) => edge.node.id);
    const results = await Promise.all(
      [first!, second!].map((eventId, i) =>
        mutate<{ occurrences: unknown[]; errors: UserError[] }>('owner', 'addOccurrences', {
          eventId,
          startsAt: days(300 + 52 * i, 52).map((day) => inAYear(24 * day)),
        }),
      ),
    );
    expect(results.map((result) => result.errors.map((error) => error.message))).toContainEqual([
      'a series has at most 365 occurrences: this one has 352, so at most 13 more',
    ]);
    expect(await seriesSize(source.id)).toBe(352);
    await addDays(source, days(500, 13));
    expect(await seriesSize(source.id)).toBe(365);

    const before = await footprint();
    for (const eventId of [source.id, first!]) {
      const more = await mutate<{ occurrences: unknown[]; errors: UserError[] }>('owner', 'addOccurrences', {
        eventId,
        startsAt: [inAYear(24 * 400)],
      });
      expect(more).toEqual({
        occurrences: [],
        errors: [
          {
            code: 'INVALID_INPUT',
            message: 'a series has at most 365 occurrences: this one has 365, so no more',
            field: ['input', 'startsAt'],
          },
        ],
      });
    }
    expect(await footprint()).toEqual(before);
  });
});
