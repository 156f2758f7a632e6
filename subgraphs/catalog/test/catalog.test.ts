import { statementsOf } from '@bilten/testkit';
import { expectFieldErrors, queryEntities, rowCount } from '@bilten/testkit/checks';
import { v7 as uuidv7 } from 'uuid';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  headers,
  ORG,
  service,
  sql,
  startCatalog,
  subgraph,
  type UserError,
  unexpectedErrors,
} from './support.ts';

startCatalog();

// ---------------------------------------------------------------- helpers

interface Event {
  id: string;
  title: string;
  description: string | null;
  startsAt: string;
  endsAt: string;
  timezone: string;
  currency: string;
  status: string;
  organizer: { __typename: string; id: string } | null;
  createdAt: string;
}
interface TicketType {
  id: string;
  name: string;
  price: { amount: number; currency: string };
  capacity: number;
  event: { id: string };
}
interface EventsPage {
  edges: Array<{ cursor: string; node: { id: string } }>;
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
}

/** As the organization's OWNER, who sees its drafts. */
const gql = <T>(query: string, variables?: Record<string, unknown>) =>
  subgraph.gql<T>(query, variables, headers.owner);

const EVENT_FIELDS = `id title description startsAt endsAt timezone currency status createdAt
  organizer { __typename id }`;
const CREATE_EVENT = `mutation($input: CreateEventInput!) {
  createEvent(input: $input) { event { ${EVENT_FIELDS} } errors { code message field } }
}`;
const ADD_TICKET_TYPE = `mutation($input: AddTicketTypeInput!) {
  addTicketType(input: $input) {
    ticketType { id name price { amount currency } capacity event { id } }
    errors { code message field }
  }
}`;
const EVENTS_PAGE = `query($first: Int, $after: String) {
  events(first: $first, after: $after) { edges { cursor node { id } } pageInfo { hasNextPage endCursor } }
}`;

const eventInput = (overrides: Record<string, unknown> = {}) => ({
  organizationId: ORG,
  title: 'Jazz Fest',
  description: 'Three nights of jazz.',
  startsAt: '2027-03-01T19:00:00Z',
  endsAt: '2027-03-01T23:00:00Z',
  timezone: 'Europe/Sarajevo',
  currency: 'EUR',
  capacity: 500,
  ...overrides,
});

async function createEvent(input: Record<string, unknown>) {
  const { data, errors } = await gql<{ createEvent: { event: Event | null; errors: UserError[] } }>(
    CREATE_EVENT,
    { input },
  );
  expect(errors).toBeUndefined();
  return data!.createEvent;
}

async function seedEvent(overrides: Record<string, unknown> = {}): Promise<Event> {
  const { event, errors } = await createEvent(eventInput(overrides));
  expect(errors).toEqual([]);
  return event!;
}

async function addTicketType(input: Record<string, unknown>) {
  const { data, errors } = await gql<{
    addTicketType: { ticketType: TicketType | null; errors: UserError[] };
  }>(ADD_TICKET_TYPE, { input });
  expect(errors).toBeUndefined();
  return data!.addTicketType;
}

async function seedTicketType(eventId: string, name: string, amount = 2500): Promise<TicketType> {
  const { ticketType, errors } = await addTicketType({
    eventId,
    name,
    price: { amount, currency: 'EUR' },
    capacity: 100,
  });
  expect(errors).toEqual([]);
  return ticketType!;
}

const eventsPage = (first: number | null, after?: string | null) =>
  gql<{ events: EventsPage }>(EVENTS_PAGE, { first, after });

// ---------------------------------------------------------------- events and ticket types

