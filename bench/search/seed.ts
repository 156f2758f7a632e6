/**
 * Realistic catalog data for search: `npm run seed:catalog -- --events 100000` brings the catalog
 * of `DATABASE_URL`, or when that is unset the search benchmark's own database (see
 * `benchDatabaseUrl`), up to that many events; catalog's migrations are applied first.
 * Deterministic: event n is always the same event (apart from its id and the dates, which are
 * relative to the day of seeding), so topping 3,000 events up to 100,000 gives the data a fresh
 * 100,000 would.
 */
import { fileURLToPath } from 'node:url';
import { applyMigrations } from '@bilten/platform';
import { ADMIN_DATABASE_URL } from '@bilten/testkit';
import postgres from 'postgres';
import { v7 as uuidv7 } from 'uuid';

const CITIES = [
  ['Sarajevo', 'BA', 43.856, 18.413, 'BAM'],
  ['Mostar', 'BA', 43.343, 17.808, 'BAM'],
  ['Banja Luka', 'BA', 44.772, 17.191, 'BAM'],
  ['Tuzla', 'BA', 44.538, 18.676, 'BAM'],
  ['Zagreb', 'HR', 45.815, 15.982, 'EUR'],
  ['Split', 'HR', 43.508, 16.44, 'EUR'],
  ['Belgrade', 'RS', 44.787, 20.457, 'RSD'],
  ['Novi Sad', 'RS', 45.267, 19.833, 'RSD'],
  ['Ljubljana', 'SI', 46.056, 14.506, 'EUR'],
  ['Podgorica', 'ME', 42.441, 19.263, 'EUR'],
  ['Skopje', 'MK', 41.998, 21.425, 'MKD'],
  ['Vienna', 'AT', 48.208, 16.373, 'EUR'],
  ['Berlin', 'DE', 52.52, 13.405, 'EUR'],
  ['Munich', 'DE', 48.137, 11.575, 'EUR'],
  ['Paris', 'FR', 48.857, 2.352, 'EUR'],
  ['Madrid', 'ES', 40.417, -3.704, 'EUR'],
  ['Barcelona', 'ES', 41.385, 2.173, 'EUR'],
  ['Rome', 'IT', 41.903, 12.496, 'EUR'],
  ['Milan', 'IT', 45.464, 9.19, 'EUR'],
  ['London', 'GB', 51.507, -0.128, 'GBP'],
  ['Amsterdam', 'NL', 52.368, 4.904, 'EUR'],
  ['Prague', 'CZ', 50.075, 14.438, 'CZK'],
  ['Budapest', 'HU', 47.498, 19.04, 'HUF'],
] as const;

const VENUES = [
  'Arena',
  'Hall',
  'Club',
  'Theatre',
  'Park',
  'Cultural Centre',
  'Gallery',
  'Stadium',
  'Cinema',
  'Bar',
];
const CATEGORIES = {
  MUSIC: {
    words: [
      'Jazz',
      'Rock',
      'Blues',
      'Techno',
      'Classical',
      'Folk',
      'Sevdah',
      'Hip Hop',
      'Indie',
      'Metal',
      'Opera',
      'Pop',
    ],
    kinds: ['Concert', 'Night', 'Session', 'Live', 'Showcase', 'Tour'],
  },
  FESTIVAL: {
    words: ['Summer', 'Jazz', 'Film', 'Street Food', 'Wine', 'Rock', 'Light'],
    kinds: ['Festival', 'Fest', 'Weekend'],
  },
  THEATRE: {
    words: ['Hamlet', 'The Seagull', 'Macbeth', 'Antigone', 'The Cherry Orchard'],
    kinds: ['Premiere', 'Play', 'Revival'],
  },
  COMEDY: { words: ['Stand-up', 'Improv', 'Open Mic', 'Sketch'], kinds: ['Night', 'Special', 'Show'] },
  CONFERENCE: {
    words: ['TypeScript', 'Data', 'Design', 'Startup', 'Security', 'Cloud'],
    kinds: ['Conference', 'Summit', 'Days'],
  },
  WORKSHOP: {
    words: ['Pottery', 'Photography', 'Coding', 'Cooking', 'Painting'],
    kinds: ['Workshop', 'Masterclass', 'Class'],
  },
  SPORTS: { words: ['City', 'Night', 'Trail', 'Charity'], kinds: ['Marathon', 'Match', 'Tournament', 'Run'] },
  FAMILY: { words: ['Puppet', 'Magic', 'Science', 'Circus'], kinds: ['Show', 'Afternoon', 'Day'] },
} as const;
const ADJECTIVES = [
  'Midnight',
  'Grand',
  'Acoustic',
  'Winter',
  'Spring',
  'Open Air',
  'Late',
  'New Year',
  'Underground',
  'Golden',
];

