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
  'UNAVAILABLE',
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
    if (isConnectionLost(original)) {
      log.warn({ err: original, path: formatted.path }, 'database unavailable');
      return {
        message: 'the service is unavailable for a moment; try again shortly',
        locations: formatted.locations,
        path: formatted.path,
        extensions: { code: 'UNAVAILABLE' },
      };
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

/**
 * postgres.js's codes for a connection it could not open or lost, and PostgreSQL's for a server
 * going away: class 08 (connection exception), 57P01-57P03 (shut down, crashed, not accepting
 * connections yet). Fast shutdown ends sessions with 57P01, and a stopped server refuses.
 */
const CONNECTION_LOST = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'CONNECT_TIMEOUT',
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  '57P01',
  '57P02',
  '57P03',
]);

/** Whether `err` (or what it wraps: drizzle keeps the driver's error as `cause`) says the database is out of reach. */
export function isConnectionLost(err: unknown): boolean {
  for (let current = err, depth = 0; current && depth < 5; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && (CONNECTION_LOST.has(code) || /^08[0-9A-Z]{3}$/.test(code))) return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}