describe('createEvent, addTicketType and their queries', () => {
  it('creates a draft event in UTC and reads it back with its ticket types', async () => {
    const event = await seedEvent({
      startsAt: '2027-03-01T20:00:00+01:00',
      endsAt: '2027-03-02T01:30:00+01:00',
    });
    expect(event).toMatchObject({
      title: 'Jazz Fest',
      description: 'Three nights of jazz.',
      startsAt: '2027-03-01T19:00:00.000Z',
      endsAt: '2027-03-02T00:30:00.000Z',
      timezone: 'Europe/Sarajevo',
      currency: 'EUR',
      status: 'DRAFT',
      organizer: { __typename: 'Organization', id: ORG },
    });
    const early = await seedTicketType(event.id, 'Early bird', 2500);
    const regular = await seedTicketType(event.id, 'Regular', 4000);
    expect(early).toMatchObject({
      name: 'Early bird',
      price: { amount: 2500, currency: 'EUR' },
      capacity: 100,
    });
    expect(early.event).toEqual({ id: event.id });

    const { data, errors } = await gql<{
      event: Event & { ticketTypes: TicketType[] };
      ticketType: TicketType;
    }>(
      `query($id: ID!, $ticketTypeId: ID!) {
        event(id: $id) { ${EVENT_FIELDS} ticketTypes { id name price { amount currency } capacity event { id } } }
        ticketType(id: $ticketTypeId) { id name price { amount currency } capacity event { id } }
      }`,
      { id: event.id, ticketTypeId: regular.id },
    );
    expect(errors).toBeUndefined();
    expect(data!.event).toEqual({ ...event, ticketTypes: [early, regular] });
    expect(data!.ticketType).toEqual(regular);
  });

  it('answers null, not an error, for unknown and non-UUID ids', async () => {
    const { data, errors } = await gql<Record<string, unknown>>(
      `query($unknown: ID!, $garbage: ID!) {
        a: event(id: $unknown) { id } b: event(id: $garbage) { id }
        c: ticketType(id: $unknown) { id } d: ticketType(id: $garbage) { id }
      }`,
      { unknown: uuidv7(), garbage: 'not-a-uuid' },
    );
    expect(errors).toBeUndefined();
    expect(data).toEqual({ a: null, b: null, c: null, d: null });
  });

  it('stores a title full of SQL metacharacters verbatim', async () => {
    const title = `Robert'); DROP TABLE catalog.events; -- "quoted" \\ back\\slash 100% _x_ $1 ::text /* c */`;
    const description = `'; delete from catalog.ticket_types where ''=''; --`;
    const event = await seedEvent({ title, description });
    expect(event.title).toBe(title);
    expect(event.description).toBe(description);
    const [row] = await sql`select title, description from catalog.events where id = ${event.id}`;
    expect(row).toEqual({ title, description });
    expect(await rowCount(sql, 'catalog.events')).toBeGreaterThan(1);
    expect(unexpectedErrors()).toEqual([]);
  });
});