/** A small deterministic generator (mulberry32). */
function random(seed: number) {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

export interface SeedOptions {
  /** How many events to insert. */
  events: number;
  /** The number of the first one: events already there, so a top-up continues the sequence. */
  from?: number;
  organizations?: number;
  log?: (line: string) => void;
}

/** Organization ids are fixed too, so a top-up spreads its events over the same organizations. */
const organizationId = (n: number) => `00000000-0000-7000-8000-${(n + 1).toString(16).padStart(12, '0')}`;

/**
 * Inserts events number `from` to `from + events - 1`, with 1–3 ticket types each, into the
 * `catalog` schema, then vacuums and analyzes the tables: the price update rewrites every new row,
 * and the GIN indexes' pending lists should be merged, as they would be in a database in use.
 */
export async function seedCatalog(
  sql: postgres.Sql,
  { events, from = 0, organizations = 500, log = () => {} }: SeedOptions,
) {
  const day = 86_400_000;
  const started = Date.now();
  for (let done = 0; done < events; ) {
    const batch = Math.min(1_000, events - done);
    const eventRows: Array<Record<string, string | number | null>> = [];
    const typeRows: Array<Record<string, string | number>> = [];
    for (let i = 0; i < batch; i++) {
      // One generator per event, seeded with its number.
      const next = random(Math.imul(from + done + i + 1, 0x9e3779b1));
      const pick = <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)]!;
      const [categoryName, category] = pick(Object.entries(CATEGORIES));
      const [city, country, latitude, longitude, currency] = pick(CITIES);
      const online =
        categoryName === 'CONFERENCE' || categoryName === 'WORKSHOP' ? next() < 0.3 : next() < 0.02;
      const title = `${next() < 0.4 ? `${pick(ADJECTIVES)} ` : ''}${pick(category.words)} ${pick(category.kinds)}${next() < 0.3 ? ` ${city}` : ''}`;
      const description = `${title} in ${city}. An evening of ${pick(category.words).toLowerCase()} with friends, food and drinks; doors open an hour before.`;
      const startsAt = new Date(started + Math.floor((next() * 395 - 30) * day));
      const roll = next();
      const id = uuidv7();
      eventRows.push({
        id,
        organization_id: organizationId(Math.floor(next() * organizations)),
        title,
        description,
        description_html: `<p>${description}</p>`,
        category: categoryName,
        starts_at: startsAt.toISOString(),
        ends_at: new Date(startsAt.getTime() + (2 + Math.floor(next() * 5)) * 3_600_000).toISOString(),
        timezone: 'Europe/Sarajevo',
        venue_name: online ? null : `${city} ${pick(VENUES)}`,
        venue_address: online ? null : `${1 + Math.floor(next() * 200)} Main Street`,
        venue_city: online ? null : city,
        venue_country: online ? null : country,
        venue_latitude: online ? null : latitude + (next() - 0.5) * 0.1,
        venue_longitude: online ? null : longitude + (next() - 0.5) * 0.1,
        online_url: online ? `https://stream.example/${id}` : null,
        currency,
        capacity: 50 + Math.floor(next() * 5_000),
        status: roll < 0.9 ? 'PUBLISHED' : roll < 0.98 ? 'DRAFT' : 'CANCELLED',
        visibility: next() < 0.95 ? 'PUBLIC' : 'UNLISTED',
        published_at: roll < 0.9 ? new Date(started).toISOString() : null,
      });
      const types = 1 + Math.floor(next() * 3);
      for (let t = 0; t < types; t++) {
        typeRows.push({
          id: uuidv7(),
          event_id: id,
          name: ['General admission', 'VIP', 'Early bird'][t]!,
          price_amount: 500 + Math.floor(next() * 300) * 50,
          price_currency: currency,
          capacity: 20 + Math.floor(next() * 500),
          sort_order: t,
        });
      }
    }
    // Together, so an interrupted seed leaves no event without its ticket types.
    await sql.begin(async (tx) => {
      await tx`insert into catalog.events ${tx(eventRows)}`;
      await tx`insert into catalog.ticket_types ${tx(typeRows)}`;
    });
    done += batch;
    if (done % 20_000 === 0 || done === events) log(`  ${from + done} events`);
  }
  await sql`
    update catalog.events e set min_price = p.min, max_price = p.max
    from (select event_id, min(price_amount) as min, max(price_amount) as max
          from catalog.ticket_types where not hidden group by event_id) p
    where p.event_id = e.id and e.min_price is null`;
  await sql`vacuum (analyze) catalog.events, catalog.ticket_types`;
}

