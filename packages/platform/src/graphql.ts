import { readFileSync } from 'node:fs';
import {
  type DocumentNode,
  GraphQLError,
  type GraphQLResolveInfo,
  GraphQLScalarType,
  Kind,
  parse,
  type SelectionSetNode,
} from 'graphql';
import { z } from 'zod';
import { DomainError, type UserError } from './errors.ts';

export const SHARED_SDL_PATH = new URL('../schema/shared.graphql', import.meta.url);

/** A subgraph's own SDL followed by the shared types. */
export function loadSubgraphSdl(schemaPath: URL): string {
  return `${readFileSync(schemaPath, 'utf8')}\n${readFileSync(SHARED_SDL_PATH, 'utf8')}`;
}

export function loadTypeDefs(schemaPath: URL): DocumentNode {
  return parse(loadSubgraphSdl(schemaPath));
}

export const DateTimeScalar = new GraphQLScalarType<Date, string>({
  name: 'DateTime',
  serialize(value) {
    const date = value instanceof Date ? value : new Date(String(value));
    if (Number.isNaN(date.getTime())) throw new GraphQLError('DateTime cannot represent an invalid date');
    return date.toISOString();
  },
  parseValue(value) {
    return parseInstant(value);
  },
  parseLiteral(ast) {
    if (ast.kind !== Kind.STRING) throw new GraphQLError('DateTime must be an ISO-8601 string');
    return parseInstant(ast.value);
  },
});

function parseInstant(value: unknown): Date {
  const parsed = z.iso.datetime({ offset: true }).safeParse(value);
  if (!parsed.success) throw new GraphQLError('DateTime must be an ISO-8601 string with a time zone offset');
  const date = new Date(parsed.data);
  if (!isStorableInstant(date)) throw new GraphQLError('DateTime must fall within the years 1 to 9999 (UTC)');
  return date;
}

/** Years 1–9999 in UTC: what PostgreSQL and ISO-8601 both hold; beyond, a store would fail late. */
export function isStorableInstant(date: Date): boolean {
  const year = date.getUTCFullYear();
  return year >= 1 && year <= 9999;
}

/** Keyset cursor: opaque to clients, validated on the way back in. */
export function encodeCursor(key: string | number): string {
  return Buffer.from(JSON.stringify({ k: key })).toString('base64url');
}

/** The key of a cursor this API issued; keys are UUIDs unless another schema is given. */
export function decodeCursor<K = string>(
  cursor: string,
  key: z.ZodType<K> = z.uuid() as unknown as z.ZodType<K>,
): K {
  try {
    // Node's decoder skips characters outside the alphabet; a cursor we issued has none.
    if (!/^[A-Za-z0-9_-]{1,200}$/.test(cursor)) throw new Error('not base64url');
    return z.object({ k: key }).parse(JSON.parse(Buffer.from(cursor, 'base64url').toString())).k;
  } catch {
    throw new DomainError('BAD_USER_INPUT', 'after: not a cursor this API issued');
  }
}

/**
 * Whether the client asked for `name` directly under the field being resolved (fragments
 * included), so a resolver can fetch it with the rest instead of in a second query.
 */
export function selectsField(info: GraphQLResolveInfo, name: string): boolean {
  const seen = new Set<string>();
  const within = (set: SelectionSetNode | undefined): boolean =>
    (set?.selections ?? []).some((selection) => {
      if (selection.kind === Kind.FIELD) return selection.name.value === name;
      if (selection.kind === Kind.INLINE_FRAGMENT) return within(selection.selectionSet);
      const fragmentName = selection.name.value;
      if (seen.has(fragmentName)) return false;
      seen.add(fragmentName);
      return within(info.fragments[fragmentName]?.selectionSet);
    });
  return info.fieldNodes.some((node) => within(node.selectionSet));
}

export const MAX_PAGE_SIZE = 100;

export function pageSize(first: number | null | undefined, fallback = 20): number {
  const size = first ?? fallback;
  if (!Number.isInteger(size) || size < 1 || size > MAX_PAGE_SIZE) {
    throw new DomainError('BAD_USER_INPUT', `first: must be between 1 and ${MAX_PAGE_SIZE}`);
  }
  return size;
}

/** Builds a connection from `size + 1` rows fetched in key order (the extra row means "more"). */
export function toConnection<T>(
  rows: T[],
  size: number,
  keyOf: (row: T) => string | number = (row) => (row as { id: string }).id,
) {
  const nodes = rows.slice(0, size);
  return {
    edges: nodes.map((node) => ({ cursor: encodeCursor(keyOf(node)), node })),
    pageInfo: {
      hasNextPage: rows.length > size,
      endCursor: nodes.length ? encodeCursor(keyOf(nodes.at(-1)!)) : null,
    },
  };
}

/** Turns a zod failure into payload errors with the path of the offending input field. */
export function userErrorsFrom(error: z.ZodError, root = 'input'): UserError[] {
  return error.issues.map((issue) => ({
    code: 'INVALID_INPUT',
    message: issue.message,
    field: [root, ...issue.path.map(String)],
  }));
}