describe('createEvent validation', () => {
  it.each([
    ['a non-UUID organizationId', { organizationId: 'org-1' }, ['organizationId']],
    ['an empty title', { title: '   ' }, ['title']],
    ['a title over 200 characters', { title: 't'.repeat(201) }, ['title']],
    ['a control character in the title', { title: 'Jazz\u0000Fest' }, ['title']],
    ['a bidi override in the title', { title: 'Jazz\u202EFest' }, ['title']],
    ['a description over 50 KB', { description: 'd'.repeat(51_300) }, ['description']],
    ['a 1 MB description', { description: 'd'.repeat(1_000_000) }, ['description']],
    ['a script tag in the description', { description: 'Hi <script>alert(1)</script>' }, ['description']],
    ['a javascript: link in the description', { description: '[x](javascript:alert(1))' }, ['description']],
    ['an event handler in the description', { description: '<img src=x onerror=alert(1)>' }, ['description']],
    ['capacity 0', { capacity: 0 }, ['capacity']],
    [
      'an unknown country',
      { venue: { name: 'V', address: 'A 1', city: 'C', country: 'XX' } },
      ['venue', 'country'],
    ],
    [
      'a latitude out of range',
      { venue: { name: 'V', address: 'A 1', city: 'C', country: 'BA', latitude: 91, longitude: 0 } },
      ['venue', 'latitude'],
    ],
    [
      'a longitude out of range',
      { venue: { name: 'V', address: 'A 1', city: 'C', country: 'BA', latitude: 0, longitude: -181 } },
      ['venue', 'longitude'],
    ],
    ['a javascript: online URL', { onlineUrl: 'javascript:alert(1)' }, ['onlineUrl']],
    ['an ftp online URL', { onlineUrl: 'ftp://example.com/x' }, ['onlineUrl']],
    [
      'a PARTIAL refund without a percent',
      { refundPolicy: { kind: 'PARTIAL', daysBeforeStart: 7 } },
      ['refundPolicy', 'percent'],
    ],
    [
      'a FULL_UNTIL refund without days',
      { refundPolicy: { kind: 'FULL_UNTIL' } },
      ['refundPolicy', 'daysBeforeStart'],
    ],
    ['11 tags', { tags: Array.from({ length: 11 }, (_, i) => `t${i}`) }, ['tags']],
    ['endsAt before startsAt', { endsAt: '2027-03-01T18:59:59Z' }, ['endsAt']],
    ['endsAt equal to startsAt', { endsAt: '2027-03-01T19:00:00Z' }, ['endsAt']],
    ['an unknown IANA time zone', { timezone: 'Mars/Olympus_Mons' }, ['timezone']],
    ['a time zone abbreviation', { timezone: 'CET' }, ['timezone']],
    ['an empty time zone', { timezone: '' }, ['timezone']],
    ['an unknown currency', { currency: 'XYZ' }, ['currency']],
    ['a lower-case currency', { currency: 'eur' }, ['currency']],
    ['a four-letter currency', { currency: 'EURO' }, ['currency']],
  ])('rejects %s with a field error and stores nothing', async (_, override, field) => {
    const before = await rowCount(sql, 'catalog.events');
    const payload = await createEvent(eventInput(override));
    expect(payload.event).toBeNull();
    expectFieldErrors(payload.errors, field);
    expect(await rowCount(sql, 'catalog.events')).toBe(before);
  });

  it('states the real limit of a description source: 100000 characters', async () => {
    const payload = await createEvent(eventInput({ description: 'd'.repeat(100_001) }));
    expect(payload.errors).toEqual([
      {
        code: 'INVALID_INPUT',
        message: 'must be at most 100000 characters',
        field: ['input', 'description'],
      },
    ]);
  });

  it('stores a time zone in its canonical IANA spelling', async () => {
    const payload = await createEvent(eventInput({ timezone: 'europe/sarajevo' }));
    expect(payload.errors).toEqual([]);
    expect(payload.event!.timezone).toBe('Europe/Sarajevo');
  });

  it.each([
    ['a start time without a zone offset', { startsAt: '2027-03-01 19:00' }],
    ['a start in the year 0', { startsAt: '0000-06-01T00:00:00Z' }],
    ['an end past the year 9999 in UTC', { endsAt: '9999-12-31T23:00:00-05:00' }],
  ])('rejects %s as BAD_USER_INPUT and stores nothing', async (_, override) => {
    const before = await rowCount(sql, 'catalog.events');
    const { status, data, errors } = await gql(CREATE_EVENT, { input: eventInput(override) });
    expect(status).toBe(400);
    expect(data).toBeUndefined();
    expect(errors?.map((e) => e.extensions?.code)).toEqual(['BAD_USER_INPUT']);
    expect(await rowCount(sql, 'catalog.events')).toBe(before);
  });
});

describe('addTicketType validation', () => {
  let eventId: string;
  beforeAll(async () => {
    eventId = (await seedEvent({ title: 'Validation target' })).id;
  });
  const ticketTypeInput = (overrides: Record<string, unknown>) => ({
    eventId,
    name: 'Regular',
    price: { amount: 2500, currency: 'EUR' },
    capacity: 100,
    ...overrides,
  });

  it.each([
    ['a non-UUID eventId', { eventId: 'event-1' }, ['eventId']],
    ['an empty name', { name: ' ' }, ['name']],
    ['a control character in the name', { name: 'VIP\u0007' }, ['name']],
    ['a negative price', { price: { amount: -1, currency: 'EUR' } }, ['price', 'amount']],
    [
      'a price over 100000000 minor units',
      { price: { amount: 100_000_001, currency: 'EUR' } },
      ['price', 'amount'],
    ],
    ['an unknown price currency', { price: { amount: 2500, currency: 'XYZ' } }, ['price', 'currency']],
    [
      'a price in another currency than the event',
      { price: { amount: 2500, currency: 'USD' } },
      ['price', 'currency'],
    ],
    ['capacity 0', { capacity: 0 }, ['capacity']],
    ['a negative capacity', { capacity: -5 }, ['capacity']],
    ['capacity over 1000000', { capacity: 1_000_001 }, ['capacity']],
  ])('rejects %s with a field error and stores nothing', async (_, override, field) => {
    const before = await rowCount(sql, 'catalog.ticket_types');
    const payload = await addTicketType(ticketTypeInput(override));
    expect(payload.ticketType).toBeNull();
    expectFieldErrors(payload.errors, field);
    expect(await rowCount(sql, 'catalog.ticket_types')).toBe(before);
  });

  it('answers NOT_FOUND on input.eventId for an event that does not exist', async () => {
    const before = await rowCount(sql, 'catalog.ticket_types');
    expect(await addTicketType(ticketTypeInput({ eventId: uuidv7() }))).toEqual({
      ticketType: null,
      errors: [{ code: 'NOT_FOUND', message: expect.any(String), field: ['input', 'eventId'] }],
    });
    expect(await rowCount(sql, 'catalog.ticket_types')).toBe(before);
  });

  it('accepts the boundaries: price 0 and capacity 1', async () => {
    const { ticketType, errors } = await addTicketType(
      ticketTypeInput({ name: 'Free', price: { amount: 0, currency: 'EUR' }, capacity: 1 }),
    );
    expect(errors).toEqual([]);
    expect(ticketType).toMatchObject({ price: { amount: 0, currency: 'EUR' }, capacity: 1 });
  });
});

