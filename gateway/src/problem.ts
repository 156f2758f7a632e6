import type { ErrorCode } from '@bilten/platform';
import type { FastifyReply } from 'fastify';

/*
 * RFC 9457 problem details: the one answer shape of every non-GraphQL error the gateway gives (the
 * rate limiter's 429, the REST facade). GraphQL answers keep `extensions.code`; the same code here
 * picks the status, title and documented `type` URI, so a client maps both shapes the same way.
 */

/** Every problem `type` is this base plus the code in kebab case; each is a page of the error docs. */
export const PROBLEM_TYPE_BASE = 'https://docs.bilten.dev/errors/';

/** The codes a problem may carry: ours (packages/platform ERROR_CODES) and the GraphQL ones the gateway passes on. */
export type ProblemCode =
  | ErrorCode
  | 'GRAPHQL_PARSE_FAILED'
  | 'GRAPHQL_VALIDATION_FAILED'
  | 'BAD_REQUEST'
  | 'PERSISTED_QUERY_NOT_FOUND'
  | 'PERSISTED_QUERY_NOT_SUPPORTED'
  | 'OPERATION_RESOLUTION_FAILURE';

export interface ProblemKind {
  status: number;
  title: string;
  type: string;
}

const kind = (code: ProblemCode, status: number, title: string): ProblemKind => ({
  status,
  title,
  type: `${PROBLEM_TYPE_BASE}${code.toLowerCase().replaceAll('_', '-')}`,
});

/** The one mapping from a code to its HTTP status, title and type URI. */
export const PROBLEM_KINDS: Readonly<Record<ProblemCode, ProblemKind>> = {
  UNAUTHENTICATED: kind('UNAUTHENTICATED', 401, 'Authentication required'),
  FORBIDDEN: kind('FORBIDDEN', 403, 'Not allowed'),
  EMAIL_NOT_VERIFIED: kind('EMAIL_NOT_VERIFIED', 403, 'Email address not verified'),
  NOT_FOUND: kind('NOT_FOUND', 404, 'Not found'),
  BAD_USER_INPUT: kind('BAD_USER_INPUT', 400, 'Invalid input'),
  RATE_LIMITED: kind('RATE_LIMITED', 429, 'Too many requests'),
  CONFLICT: kind('CONFLICT', 409, 'Conflict'),
  INTERNAL: kind('INTERNAL', 500, 'Internal error'),
  UNAVAILABLE: kind('UNAVAILABLE', 503, 'Service unavailable'),
  GRAPHQL_PARSE_FAILED: kind('GRAPHQL_PARSE_FAILED', 400, 'Operation could not be parsed'),
  GRAPHQL_VALIDATION_FAILED: kind('GRAPHQL_VALIDATION_FAILED', 400, 'Operation is not valid'),
  BAD_REQUEST: kind('BAD_REQUEST', 400, 'Bad request'),
  PERSISTED_QUERY_NOT_FOUND: kind('PERSISTED_QUERY_NOT_FOUND', 400, 'Persisted query not found'),
  PERSISTED_QUERY_NOT_SUPPORTED: kind(
    'PERSISTED_QUERY_NOT_SUPPORTED',
    400,
    'Persisted queries not supported',
  ),
  OPERATION_RESOLUTION_FAILURE: kind('OPERATION_RESOLUTION_FAILURE', 400, 'Operation could not be chosen'),
};

/** One invalid part of the request: where (`path`, e.g. `["body", "email"]`), its code and why. */
export interface ProblemFieldError {
  path: (string | number)[];
  code: string;
  message: string;
}

/** An RFC 9457 body; `code` is an extension member carrying the same code as GraphQL's `extensions.code`. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  /** The request id (also in the `x-request-id` header), which finds the request in the logs. */
  instance: string;
  code: ProblemCode;
  errors?: ProblemFieldError[];
}

export function problemOf(input: {
  code: ProblemCode;
  detail: string;
  instance: string;
  errors?: ProblemFieldError[];
}): Problem {
  const { status, title, type } = PROBLEM_KINDS[input.code];
  return {
    type,
    title,
    status,
    detail: input.detail,
    instance: input.instance,
    code: input.code,
    ...(input.errors?.length ? { errors: input.errors } : {}),
  };
}

export const PROBLEM_CONTENT_TYPE = 'application/problem+json; charset=utf-8';

/** Answers `problem` with its status as `application/problem+json` (RFC 9457 §3). */
export function sendProblem(reply: FastifyReply, problem: Problem): FastifyReply {
  return reply
    .status(problem.status)
    .header('content-type', PROBLEM_CONTENT_TYPE)
    .send(JSON.stringify(problem));
}
