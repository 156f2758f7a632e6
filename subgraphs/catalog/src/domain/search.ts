import {
  DomainError,
  decodeCursor,
  displayText,
  encodeCursor,
  isStorableInstant,
  isUuid,
  pageSize,
  uuidInput,
  type Viewer,
} from '@bilten/platform';
import { z } from 'zod';
import type { Context } from '../context.ts';
import { type EventRow, MAX_INT } from '../db/schema.ts';
import {
  correctTypos,
  countEvents,
  type SearchAfter,
  type SearchCriteria,
  type SearchSort,
  searchEvents,
} from '../db/search.ts';
import { organizationsSeenInFull } from './access.ts';

const eventFilter = z.object({
  query: z.string().max(200, 'must be at most 200 characters').nullish(),
  category: z.string().nullish(),
  city: displayText(100).nullish(),
  country: z
    .string()
    .regex(/^[A-Z]{2}$/, 'must be a two-letter ISO 3166-1 code in upper case')
    .nullish(),
  near: z
    .object({
      latitude: z.number().min(-90).max(90),
      longitude: z.number().min(-180).max(180),
      radiusKm: z.number().min(1, 'must be 1–500').max(500, 'must be 1–500'),
    })
    .nullish(),
  startsAfter: z.date().nullish(),
  startsBefore: z.date().nullish(),
  priceMin: z.number().int().min(0).nullish(),
  priceMax: z.number().int().min(0).nullish(),
  organizationId: uuidInput.nullish(),
  onlineOnly: z.boolean().nullish(),
});

/**
 * A start time as a cursor carries it (ISO 8601 with microseconds), kept as text so nothing is
 * lost, but only when PostgreSQL can read it: its year field must not be 0000 either.
 */
const cursorStartsAt = z.iso
  .datetime({ offset: true })
  .refine((text) => !text.startsWith('0000') && isStorableInstant(new Date(text)));

/**
 * On the pages after a typo-corrected first page: the dictionary that page was corrected with (the
 * id of its newest word), so the same words are searched however it has grown since.
 */
const correctedAsOf = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

/**
 * A cursor names its order, so one from another order (or another query's sort) is refused; its
 * value must fit the column it is compared with, or PostgreSQL would fail the query.
 */
const cursorKey = z
  .string()
  .transform((text, ctx) => {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      ctx.addIssue({ code: 'custom', message: 'not JSON' });
      return z.NEVER;
    }
  })
  .pipe(
    z.discriminatedUnion('s', [
      z.object({ s: z.literal('RELEVANCE'), v: z.number(), id: z.uuid(), t: correctedAsOf.optional() }),
      z.object({
        s: z.literal('STARTS_AT'),
        v: cursorStartsAt,
        id: z.uuid(),
        t: correctedAsOf.optional(),
      }),
      z.object({
        s: z.literal('PRICE'),
        v: z.number().int().min(0).max(MAX_INT),
        id: z.uuid(),
        t: correctedAsOf.optional(),
      }),
      z.object({ s: z.literal('NEWEST'), v: z.null(), id: z.uuid(), t: correctedAsOf.optional() }),
    ]),
  );

export interface SearchArgs {
  filter?: Record<string, unknown> | null;
  sort?: SearchSort | null;
  first?: number | null;
  after?: string | null;
}

/** Query words as tsquery lexemes: letters and digits only, lower case, at most 8. */
const wordsOf = (text: string) =>
  (
    text
      .normalize('NFKC')
      .toLowerCase()
      .match(/[\p{L}\p{N}]+/gu) ?? []
  ).slice(0, 8);

export interface EventPage {
  edges: Array<{ cursor: string; node: EventRow }>;
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
  /** Counts all matches; only asked when `totalCount` is. */
  count(): Promise<number>;
}

/** A well-formed id no organization has: what a malformed organization key matches. */
const NO_ORGANIZATION = '00000000-0000-0000-0000-000000000000';

/**
 * What one search asks for, validated: criteria, the order and where the page starts. `scope` is
 * an organization key as another subgraph gave it: any string, of which only UUIDs can match.
 */