/**
 * The search benchmark's database: `BENCH_SEARCH_DATABASE_URL`, or `bilten_bench_search` on the
 * server the tests and benchmarks use (`TEST_DATABASE_URL`). It only ever holds the seeded catalog;
 * each run works on a copy of it.
 */
export function benchDatabaseUrl(): string {
  if (process.env.BENCH_SEARCH_DATABASE_URL) return process.env.BENCH_SEARCH_DATABASE_URL;
  const url = new URL(ADMIN_DATABASE_URL);
  url.pathname = '/bilten_bench_search';
  return url.toString();
}

/** The URL without its password, for printing. */
export const printable = (url: string) => url.replace(/\/\/([^:@/]*)(:[^@/]*)?@/, '//$1@');

/** The same server's maintenance database, to create and drop databases from. */
export function adminUrlOf(url: string): string {
  const admin = new URL(url);
  admin.pathname = '/postgres';
  return admin.toString();
}

/**
 * Makes sure the database at `url` exists, has catalog's migrations and at least `events` events:
 * when it has fewer, the rest are seeded. Returns the events it has and how many were added.
 */
export async function prepareCatalog(
  url: string,
  events: number,
  log: (line: string) => void = () => {},
): Promise<{ events: number; seeded: number }> {
  const name = decodeURIComponent(new URL(url).pathname.slice(1));
  const admin = postgres(adminUrlOf(url), { max: 1, onnotice: () => {} });
  try {
    const [exists] = await admin`select 1 from pg_database where datname = ${name}`;
    if (!exists) {
      log(`creating database ${name}`);
      await admin.unsafe(`create database "${name.replaceAll('"', '""')}"`);
    }
  } finally {
    await admin.end();
  }
  await applyMigrations(url, 'catalog', new URL('../../subgraphs/catalog/drizzle', import.meta.url));
  const sql = postgres(url, { max: 2, onnotice: () => {} });
  try {
    const [row] = await sql<Array<{ count: number }>>`select count(*)::int as count from catalog.events`;
    const present = row!.count;
    if (present >= events) return { events: present, seeded: 0 };
    log(`${printable(url)} has ${present} events; seeding ${events - present} more`);
    const began = performance.now();
    await seedCatalog(sql, { events: events - present, from: present, log });
    log(`seeded in ${Math.round((performance.now() - began) / 1_000)} s`);
    return { events, seeded: events - present };
  } finally {
    await sql.end();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const at = process.argv.indexOf('--events');
  const events = at > 0 ? Number.parseInt(process.argv[at + 1] ?? '', 10) : 100_000;
  if (!Number.isInteger(events) || events < 1) throw new Error('--events must be a positive whole number');
  const url = process.env.DATABASE_URL || benchDatabaseUrl();
  const log = (line: string) => process.stdout.write(`${line}\n`);
  log(`bringing ${printable(url)} up to ${events} events`);
  const result = await prepareCatalog(url, events, log);
  log(`${result.events} events (${result.seeded} added)`);
}
