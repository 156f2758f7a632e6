import { readFileSync } from 'node:fs';
import type { ApolloServerPlugin } from '@apollo/server';
import {
  type ASTNode,
  type DocumentNode,
  GraphQLError,
  type GraphQLResolveInfo,
  GraphQLScalarType,
  Kind,
  OperationTypeNode,
  parse,
  type SelectionSetNode,
  visit,
} from 'graphql';
import { z } from 'zod';
import { CARD_NUMBER_REFUSED, cardNumberPaths, looksLikeCardNumber } from './card-numbers.ts';
import { DomainError, type UserError } from './errors.ts';
import { textProblem, textProblems } from './validation.ts';

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
    const instant = parseInstant(value);
    if (typeof instant === 'string') throw new GraphQLError(instant);
    return instant;
  },
  parseLiteral(ast) {
    const instant = parseInstant(ast.kind === Kind.STRING ? ast.value : undefined);
    // A literal is refused by validation, which Apollo reports as GRAPHQL_VALIDATION_FAILED, a code
    // the gateway cannot tell from a schema mismatch of its own; the formatter answers a DomainError
    // as what it is.
    if (typeof instant === 'string') throw new DomainError('BAD_USER_INPUT', instant);
    return instant;
  },
});

/** The instant, or why the value is none. */
function parseInstant(value: unknown): Date | string {
  const parsed = z.iso.datetime({ offset: true }).safeParse(value);
  if (!parsed.success) {
    return 'DateTime must be an ISO-8601 date and time with a time zone offset, e.g. 2027-06-01T19:00:00Z';
  }
  const date = new Date(parsed.data);
  return isStorableInstant(date) ? date : 'DateTime must fall within the years 1 to 9999 (UTC)';
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

const badArgument = (message: string, node?: ASTNode) =>
  new GraphQLError(message, { nodes: node, extensions: { code: 'BAD_USER_INPUT', http: { status: 400 } } });

/**
 * Refuses, in every operation, mutations included, a variable or literal that looks like a card
 * number (PCI DSS, SAQ A: card data never reaches our servers), before any resolver, database or
 * log sees it. The answer names where, never the number; the log redaction masks it anyway.
 */
function refuseCardNumbers(document: DocumentNode, variables: Record<string, unknown>) {
  const [variable] = cardNumberPaths(variables);
  if (variable) throw badArgument(`Variable "$${variable.join('.')}": ${CARD_NUMBER_REFUSED}`);
  visit(document, {
    enter(node) {
      const literal = node.kind === Kind.STRING || node.kind === Kind.INT || node.kind === Kind.FLOAT;
      if (literal && looksLikeCardNumber(node.value))
        throw badArgument(`An argument: ${CARD_NUMBER_REFUSED}`, node);
    },
  });
}

/** `refuseCardNumbers` alone, for a server without `refuseUnsafeArguments` (the gateway). */
export function cardNumberRefusal(): ApolloServerPlugin {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ document, request }) {
          refuseCardNumbers(document, request.variables ?? {});
        },
      };
    },
  };
}

/**
 * Refuses card numbers in any operation (`refuseCardNumbers`), and the strings no field takes
 * (`textProblem`: longer than any field, control characters, broken UTF-16) in the arguments of
 * queries before a resolver or the database sees them: the client's mistake, answered
 * BAD_USER_INPUT, where PostgreSQL would fail (NUL) and answer INTERNAL.
 * Mutation inputs are their rule's to check (`mutationRule`), which answers field errors instead.
 */
export function refuseUnsafeArguments(): ApolloServerPlugin {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ operation, document, request }) {
          refuseCardNumbers(document, request.variables ?? {});
          if (operation?.operation === OperationTypeNode.MUTATION) return;
          const [variable] = textProblems(request.variables ?? {});
          if (variable) throw badArgument(`Variable "$${variable.path.join('.')}" ${variable.problem}`);
          visit(document, {
            StringValue(node) {
              const problem = textProblem(node.value);
              if (problem) throw badArgument(`A string argument ${problem}`, node);
            },
          });
        },
      };
    },
  };
}
