import type { GraphQLFormattedError } from 'graphql';
import type { Logger } from './logger.ts';

/** The closed set of codes a client may see in `extensions.code`. */
export const ERROR_CODES = [
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'EMAIL_NOT_VERIFIED',
  'NOT_FOUND',
  'BAD_USER_INPUT',
  'RATE_LIMITED',
  'CONFLICT',
  'INTERNAL',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

/** Thrown by domain code for unexpected or access failures; mapped once at the edge. */
export class DomainError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

/** Expected business failures travel in mutation payloads, not as GraphQL errors. */
export interface UserError {
  /** Mirrors `enum ErrorCode` in packages/platform/schema/shared.graphql. */
  code:
    | 'INVALID_INPUT'
    | 'NOT_FOUND'
    | 'ALREADY_EXISTS'
    | 'CONFLICT'
    | 'SOLD_OUT'
    | 'RESERVATION_EXPIRED'
    | 'ALREADY_CHECKED_IN'
    | 'ALREADY_PAID';
  message: string;
  field?: string[];
}

/** Codes that GraphQL itself (parsing, validation, armor) uses and that are safe to pass through. */
const PASS_THROUGH = new Set<string>([
  ...ERROR_CODES,
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_REQUEST',
  'PERSISTED_QUERY_NOT_FOUND',
  'PERSISTED_QUERY_NOT_SUPPORTED',
  'OPERATION_RESOLUTION_FAILURE',
]);

/**
 * Extensions that describe our side, never the request: a stack, a wrapped exception, an upstream's
 * raw answer (@apollo/gateway puts a subgraph's URL, status and body in `response`).
 */
const INTERNAL_EXTENSIONS = new Set(['stacktrace', 'exception', 'response']);

/**
 * Apollo `formatError`: known codes keep their message; everything else becomes INTERNAL with a
 * generic message, so no stack trace or database text ever reaches a client.
 */
export function createErrorFormatter(log: Logger) {
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const original = (error as { originalError?: unknown })?.originalError ?? error;
    if (original instanceof DomainError) {
      return {
        message: original.message,
        locations: formatted.locations,
        path: formatted.path,
        extensions: { code: original.code, ...original.details },
      };
    }
    const code = formatted.extensions?.code;
    if (typeof code === 'string' && PASS_THROUGH.has(code)) {
      const extensions = Object.fromEntries(
        Object.entries(formatted.extensions ?? {}).filter(([key]) => !INTERNAL_EXTENSIONS.has(key)),
      );
      return { ...formatted, extensions };
    }
    log.error({ err: original, path: formatted.path }, 'unexpected error');
    return {
      message: 'Internal error',
      locations: formatted.locations,
      path: formatted.path,
      extensions: { code: 'INTERNAL' },
    };
  };
}
