import { type CallerHeaders, type GqlResult, statementsOf } from '@bilten/testkit';
import { v7 as uuidv7 } from 'uuid';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  headers as callers,
  ORG,
  OTHER_ORG,
  service,
  startCatalog,
  subgraph,
  unexpectedErrors,
} from './support.ts';

startCatalog();

interface Page {
  edges: Array<{ cursor: string; node: { id: string; title: string } }>;
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
  totalCount: number;
}

const SEARCH = `query($filter: EventFilter, $sort: EventSort, $first: Int, $after: String) {
  events(filter: $filter, sort: $sort, first: $first, after: $after) {
    edges { cursor node { id title } } pageInfo { hasNextPage endCursor } totalCount
  }
}`;

async function search(variables: Record<string, unknown>, headers: CallerHeaders = {}) {
  const { data, errors } = await subgraph.gql<{ events: Page }>(SEARCH, variables, headers);
  return { data: data?.events, errors };
}
const titles = async (filter: Record<string, unknown>, sort?: string, headers?: CallerHeaders) => {
  const { data, errors } = await search({ filter, sort, first: 100 }, headers);
  expect(errors).toBeUndefined();
  return data!.edges.map((edge) => edge.node.title);
};

/**
 * Every page of a search, `first` events each, following the cursors; `between` runs after each
 * page (to change data while paging).
 */
async function allPages(
  filter: Record<string, unknown>,
  {
    sort,
    first = 1,
    between,
  }: { sort?: string; first?: number; between?: (page: number) => Promise<unknown> } = {},
): Promise<Page[]> {
  const pages: Page[] = [];
  let after: string | null = null;
  while (pages.length < 30) {
    const { data, errors }: { data?: Page; errors?: unknown } = await search({ filter, sort, first, after });
    expect(errors, JSON.stringify({ filter, sort, after })).toBeUndefined();
    pages.push(data!);
    await between?.(pages.length - 1);
    if (!data!.pageInfo.hasNextPage) return pages;
    after = data!.pageInfo.endCursor;
  }
  throw new Error(`more than 30 pages: ${JSON.stringify(filter)}`);
}
const titlesOf = (pages: Page[]) => pages.flatMap((page) => page.edges.map((edge) => edge.node.title));

const day = (n: number) => new Date(Date.UTC(2027, 4, 1 + n, 19)).toISOString();
const SARAJEVO = {
  name: 'Zetra',
  address: 'Alipašina bb',
  city: 'Sarajevo',
  country: 'BA',
  latitude: 43.87,
  longitude: 18.41,
};
const MOSTAR = {
  name: 'Stari most',
  address: 'Kujundžiluk',
  city: 'Mostar',
  country: 'BA',
  latitude: 43.337,
  longitude: 17.815,
};
const ZAGREB = {
  name: 'Arena',
  address: 'Lanište 32',
  city: 'Zagreb',
  country: 'HR',
  latitude: 45.77,
  longitude: 15.94,
};

async function mutate(name: string, type: string, input: Record<string, unknown>, headers = callers.owner) {
  const { data, errors } = await subgraph.gql<Record<string, { errors: unknown[]; event?: { id: string } }>>(
    `mutation($input: ${type}!) { ${name}(input: $input) { ${name === 'addTicketType' ? 'ticketType { id }' : 'event { id }'} errors { code message field } } }`,
    { input },
    headers,
  );
  expect(errors).toBeUndefined();
  expect(data![name]!.errors).toEqual([]);
  return data![name]!;
}

/** An event with one ticket type at `price`, published unless told otherwise. */
async function seed(
  title: string,
  options: {
    starts?: number;
    venue?: object | null;
    onlineUrl?: string;
    price?: number;
    category?: string;
    description?: string;
    publish?: boolean;
    organization?: string;
  } = {},
) {
  const organizationId = options.organization ?? ORG;
  const headers = organizationId === ORG ? callers.owner : callers.otherOwner;
  const { event } = await mutate(
    'createEvent',
    'CreateEventInput',
    {
      organizationId,
      title,
      description: options.description ?? null,
      category: options.category ?? 'MUSIC',
      startsAt: day(options.starts ?? 0),
      endsAt: new Date(new Date(day(options.starts ?? 0)).getTime() + 3 * 3_600_000).toISOString(),
      timezone: 'Europe/Sarajevo',
      venue: options.venue === undefined ? SARAJEVO : options.venue,
      onlineUrl: options.onlineUrl ?? null,
      currency: 'EUR',
      capacity: 100,
    },
    headers,
  );
  await mutate(
    'addTicketType',
    'AddTicketTypeInput',
    {
      eventId: event!.id,
      name: 'Regular',
      price: { amount: options.price ?? 2000, currency: 'EUR' },
      capacity: 50,
    },
    headers,
  );
  if (options.publish ?? true) await mutate('publishEvent', 'EventIdInput', { id: event!.id }, headers);
  return event!.id;
}

