import { type AnyColumn, and, eq, gte, inArray, lt, or, type SQL, sql } from 'drizzle-orm';
import { boxesAround, EARTH_RADIUS_KM } from '../domain/geometry.ts';
import type { Db } from './queries.ts';
import { type EventRow, eventColumns, events, MAX_INT, searchWords } from './schema.ts';

/**
 * What a list shows: published public events of live organizations (domain/access.ts `isPublic`;
 * the listed partial indexes have the same predicate), plus every event of the organizations the
 * caller sees in full.
 */
const listable = (seesAllOf: string[]) => {
  const published = and(
    eq(events.status, 'PUBLISHED'),
    eq(events.visibility, 'PUBLIC'),
    sql`not ${events.testMode}`,
  );
  return seesAllOf.length ? or(published, inArray(events.organizationId, seesAllOf)) : published;
};

export interface SearchCriteria {
  /** Organizations whose drafts and unlisted events the caller sees: its own, or its API key's. */
  seesAllOf: string[];
  /** Words, each letters and digits only: safe inside a tsquery. They must all occur, the last as a prefix. */
  words: string[];
  /** Whether a query was typed: one without a single letter or digit matches nothing. */
  hasText: boolean;
  /**
   * Set when the words matched nothing and their typos were corrected (`correctTypos`): one
   * group per query word, of which one must occur; a group of one `word:*` is a prefix.
   */
  corrected?: string[][];
  category?: (typeof events.$inferSelect)['category'];
  city?: string;
  country?: string;
  near?: { latitude: number; longitude: number; radiusKm: number };
  startsAfter?: Date;
  startsBefore?: Date;
  priceMin?: number;
  priceMax?: number;
  organizationId?: string;
  onlineOnly?: boolean;
}

export type SearchSort = 'RELEVANCE' | 'STARTS_AT' | 'PRICE' | 'NEWEST';

/** Where a page starts: the sort key of the last row seen and its id (the tie-breaker). */
export interface SearchAfter {
  value: number | string | null;
  id: string;
}

/** How similar (pg_trgm's `similarity`, 0–1) a dictionary word must be to a query word to replace it. */
const TYPO_SIMILARITY = 0.3;
/** Dictionary words tried in place of one misspelt query word. */
const TYPO_ALTERNATIVES = 3;

/** The text as a tsquery: every group must occur, through one of its words. */
function textQuery(criteria: SearchCriteria) {
  // The last word is a prefix, as people type ("jazz fest" finds "Jazz Festival"); the others
  // must be whole words: a prefix costs the GIN index several times an exact lexeme.
  const groups =
    criteria.corrected ??
    criteria.words.map((word, i) => [i === criteria.words.length - 1 ? `${word}:*` : word]);
  if (!groups.length) return null;
  const text = groups.map((group) => (group.length > 1 ? `(${group.join(' | ')})` : group[0])).join(' & ');
  return sql`to_tsquery('simple', ${text})`;
}

/** Letters and digits only, as query words are: nothing a tsquery would read as syntax. */
const isPlainWord = (word: string) => /^[\p{L}\p{N}]+$/u.test(word);

/**
 * The query words with their typos corrected against the dictionary of words of listed events
 * ("cocnert" → "concert"), as it stood at `asOf` (the id of its newest word; now, when not
 * given), or undefined when that changes nothing or a word resembles nothing. A word stays as
 * typed when the dictionary has it (the last one: a word starting with it) or when it is too
 * short to compare; otherwise it becomes its closest dictionary words. Later pages pass their
 * first page's `asOf`, so they search the same words however the dictionary has grown.
 */
export async function correctTypos(
  db: Db,
  words: string[],
  asOf?: number,
): Promise<{ groups: string[][]; asOf: number } | undefined> {
  // The dictionary as of the newest word handed out (a word still being written then may join
  // it later). `%` is similarity ≥ pg_trgm.similarity_threshold (0.3 unless set otherwise),
  // answered by the trigram index; ties go by the word, so every page picks the same ones.
  const rows = await db.execute<{ asOf: number; known: boolean; similar: string[] }>(sql`
    with snapshot as (
      select coalesce(${asOf ?? null}::bigint, (select last_value from catalog.search_words_id_seq)) as upto
    )
    select snapshot.upto::float8 as "asOf",
      case when q.position = ${words.length}
        then exists (select from ${searchWords} s where s.word like q.word || '%' and s.id <= snapshot.upto)
        else exists (select from ${searchWords} s where s.word = q.word and s.id <= snapshot.upto) end as known,
      to_json(array(
        select s.word from ${searchWords} s
        where s.word % q.word and similarity(s.word, q.word) >= ${TYPO_SIMILARITY} and s.id <= snapshot.upto
        order by s.word <-> q.word, s.word limit ${TYPO_ALTERNATIVES}
      )) as similar
    from snapshot, unnest(array[${sql.join(
      words.map((word) => sql`${word}`),
      sql`, `,
    )}]::text[]) with ordinality as q(word, position)
    order by q.position`);
  let changed = false;
  const groups: string[][] = [];
  for (const [i, { known, similar }] of [...rows].entries()) {
    const word = words[i]!;
    if (known || word.length < 3) {
      groups.push([i === words.length - 1 ? `${word}:*` : word]);
    } else if (similar.some(isPlainWord)) {
      groups.push(similar.filter(isPlainWord));
      changed = true;
    } else {
      return undefined;
    }
  }
  return changed ? { groups, asOf: Number(rows[0]!.asOf) } : undefined;
}