// ---------------------------------------------------------------- pagination

describe('events keyset pagination', () => {
  it('never repeats or skips an event while new events are inserted between pages', async () => {
    for (let i = 0; i < 12; i++) await seedEvent({ title: `Paged ${i}` });
    const existing = (await sql`select id from catalog.events order by id desc`).map((row) => row.id);

    const seen: string[] = [];
    const insertedMeanwhile: string[] = [];
    let after: string | null = null;
    for (let pages = 0; ; pages++) {
      expect(pages).toBeLessThan(20);
      const { data, errors }: { data?: { events: EventsPage } | null; errors?: unknown } = await eventsPage(
        5,
        after,
      );
      expect(errors).toBeUndefined();
      const { edges, pageInfo } = data!.events;
      seen.push(...edges.map((edge) => edge.node.id));
      expect(pageInfo.endCursor).toBe(edges.at(-1)?.cursor ?? null);
      insertedMeanwhile.push((await seedEvent({ title: `Inserted after page ${pages}` })).id);
      if (!pageInfo.hasNextPage) break;
      after = pageInfo.endCursor;
    }

    expect(seen).toEqual(existing);
    const newest = await eventsPage(insertedMeanwhile.length);
    expect(newest.data!.events.edges.map((edge) => edge.node.id)).toEqual([...insertedMeanwhile].reverse());
  });

  it('continues from any edge cursor, not only the end cursor', async () => {
    const first = (await eventsPage(6)).data!.events.edges;
    const fromThird = (await eventsPage(3, first[2]!.cursor)).data!.events.edges;
    expect(fromThird.map((edge) => edge.node.id)).toEqual(first.slice(3, 6).map((edge) => edge.node.id));
  });

  it('defaults to 20 and allows up to 100', async () => {
    while ((await rowCount(sql, 'catalog.events')) <= 20) await seedEvent({ title: 'Filler' });
    expect((await eventsPage(null)).data!.events.edges).toHaveLength(20);
    expect((await eventsPage(100)).errors).toBeUndefined();
  });

  it.each([0, -1, 101, 1000])('rejects first: %i with BAD_USER_INPUT', async (first) => {
    const { data, errors } = await eventsPage(first);
    expect(data).toBeNull();
    expect(errors?.map((e) => e.extensions?.code)).toEqual(['BAD_USER_INPUT']);
  });

  it('rejects tampered after cursors with BAD_USER_INPUT', async () => {
    const cursor = (await eventsPage(1)).data!.events.pageInfo.endCursor!;
    const decoded = Buffer.from(cursor, 'base64url').toString();
    expect(JSON.parse(decoded)).toHaveProperty('k');
    const reencode = (text: string) => Buffer.from(text).toString('base64url');
    const tampered = [
      cursor.slice(0, -3),
      `${cursor}!!`,
      'not-a-cursor',
      reencode(decoded.replace(/"k":"[^"]+"/, `"k":"1' or '1'='1"`)),
      reencode(JSON.stringify({ k: 42 })),
      reencode(JSON.stringify({ id: JSON.parse(decoded).k })),
      reencode('null'),
    ];
    for (const after of tampered) {
      const { data, errors } = await eventsPage(5, after);
      expect(data, after).toBeNull();
      expect(
        errors?.map((e) => e.extensions?.code),
        after,
      ).toEqual(['BAD_USER_INPUT']);
    }
    expect(unexpectedErrors()).toEqual([]);
  });
});

// ---------------------------------------------------------------- federation

describe('federation _entities', () => {
  let events: Event[];
  let ticketTypesByEvent: TicketType[][];

  beforeAll(async () => {
    events = [];
    ticketTypesByEvent = [];
    for (let i = 0; i < 10; i++) {
      const event = await seedEvent({ title: `Entity ${i}` });
      events.push(event);
      const types: TicketType[] = [];
      for (let t = 0; t < i % 4; t++) types.push(await seedTicketType(event.id, `Tier ${t}`, 1000 * (t + 1)));
      ticketTypesByEvent.push(types);
    }
  });

  const entities = (representations: Array<{ __typename: string; id: string }>, selection: string) =>
    queryEntities(subgraph, representations, selection, headers.owner);
  const EVENT_WITH_TICKET_TYPES = '... on Event { id title ticketTypes { id name } }';
  const TICKET_TYPE_WITH_EVENT = '... on TicketType { id name event { id title } }';
  const asEvents = (ids: string[]) => ids.map((id) => ({ __typename: 'Event', id }));

  it('answers 10 Event representations in the order asked, each with its own ticket types', async () => {
    const order = [3, 9, 0, 5, 1, 8, 2, 7, 4, 6];
    const { data, errors } = await entities(
      asEvents(order.map((i) => events[i]!.id)),
      EVENT_WITH_TICKET_TYPES,
    );
    expect(errors).toBeUndefined();
    expect(data!._entities).toEqual(
      order.map((i) => ({
        id: events[i]!.id,
        title: events[i]!.title,
        ticketTypes: ticketTypesByEvent[i]!.map(({ id, name }) => ({ id, name })),
      })),
    );
  });

  it('answers TicketType representations in order, each with its event', async () => {
    const types = ticketTypesByEvent.flat().reverse();
    const { data, errors } = await entities(
      types.map((t) => ({ __typename: 'TicketType', id: t.id })),
      TICKET_TYPE_WITH_EVENT,
    );
    expect(errors).toBeUndefined();
    const titleOf = new Map(events.map((e) => [e.id, e.title]));
    expect(data!._entities).toEqual(
      types.map((t) => ({
        id: t.id,
        name: t.name,
        event: { id: t.event.id, title: titleOf.get(t.event.id) },
      })),
    );
  });

  it('yields null for unknown and non-UUID ids, in place, without an error', async () => {
    const typeId = ticketTypesByEvent[2]![0]!.id;
    const { data, errors } = await entities(
      [
        { __typename: 'Event', id: events[0]!.id },
        { __typename: 'Event', id: uuidv7() },
        { __typename: 'TicketType', id: 'nope' },
        { __typename: 'TicketType', id: typeId },
        { __typename: 'Event', id: "'; drop table catalog.events; --" },
        { __typename: 'TicketType', id: uuidv7() },
      ],
      `${EVENT_WITH_TICKET_TYPES} ${TICKET_TYPE_WITH_EVENT}`,
    );
    expect(errors).toBeUndefined();
    expect(data!._entities.map((e) => (e?.id as string | undefined) ?? null)).toEqual([
      events[0]!.id,
      null,
      null,
      typeId,
      null,
      null,
    ]);
  });

  it('costs one statement for 10 events without ticket types', async () => {
    const representations = asEvents(events.map((e) => e.id));
    expect(
      await statementsOf(service.url, () => entities(representations, '... on Event { id title }')),
    ).toBe(1);
  });

  it('costs two statements for 10 events with their ticket types', async () => {
    const representations = asEvents(events.map((e) => e.id));
    expect(await statementsOf(service.url, () => entities(representations, EVENT_WITH_TICKET_TYPES))).toBe(2);
  });

  it('costs two statements for 10 ticket types with their events', async () => {
    const representations = ticketTypesByEvent
      .flat()
      .slice(0, 10)
      .map((t) => ({ __typename: 'TicketType', id: t.id }));
    expect(representations).toHaveLength(10);
    expect(await statementsOf(service.url, () => entities(representations, TICKET_TYPE_WITH_EVENT))).toBe(2);
  });
});