beforeAll(async () => {
  await seed('Rock Concert in Zetra', { starts: 3, price: 3000, description: 'Loud guitars all night.' });
  await seed('Jazz Festival Sarajevo', { starts: 1, price: 1500, category: 'FESTIVAL' });
  await seed('Chamber concert', { starts: 5, venue: MOSTAR, price: 1000, category: 'MUSIC' });
  await seed('Zagreb Concert Night', { starts: 2, venue: ZAGREB, price: 5000 });
  await seed('Online Coding Workshop', {
    starts: 4,
    venue: null,
    onlineUrl: 'https://meet.example/code',
    price: 0,
    category: 'WORKSHOP',
  });
  await seed('Secret concert draft', { starts: 6, publish: false });
  await seed('Other organizer concert', { starts: 7, organization: OTHER_ORG, price: 2500 });
});

describe('events search', () => {
  it('finds by words, prefixes and typos, best match first', async () => {
    expect(await titles({ query: 'concert' })).toEqual(
      expect.arrayContaining([
        'Rock Concert in Zetra',
        'Chamber concert',
        'Zagreb Concert Night',
        'Other organizer concert',
      ]),
    );
    expect(await titles({ query: 'cocnert' })).toEqual(
      expect.arrayContaining(['Rock Concert in Zetra', 'Chamber concert', 'Zagreb Concert Night']),
    );
    expect(await titles({ query: 'jaz fest' })).toEqual(['Jazz Festival Sarajevo']);
    expect(await titles({ query: 'guitars' })).toEqual(['Rock Concert in Zetra']);
    expect((await titles({ query: 'Zagreb concert' }))[0]).toBe('Zagreb Concert Night');
    expect(await titles({ query: 'zzqx' })).toEqual([]);
  });

  it('combines filters', async () => {
    expect(await titles({ query: 'concert', country: 'BA' }, 'STARTS_AT')).toEqual([
      'Rock Concert in Zetra',
      'Chamber concert',
      'Other organizer concert',
    ]);
    expect(await titles({ city: 'sarajevo', category: 'FESTIVAL' })).toEqual(['Jazz Festival Sarajevo']);
    expect(await titles({ near: { latitude: 43.85, longitude: 18.4, radiusKm: 20 } }, 'STARTS_AT')).toEqual([
      'Jazz Festival Sarajevo',
      'Rock Concert in Zetra',
      'Other organizer concert',
    ]);
    expect(
      await titles({ near: { latitude: 43.85, longitude: 18.4, radiusKm: 100 }, priceMax: 1000 }),
    ).toEqual(['Chamber concert']);
    expect(await titles({ priceMin: 2500, priceMax: 3000 }, 'PRICE')).toEqual([
      'Other organizer concert',
      'Rock Concert in Zetra',
    ]);
    expect(await titles({ onlineOnly: true })).toEqual(['Online Coding Workshop']);
    expect(await titles({ startsAfter: day(2), startsBefore: day(4) }, 'STARTS_AT')).toEqual([
      'Zagreb Concert Night',
      'Rock Concert in Zetra',
    ]);
    expect(await titles({ organizationId: OTHER_ORG })).toEqual(['Other organizer concert']);
    expect(await titles({}, 'PRICE')).toEqual([
      'Online Coding Workshop',
      'Chamber concert',
      'Jazz Festival Sarajevo',
      'Other organizer concert',
      'Rock Concert in Zetra',
      'Zagreb Concert Night',
    ]);
  });

  it('keeps a typo-tolerant search typo-tolerant on later pages', async () => {
    const all = await titles({ query: 'cocnert' });
    const pages = await allPages({ query: 'cocnert' });
    expect(pages.map((page) => page.totalCount)).toEqual(pages.map(() => all.length));
    expect(titlesOf(pages)).toEqual(all);
  });

  it('counts all matches, not just the page', async () => {
    const { data } = await search({ filter: { query: 'concert' }, first: 2 });
    expect(data!.edges).toHaveLength(2);
    expect(data!.totalCount).toBe(4);
  });

  it('counts the same in the page statement and on its own, on every page, through fragments', async () => {
    const filters = [
      { query: 'concert' },
      { query: 'cocnert' },
      { near: { latitude: 43.85, longitude: 18.4, radiusKm: 100 } },
      { country: 'BA' },
      { query: 'zzqx' },
    ];
    // Fragments hide totalCount from a naive look at the selection: it must still be counted.
    const viaFragments = `query($filter: EventFilter, $sort: EventSort, $first: Int, $after: String) {
      events(filter: $filter, sort: $sort, first: $first, after: $after) {
        ... on EventConnection { edges { node { id } } }
        ...Total
        pageInfo { hasNextPage endCursor }
      }
    }
    fragment Total on EventConnection { ... on EventConnection { totalCount } }`;
    for (const filter of filters) {
      const expected = (await titles(filter)).length;
      for (const sort of ['RELEVANCE', 'STARTS_AT', 'PRICE', 'NEWEST']) {
        let after: string | null = null;
        for (let pages = 0; pages < 8; pages++) {
          const { data, errors }: GqlResult<{ events: Omit<Page, 'edges'> }> = await subgraph.gql(
            viaFragments,
            { filter, sort, first: 1, after },
          );
          expect(errors, JSON.stringify({ filter, sort })).toBeUndefined();
          expect(data!.events.totalCount, JSON.stringify({ filter, sort, after })).toBe(expected);
          if (!data!.events.pageInfo.hasNextPage) break;
          after = data!.events.pageInfo.endCursor;
        }
      }
    }
  });

  it('counts a ranked first page in its own statement, later pages and other orders apart', async () => {
    const statements = (variables: Record<string, unknown>, query = SEARCH) =>
      statementsOf(service.url, () => subgraph.gql(query, variables));
    const onlyIds = `query($filter: EventFilter, $sort: EventSort, $after: String) {
      events(filter: $filter, sort: $sort, after: $after) { edges { node { id } } totalCount }
    }`;
    const { data } = await search({ filter: { query: 'concert' }, first: 1 });
    expect(await statements({ filter: { query: 'concert' } }, onlyIds)).toBe(1);
    expect(
      await statements({ filter: { near: { latitude: 43.85, longitude: 18.4, radiusKm: 100 } } }, onlyIds),
    ).toBe(1);
    expect(await statements({ filter: { query: 'concert' }, after: data!.pageInfo.endCursor }, onlyIds)).toBe(
      2,
    );
    expect(await statements({ filter: { query: 'concert' }, sort: 'STARTS_AT' }, onlyIds)).toBe(2);
  });

  it('finds venues across the antimeridian and around the poles', async () => {
    // Drafts of the other organization: only its owner sees them, so the other tests' lists stay as they are.
    const place = (city: string, latitude: number, longitude: number) => ({
      name: `${city} hall`,
      address: '1 Main Street',
      city,
      country: 'FJ',
      latitude,
      longitude,
    });
    const options = { organization: OTHER_ORG, publish: false, category: 'SPORTS' };
    await seed('Taveuni east gig', { ...options, venue: place('Taveuni', -16.8, 179.95) });
    await seed('Taveuni west gig', { ...options, venue: place('Taveuni', -16.8, -179.95) });
    await seed('Polar gig', { ...options, venue: place('Pole', 89.95, 0) });
    await seed('Polar far side gig', { ...options, venue: place('Pole', 89.95, 180) });
    const near = (latitude: number, longitude: number, radiusKm: number) =>
      titles(
        { near: { latitude, longitude, radiusKm }, category: 'SPORTS' },
        'STARTS_AT',
        callers.otherOwner,
      );
    // 179.95 and -179.95 are 11 km apart at this latitude, on either side of ±180.
    expect((await near(-16.8, -179.99, 20)).sort()).toEqual(['Taveuni east gig', 'Taveuni west gig']);
    expect((await near(-16.8, 179.99, 20)).sort()).toEqual(['Taveuni east gig', 'Taveuni west gig']);
    expect(await near(-16.8, 179.9, 10)).toEqual(['Taveuni east gig']);
    // Both polar venues lie 5.6 km from the pole, on opposite meridians: 11 km apart.
    expect((await near(89.99, 90, 20)).sort()).toEqual(['Polar far side gig', 'Polar gig']);
    expect(await near(89.9, 0, 10)).toEqual(['Polar gig']);
  });

  it('takes the last word as a prefix and the others whole', async () => {
    expect(await titles({ query: 'jazz fest' })).toEqual(['Jazz Festival Sarajevo']);
    expect(await titles({ query: 'concert zag' })).toEqual(['Zagreb Concert Night']);
    expect(await titles({ query: 'zagreb conc' })).toEqual(['Zagreb Concert Night']);
  });

  it('corrects typos in any word, several at once, beside correct words', async () => {
    expect(await titles({ query: 'loud gitars nigth' })).toEqual(['Rock Concert in Zetra']);
    expect(await titles({ query: 'sarajvo jazz' })).toEqual(['Jazz Festival Sarajevo']);
    // A word that resembles nothing is not dropped: the search finds nothing.
    expect(await titles({ query: 'concert zzqxv' })).toEqual([]);
  });

  it('learns the words of listed events only, as events are written, and names none in cursors', async () => {
    const dictionary = async (prefix: string) =>
      (
        await subgraph.sql<Array<{ word: string }>>`
          select word from catalog.search_words where word like ${`${prefix}%`} order by word`
      ).map((row) => row.word);
    const typoSearch = async (query: string) => {
      const { data, errors } = await search({ filter: { query }, first: 1 });
      expect(errors).toBeUndefined();
      const cursor = data!.pageInfo.endCursor;
      // The cursor names the dictionary by number, never the corrected words.
      if (cursor) expect(Buffer.from(cursor, 'base64url').toString()).not.toMatch(/quixot|marimba/);
      return { titles: data!.edges.map((edge) => edge.node.title), total: data!.totalCount };
    };
    const draft = await seed('Quixotia private preview', { starts: 8, publish: false });
    const gala = await seed('Quixotic gala', { starts: 8 });
    expect(await dictionary('quixot')).toEqual(['quixotic']);
    expect(await typoSearch('quixotix')).toEqual({ titles: ['Quixotic gala'], total: 1 });

    // Publishing adds its words; so does a new title.
    await mutate('publishEvent', 'EventIdInput', { id: draft });
    expect(await dictionary('quixot')).toEqual(['quixotia', 'quixotic']);
    expect((await typoSearch('quixotix')).total).toBe(2);
    const { data } = await subgraph.gql<{ event: { version: number } }>(
      'query($id: ID!) { event(id: $id) { version } }',
      { id: gala },
      callers.owner,
    );
    await mutate('updateEvent', 'UpdateEventInput', {
      id: gala,
      expectedVersion: data!.event.version,
      title: 'Marimbaphonic gala',
    });
    expect(await typoSearch('marimbaphonik')).toEqual({ titles: ['Marimbaphonic gala'], total: 1 });

    // Words outlive their events in the dictionary, where they match nothing anyone sees.
    await mutate('cancelEvent', 'CancelEventInput', { id: draft, reason: 'Venue closed' });
    expect(await dictionary('quixot')).toEqual(['quixotia', 'quixotic']);
    expect(await typoSearch('quixotix')).toEqual({ titles: [], total: 0 });
  });

  it('keeps the later pages of a corrected search on its words while the dictionary grows', async () => {
    for (let i = 0; i < 3; i++) await seed(`Vortexia show ${i}`, { starts: 8 + i });
    const pages = await allPages(
      { query: 'vortexa' },
      // Now the typed word itself exists: a fresh search would look for it instead.
      { between: (page) => (page === 0 ? seed('Vortexa night', { starts: 9 }) : Promise.resolve()) },
    );
    expect(titlesOf(pages).sort()).toEqual(['Vortexia show 0', 'Vortexia show 1', 'Vortexia show 2']);
    expect(await titles({ query: 'vortexa' })).toEqual(['Vortexa night']);
  });

  it('corrects only towards plain words, never hyphenated words, hosts or addresses', async () => {
    // The text parser keeps 'rock-n-roll', 'bilten.example:8080' and 'tickets@bilten.example' whole;
    // spliced into a tsquery or a cursor they would break it (':' starts a weight there).
    await seed('Rock-n-roll marathon', {
      starts: 8,
      description: 'Streamed at https://bilten.example:8080/live, questions to tickets@bilten.example.',
    });
    for (const query of ['rocknroll', 'biltenexample', 'bilten.exampel:8080', 'tickets@bilten.exampel']) {
      await allPages({ query });
    }
    expect(unexpectedErrors()).toEqual([]);
  });

  it('learns the same new words from events created at the same time', async () => {
    const ids = await Promise.all(
      Array.from({ length: 8 }, (_, i) => seed(`Vibraslap${i} glockenspielathon carillonade`, { starts: 9 })),
    );
    expect(ids).toHaveLength(8);
    expect((await titles({ query: 'glockenspielaton carilonade' })).sort()).toEqual(
      Array.from({ length: 8 }, (_, i) => `Vibraslap${i} glockenspielathon carillonade`),
    );
  });

  it('never leaks drafts: only their organization finds them', async () => {
    expect(await titles({ query: 'secret' })).toEqual([]);
    expect(await titles({ query: 'secret' }, undefined, callers.otherOwner)).toEqual([]);
    expect(await titles({ query: 'secret' }, undefined, callers.owner)).toEqual(['Secret concert draft']);
    // Near searches read the page's events apart from ordering them: the same rule holds.
    const nearZetra = { near: { latitude: 43.87, longitude: 18.41, radiusKm: 1 } };
    expect(await titles(nearZetra, 'PRICE')).not.toContain('Secret concert draft');
    expect(await titles(nearZetra, 'PRICE', callers.otherOwner)).not.toContain('Secret concert draft');
    expect(await titles(nearZetra, 'PRICE', callers.owner)).toContain('Secret concert draft');
    const { data } = await search({ filter: { query: 'concert' }, first: 100 });
    expect(data!.totalCount).toBe(4);
  });

  it.each(['RELEVANCE', 'STARTS_AT', 'PRICE', 'NEWEST'])(
    'never skips or repeats while events are inserted between pages (%s)',
    async (sort) => {
      // Words far apart, so no run finds another's events as a typo.
      const word = { RELEVANCE: 'marigold', STARTS_AT: 'quokka', PRICE: 'zephyr', NEWEST: 'tundra' }[sort]!;
      const show = (i: number) => ({ starts: 10 + ((i * 7) % 9), price: 1000 + ((i * 3) % 4) * 500 });
      for (let i = 0; i < 9; i++) await seed(`${word} show ${i}`, show(i));
      const { data: all } = await search({ filter: { query: word }, sort, first: 100 });
      const before = all!.edges.map((edge) => edge.node.id);
      expect(before).toHaveLength(9);
      const pages = await allPages(
        { query: word },
        {
          sort,
          first: 2,
          // Lands before or after the cursor, depending on its sort key.
          between: (page) => seed(`${word} show inserted ${page}`, show(page + 3)),
        },
      );
      const seen = pages.flatMap((page) => page.edges.map((edge) => edge.node.id));
      expect(new Set(seen).size).toBe(seen.length);
      expect(seen).toEqual(expect.arrayContaining(before));
      // What was there from the start keeps its relative order.
      expect(seen.filter((id) => before.includes(id))).toEqual(before);
    },
  );

  it('treats SQL and tsquery metacharacters as plain text', async () => {
    for (const query of ["'; drop table catalog.events; --", 'a & b | !c', 'x:* <-> y', '%_\\', '(((']) {
      const { data, errors } = await search({ filter: { query }, first: 5 });
      expect(errors, query).toBeUndefined();
      expect(data!.edges, query).toEqual(expect.any(Array));
    }
    expect(unexpectedErrors()).toEqual([]);
    expect(await titles({ query: 'concert' })).toHaveLength(4);
  });

  it('answers bad filters and tampered cursors with BAD_USER_INPUT', async () => {
    const first = await search({ filter: { query: 'concert' }, first: 1 });
    const cursor = first.data!.pageInfo.endCursor!;
    const decoded = JSON.parse(Buffer.from(cursor, 'base64url').toString()) as { k: string };
    const reencode = (k: unknown) => Buffer.from(JSON.stringify({ k })).toString('base64url');
    const inner = JSON.parse(decoded.k) as Record<string, unknown>;
    const cases: Array<Record<string, unknown>> = [
      { filter: { near: { latitude: 0, longitude: 0, radiusKm: 0 } } },
      { filter: { near: { latitude: 91, longitude: 0, radiusKm: 5 } } },
      { filter: { country: 'bosnia' } },
      { filter: { query: 'q'.repeat(201) } },
      { filter: { priceMin: -1 } },
      { filter: { query: 'concert' }, sort: 'PRICE', after: cursor },
      { filter: { query: 'concert' }, after: reencode(JSON.stringify({ ...inner, v: "1' or 1=1" })) },
      { filter: { query: 'concert' }, after: reencode(JSON.stringify({ ...inner, id: 'x' })) },
      { filter: { query: 'concert' }, after: reencode('not json') },
      { filter: { query: 'concert' }, after: `${cursor}x!` },
      // A corrected page names its dictionary by the id of its newest word.
      ...[-1, 1.5, 2 ** 60, 'yes', [['concert']]].map((t) => ({
        filter: { query: 'concert' },
        after: reencode(JSON.stringify({ ...inner, t })),
      })),
      { filter: { startsAfter: '0000-06-01T00:00:00Z' } },
      { filter: { startsBefore: '9999-12-31T23:00:00-05:00' } },
      // No argument carries control characters (NUL above all, which PostgreSQL refuses).
      { filter: { query: 'jazz\u0000' } },
    ];
    for (const variables of cases) {
      const { data, errors } = await search({ first: 5, ...variables });
      expect(data, JSON.stringify(variables)).toBeUndefined();
      expect(
        errors?.map((error) => error.extensions?.code),
        JSON.stringify(variables),
      ).toEqual(['BAD_USER_INPUT']);
    }
    expect(unexpectedErrors()).toEqual([]);
  });

  it('answers cursors whose value PostgreSQL cannot hold with BAD_USER_INPUT, not an internal error', async () => {
    const reencode = (key: Record<string, unknown>) =>
      Buffer.from(JSON.stringify({ k: JSON.stringify(key) })).toString('base64url');
    const id = uuidv7();
    const cases: Array<[string, Record<string, unknown>]> = [
      ['PRICE', { s: 'PRICE', v: 3_000_000_000, id }],
      ['PRICE', { s: 'PRICE', v: 2_147_483_648, id }],
      ['PRICE', { s: 'PRICE', v: -1, id }],
      ['STARTS_AT', { s: 'STARTS_AT', v: '0000-01-01T00:00:00Z', id }],
      ['STARTS_AT', { s: 'STARTS_AT', v: '0000-12-31T23:30:00-01:00', id }],
      ['STARTS_AT', { s: 'STARTS_AT', v: '0001-01-01T00:30:00+01:00', id }],
      ['STARTS_AT', { s: 'STARTS_AT', v: '9999-12-31T23:00:00-05:00', id }],
      ['STARTS_AT', { s: 'STARTS_AT', v: '+275760-09-13T00:00:00.000Z', id }],
      ['STARTS_AT', { s: 'STARTS_AT', v: 'NaN', id }],
      ['STARTS_AT', { s: 'STARTS_AT', v: 8.64e15, id }],
      ['NEWEST', { s: 'NEWEST', v: '0000-01-01T00:00:00Z', id }],
      ['NEWEST', { s: 'NEWEST', v: 3_000_000_000, id }],
    ];
    for (const [sort, key] of cases) {
      const { data, errors } = await search({ sort, first: 5, after: reencode(key) });
      expect(data, JSON.stringify(key)).toBeUndefined();
      expect(
        errors?.map((error) => [error.extensions?.code, error.message]),
        JSON.stringify(key),
      ).toEqual([['BAD_USER_INPUT', 'after: not a cursor this API issued']]);
    }
    // The extremes a real row can carry are still cursors: the no-price marker, years 1 and 9999.
    const extremes: Array<[string, Record<string, unknown>]> = [
      ['PRICE', { s: 'PRICE', v: 2_147_483_647, id }],
      ['STARTS_AT', { s: 'STARTS_AT', v: '0001-01-01T00:00:00+00:00', id }],
      ['STARTS_AT', { s: 'STARTS_AT', v: '9999-12-31T23:59:59.999999+00:00', id }],
    ];
    for (const [sort, key] of extremes) {
      const { errors } = await search({ sort, first: 5, after: reencode(key) });
      expect(errors, JSON.stringify(key)).toBeUndefined();
    }
    expect(unexpectedErrors()).toEqual([]);
  });
});