/** The venue as (x = longitude, y = latitude), as `events_venue_point_idx` indexes it. */
const venuePoint = sql`point(${events.venueLongitude}, ${events.venueLatitude})`;

function searchConditions(criteria: SearchCriteria) {
  const tsquery = textQuery(criteria);
  const near = criteria.near;
  return and(
    listable(criteria.seesAllOf),
    tsquery ? sql`${events.searchVector} @@ ${tsquery}` : criteria.hasText ? sql`false` : undefined,
    criteria.category ? eq(events.category, criteria.category) : undefined,
    criteria.city ? sql`lower(${events.venueCity}) = lower(${criteria.city})` : undefined,
    criteria.country ? eq(events.venueCountry, criteria.country) : undefined,
    criteria.startsAfter ? gte(events.startsAt, criteria.startsAfter) : undefined,
    criteria.startsBefore ? lt(events.startsAt, criteria.startsBefore) : undefined,
    criteria.priceMin !== undefined ? sql`${events.maxPrice} >= ${criteria.priceMin}` : undefined,
    criteria.priceMax !== undefined ? sql`${events.minPrice} <= ${criteria.priceMax}` : undefined,
    criteria.organizationId ? eq(events.organizationId, criteria.organizationId) : undefined,
    criteria.onlineOnly ? sql`${events.onlineUrl} is not null` : undefined,
    near
      ? and(
          // Boxes first (the GiST index on the venue's point), then the great-circle distance.
          or(
            ...boxesAround(near).map(
              ({ west, east, south, north }) =>
                sql`${venuePoint} <@ box(point(${west}, ${south}), point(${east}, ${north}))`,
            ),
          ),
          sql`${sql.raw(String(EARTH_RADIUS_KM))} * 2 * asin(sqrt(power(sin(radians(${events.venueLatitude} - ${near.latitude}) / 2), 2)
            + cos(radians(${near.latitude})) * cos(radians(${events.venueLatitude}))
            * power(sin(radians(${events.venueLongitude} - ${near.longitude}) / 2), 2))) <= ${near.radiusKm}`,
        )
      : undefined,
  );
}

/** The sort key of each order, and whether it ascends; ids break ties in the same direction. */
function sortKey(sort: SearchSort, criteria: SearchCriteria) {
  const tsquery = textQuery(criteria);
  switch (sort) {
    case 'RELEVANCE': {
      const rank = sql`(${tsquery ? sql`ts_rank(${events.searchVector}, ${tsquery})` : sql`0`})::float8`;
      return { key: rank, value: rank, ascending: false, cast: sql`::float8` };
    }
    case 'STARTS_AT':
      return {
        key: sql`${events.startsAt}`,
        // ISO 8601 with microseconds, so the cursor loses nothing.
        value: sql`to_json(${events.startsAt}) #>> '{}'`,
        ascending: true,
        cast: sql`::timestamptz`,
      };
    case 'PRICE': {
      const price = sql`coalesce(${events.minPrice}, ${MAX_INT})`;
      return { key: price, value: price, ascending: true, cast: sql`::int` };
    }
    case 'NEWEST':
      return null;
  }
}

/**
 * One page of matching events in `sort` order, each with its sort key (for its cursor) and, when
 * `withTotal`, the number of all matches (counted before the limit applies).
 */
export function searchEvents(
  db: Db,
  criteria: SearchCriteria,
  sort: SearchSort,
  limit: number,
  after?: SearchAfter,
  withTotal = false,
): Promise<Array<EventRow & { sortValue: number | string | null; total: number | null }>> {
  const order = sortKey(sort, criteria);
  const value = sql<number | string | null>`${order?.value ?? sql`null`}`;
  const direction = order && !order.ascending ? sql`<` : order ? sql`>` : sql`<`;
  const position = after
    ? order
      ? sql`(${order.key}, ${events.id}) ${direction} (${after.value}${order.cast}, ${after.id}::uuid)`
      : sql`${events.id} < ${after.id}::uuid`
    : undefined;
  const conditions = and(searchConditions(criteria), position);
  const total = withTotal ? sql<number | null>`(count(*) over ())::int` : sql<number | null>`null`;
  const inOrder = (key: SQL | undefined, id: SQL | AnyColumn) =>
    !order || !key
      ? [sql`${id} desc`]
      : order.ascending
        ? [sql`${key} asc`, sql`${id} asc`]
        : [sql`${key} desc`, sql`${id} desc`];
  if (!criteria.near) {
    return db
      .select({ ...eventColumns, sortValue: value, total })
      .from(events)
      .where(conditions)
      .orderBy(...inOrder(order?.key, events.id))
      .limit(limit);
  }
  // A near box holds thousands of events, each on its own page of the table: order and count
  // them from the covering index (`events_listed_venue_point_idx`, an index-only scan for the
  // public), then read only the page's events.
  const page = db
    .select({
      id: events.id,
      sortKey: sql`${order?.key ?? sql`null`}`.as('sort_key'),
      sortValue: value.as('sort_value'),
      total: total.as('total'),
    })
    .from(events)
    .where(conditions)
    .orderBy(...inOrder(order?.key, events.id))
    .limit(limit)
    .as('page');
  return db
    .select({ ...eventColumns, sortValue: page.sortValue, total: page.total })
    .from(page)
    .innerJoin(events, eq(events.id, page.id))
    .orderBy(...inOrder(order ? sql`${page.sortKey}` : undefined, page.id));
}

export async function countEvents(db: Db, criteria: SearchCriteria): Promise<number> {
  const [row] = await db
    .select({ count: sql<number>`count(*)::int` })
    .from(events)
    .where(searchConditions(criteria));
  return row!.count;
}
