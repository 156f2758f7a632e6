/**
 * Realistic catalog data for search: `npm run seed:catalog -- --events 100000` into `DATABASE_URL`
 * (catalog's migrations are applied first). Deterministic: the same count gives the same data.
 */
import { fileURLToPath } from 'node:url';
import { applyMigrations } from '@bilten/platform';
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
  events: number;
  organizations?: number;
  log?: (line: string) => void;
}

/** Inserts `events` events with 1–3 ticket types each into the `catalog` schema. */
export async function seedCatalog(
  sql: postgres.Sql,
  { events, organizations = 500, log = () => {} }: SeedOptions,
) {
  const next = random(events);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)]!;
  const orgIds = Array.from({ length: organizations }, () => uuidv7());
  const day = 86_400_000;
  const started = Date.now();
  for (let done = 0; done < events; ) {
    const batch = Math.min(1_000, events - done);
    const eventRows = [];
    const typeRows = [];
    for (let i = 0; i < batch; i++) {
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
        organization_id: pick(orgIds),
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
    await sql`insert into catalog.events ${sql(eventRows)}`;
    await sql`insert into catalog.ticket_types ${sql(typeRows)}`;
    done += batch;
    if (done % 20_000 === 0 || done === events) log(`  ${done} events`);
  }
  await sql`
    update catalog.events e set min_price = p.min, max_price = p.max
    from (select event_id, min(price_amount) as min, max(price_amount) as max
          from catalog.ticket_types where not hidden group by event_id) p
    where p.event_id = e.id and e.min_price is null`;
  await sql`analyze catalog.events`;
  await sql`analyze catalog.ticket_types`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const at = process.argv.indexOf('--events');
  const events = at > 0 ? Number.parseInt(process.argv[at + 1] ?? '', 10) : 100_000;
  if (!Number.isInteger(events) || events < 1) throw new Error('--events must be a positive whole number');
  const url = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/bilten';
  await applyMigrations(url, 'catalog', new URL('../../subgraphs/catalog/drizzle', import.meta.url));
  const sql = postgres(url, { max: 2, onnotice: () => {} });
  const log = (line: string) => process.stdout.write(`${line}\n`);
  log(`seeding ${events} events into ${url.replace(/\/\/[^@]*@/, '//')}`);
  try {
    await seedCatalog(sql, { events, log });
  } finally {
    await sql.end();
  }
}