function parseSearch(viewer: Viewer, args: SearchArgs, scope: { organizationId?: string } = {}) {
  const scopeId =
    scope.organizationId === undefined
      ? undefined
      : isUuid(scope.organizationId)
        ? scope.organizationId.toLowerCase()
        : NO_ORGANIZATION;
  const size = pageSize(args.first);
  const parsed = eventFilter.safeParse(args.filter ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new DomainError('BAD_USER_INPUT', `filter.${issue.path.join('.')}: ${issue.message}`);
  }
  const filter = parsed.data;
  // Tabs and line breaks, the control characters an argument may carry, mean nothing in a search.
  // biome-ignore lint/suspicious/noControlCharactersInRegex: this pattern exists to remove them
  const text = filter.query?.replace(/[\u0000-\u001f\u007f]/g, ' ').trim() || undefined;
  const criteria: SearchCriteria = {
    seesAllOf: organizationsSeenInFull(viewer),
    words: text ? wordsOf(text) : [],
    hasText: Boolean(text),
    category: (filter.category ?? undefined) as SearchCriteria['category'],
    city: filter.city ?? undefined,
    country: filter.country ?? undefined,
    near: filter.near ?? undefined,
    startsAfter: filter.startsAfter ?? undefined,
    startsBefore: filter.startsBefore ?? undefined,
    priceMin: filter.priceMin ?? undefined,
    priceMax: filter.priceMax ?? undefined,
    organizationId: scopeId ?? filter.organizationId ?? undefined,
    onlineOnly: filter.onlineOnly ?? undefined,
  };
  const requested: SearchSort = args.sort ?? (text ? 'RELEVANCE' : 'NEWEST');
  const sort: SearchSort = requested === 'RELEVANCE' && !text ? 'NEWEST' : requested;
  let after: SearchAfter | undefined;
  let typosAsOf: number | undefined;
  if (args.after) {
    const key = decodeCursor(args.after, cursorKey);
    if (key.s !== sort) throw new DomainError('BAD_USER_INPUT', 'after: a cursor of another sort order');
    after = { value: key.v, id: key.id };
    typosAsOf = key.t;
  }
  return { size, criteria, sort, after, typosAsOf };
}

/**
 * A page of events matching `filter`, in `sort` order, with keyset cursors. `withTotal` says the
 * caller will ask for `count()`: a first page that reads every match anyway (to rank them by
 * relevance, or to sort the events in a distance box) counts them in the same statement.
 */
export async function searchEventPage(
  { db, viewer }: Pick<Context, 'db' | 'viewer'>,
  args: SearchArgs,
  { organizationId, withTotal = false }: { organizationId?: string; withTotal?: boolean } = {},
): Promise<EventPage> {
  const {
    size,
    criteria,
    sort: effectiveSort,
    after,
    typosAsOf,
  } = parseSearch(viewer, args, { organizationId });
  const countsInPage = withTotal && !after && (effectiveSort === 'RELEVANCE' || Boolean(criteria.near));
  const search = () => searchEvents(db, criteria, effectiveSort, size + 1, after, countsInPage);
  // The pages after a typo-corrected first page correct the words as it did.
  let typos =
    typosAsOf !== undefined && criteria.words.length
      ? await correctTypos(db, criteria.words, typosAsOf)
      : undefined;
  criteria.corrected = typos?.groups;
  let rows = await search();
  // No event has all the words: correct their typos ("cocnert") and search again.
  if (!rows.length && !after && criteria.words.length) {
    typos = await correctTypos(db, criteria.words);
    if (typos) {
      criteria.corrected = typos.groups;
      rows = await search();
    }
  }
  const nodes = rows.slice(0, size);
  const cursorOf = (row: (typeof rows)[number]) =>
    encodeCursor(
      JSON.stringify({
        s: effectiveSort,
        v: row.sortValue,
        id: row.id,
        ...(typos ? { t: typos.asOf } : {}),
      }),
    );
  return {
    edges: nodes.map((node) => ({ cursor: cursorOf(node), node })),
    pageInfo: { hasNextPage: rows.length > size, endCursor: nodes.length ? cursorOf(nodes.at(-1)!) : null },
    count: async () => (countsInPage ? (rows[0]?.total ?? 0) : countEvents(db, criteria)),
  };
}
