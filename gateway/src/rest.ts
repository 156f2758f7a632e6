import { hash } from 'node:crypto';
import { type ApiVersion, CURRENT_API_VERSION } from '@bilten/platform/api-versions';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { coerceInputValue, type GraphQLInputType, type GraphQLSchema, getNamedType, validate } from 'graphql';
import { routeDeprecationHeaders } from './deprecations.ts';
import { graphqlAsVisitor } from './graphql-as-visitor.ts';
import type { Idempotency } from './idempotency.ts';
import { openApiDocument, responseSchema } from './openapi.ts';
import {
  PROBLEM_CONTENT_TYPE,
  PROBLEM_KINDS,
  type Problem,
  type ProblemCode,
  type ProblemFieldError,
  problemOf,
  sendProblem,
} from './problem.ts';
import { type ObjectShape, objectShapeOf, withObjectNames } from './rest-objects.ts';
import {
  bodyOptional,
  GUEST_TOKEN_HEADER,
  GUEST_TOKEN_VARIABLE,
  loadRestOperations,
  queryParameters,
  REST_PREFIX,
  REST_ROUTES,
  type RestOperation,
  type RestRoute,
  takesGuestToken,
  variableTypes,
} from './rest-routes.ts';
import { answerIn, requestedVersion, VERSION_HEADER } from './versions/index.ts';

/*
 * The REST facade (/api/v1): every route is one named GraphQL operation (gateway/rest/v1/*.graphql)
 * run through the gateway's own /graphql in-process, so it passes the same authentication, rules,
 * cost and rate limits, logs and request id as its GraphQL twin. The table below says how a route's
 * path, query and body become the operation's variables and which field of the answer it returns;
 * the OpenAPI document (openapi.ts) is generated from the same table and operations.
 */

/** A query string value as the JSON value its GraphQL type takes; left as is when it is not one. */
function fromQueryString(value: string, type: GraphQLInputType): unknown {
  switch (getNamedType(type).name) {
    case 'Int':
    case 'Float':
      return value.trim() !== '' && Number.isFinite(Number(value)) ? Number(value) : value;
    case 'Boolean':
      return value === 'true' ? true : value === 'false' ? false : value;
    default:
      return value;
  }
}

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function dig(value: unknown, path: readonly string[]): unknown {
  let current = value;
  for (const key of path) current = isPlainObject(current) ? current[key] : undefined;
  return current;
}

interface GraphQLAnswer {
  data?: Record<string, unknown> | null;
  errors?: Array<{ message: string; extensions?: { code?: string; retryAfterSeconds?: unknown } }>;
}

interface UserError {
  code: string;
  message: string;
  field?: string[] | null;
}

/** Headers of the /graphql answer a REST answer carries too (rate limits, set by the limiter on /graphql). */
const PASSED_ON_HEADERS = ['ratelimit', 'ratelimit-policy', 'retry-after'];

// One-shot hashing: half the cost of a Hash object per answer (bench/rest).
const etagOf = (body: string) => `"${hash('sha256', body, 'base64url').slice(0, 32)}"`;

function matchesIfNoneMatch(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  return header.split(',').some((candidate) => {
    const tag = candidate.trim().replace(/^W\//, '');
    return tag === '*' || tag === etag;
  });
}

export interface RestOptions {
  /** The API schema, once the gateway has loaded the supergraph. */
  schema: () => GraphQLSchema | undefined;
  /** Where the operations are; default gateway/rest/v1/. */
  operationsFolder?: URL;
  /** Honours `Idempotency-Key` on every POST (idempotency.ts); unset: the header is ignored. */
  idempotency?: Idempotency;
  /** The version an API key is pinned on (`Bilten-Version` by default); undefined for anyone else. */
  apiVersionOf?: (authorization: string | undefined) => Promise<string | undefined>;
}

const DEFAULT_OPERATIONS_FOLDER = new URL('../rest/v1/', import.meta.url);

/** What /api/v1/openapi.json serves over `schema`: the breaking-change check compares it with its baseline. */
export const restOpenApiDocument = (schema: GraphQLSchema) =>
  openApiDocument(REST_ROUTES, loadRestOperations(DEFAULT_OPERATIONS_FOLDER), schema);

/** Registers the v1 routes and their OpenAPI document on `app`, which serves /graphql. */
export function registerRest(app: FastifyInstance, options: RestOptions) {
  const operations = loadRestOperations(options.operationsFolder ?? DEFAULT_OPERATIONS_FOLDER);
  const loaded = options.schema();
  for (const route of REST_ROUTES) {
    const operation = operations.get(route.operation);
    if (!operation) throw new Error(`REST ${route.method} ${route.path}: no operation ${route.operation}`);
    // A route whose operation no longer fits the schema fails the start, not its callers.
    const invalid = loaded ? validate(loaded, operation.document) : [];
    if (invalid.length)
      throw new Error(
        `REST operation ${route.operation}: ${invalid.map((error) => error.message).join('; ')}`,
      );
  }
  // Built on first request from the schema of then, again when the supergraph changes.
  let document: { schema: GraphQLSchema; json: string } | undefined;
  // Where each route's answer names its objects, read off its documented schema; again on a new schema.
  let shapes: { schema: GraphQLSchema; byRoute: Map<RestRoute, ObjectShape | undefined> } | undefined;
  const shapeOf = (schema: GraphQLSchema, route: RestRoute, operation: RestOperation) => {
    if (shapes?.schema !== schema) shapes = { schema, byRoute: new Map() };
    if (!shapes.byRoute.has(route)) {
      shapes.byRoute.set(route, objectShapeOf(responseSchema(schema, route, operation)));
    }
    return shapes.byRoute.get(route);
  };
  const versions = new WeakMap<FastifyRequest, ApiVersion>();
  // Each route's variable types, once per schema rather than once per request.
  let variableTypesByRoute:
    | { schema: GraphQLSchema; byRoute: Map<RestRoute, Map<string, GraphQLInputType>> }
    | undefined;
  const typesOf = (schema: GraphQLSchema, route: RestRoute, operation: RestOperation) => {
    if (variableTypesByRoute?.schema !== schema) variableTypesByRoute = { schema, byRoute: new Map() };
    const types = variableTypesByRoute.byRoute.get(route) ?? variableTypes(schema, operation);
    variableTypesByRoute.byRoute.set(route, types);
    return types;
  };

  app.register(
    async (scope) => {
      const problem = (
        request: FastifyRequest,
        reply: FastifyReply,
        input: Omit<Parameters<typeof problemOf>[0], 'instance'>,
      ) => sendProblem(reply, problemOf({ ...input, instance: request.id }));

      // Bodies that are not JSON, unknown routes: problems too, not the GraphQL-shaped answers of the rest of the gateway.
      scope.setErrorHandler((error: Error & { statusCode?: number }, request, reply) => {
        const status = error.statusCode ?? 500;
        if (status >= 500) {
          request.log.error({ err: error }, 'REST request failed');
          return problem(request, reply, { code: 'INTERNAL', detail: 'Internal error' });
        }
        const detail = status === 400 ? 'the body is not valid JSON' : error.message;
        return sendProblem(reply, {
          ...problemOf({ code: 'BAD_REQUEST', detail, instance: request.id }),
          status,
        });
      });
      scope.setNotFoundHandler((request, reply) =>
        problem(request, reply, {
          code: 'NOT_FOUND',
          detail: `no route for ${request.method} ${request.url.split('?')[0]}`,
        }),
      );

      // Every answer says the version it is shaped by; an idempotent replay repeats its own.
      scope.addHook('onRequest', async (request, reply) => {
        const { authorization } = request.headers;
        const asked = await requestedVersion(request.headers[VERSION_HEADER], async () =>
          // A key identity refuses gets the newest here, and its 401 from GraphQL.
          options.apiVersionOf?.(authorization).catch(() => undefined),
        );
        if ('refused' in asked) {
          reply.header(VERSION_HEADER, CURRENT_API_VERSION);
          return problem(request, reply, { code: 'BAD_REQUEST', detail: asked.refused });
        }
        versions.set(request, asked.version);
        reply.header(VERSION_HEADER, asked.version);
      });
      if (options.idempotency) scope.addHook('onSend', options.idempotency.onSend);

      scope.get('/openapi.json', async (_request, reply) => {
        const schema = options.schema();
        if (!schema) throw new Error('the API schema is not loaded');
        if (document?.schema !== schema) {
          document = { schema, json: JSON.stringify(openApiDocument(REST_ROUTES, operations, schema)) };
        }
        // The document describes the newest version, whichever the caller is pinned on.
        return reply
          .header('content-type', 'application/json; charset=utf-8')
          .header(VERSION_HEADER, CURRENT_API_VERSION)
          .send(document.json);
      });

      for (const route of REST_ROUTES) {
        const operation = operations.get(route.operation)!;
        scope.route({
          method: route.method,
          url: route.path.replace(/\{(\w+)\}/g, ':$1'),
          handler: async (request, reply) => {
            if (route.deprecated) reply.headers(routeDeprecationHeaders(route.deprecated, REST_PREFIX));
            const schema = options.schema();
            if (!schema) throw new Error('the API schema is not loaded');
            const types = typesOf(schema, route, operation);
            const { variables, errors } = requestVariables(route, operation, types, request);
            if (errors.length) {
              return problem(request, reply, {
                code: 'BAD_USER_INPUT',
                detail: 'the request is not valid',
                errors,
              });
            }
            // A valid POST claims its Idempotency-Key here; a replay or a refusal is answered instead.
            if (route.method === 'POST' && options.idempotency) {
              if (!(await options.idempotency.begin(request, reply, route.path))) return reply;
            }
            const answer = await graphqlAsVisitor(
              app,
              request,
              { query: operation.text, operationName: route.operation, variables },
              request.headers.authorization,
            );
            for (const name of PASSED_ON_HEADERS) {
              const value = answer.headers[name];
              if (value !== undefined) reply.header(name, value);
            }
            // Refused before GraphQL ran (the rate limiter's 429): already a problem, with this request id.
            if (String(answer.headers['content-type']).startsWith('application/problem+json')) {
              return reply
                .status(answer.statusCode)
                .header('content-type', PROBLEM_CONTENT_TYPE)
                .send(answer.body);
            }
            const body = answer.json<GraphQLAnswer>();
            const failure = body.errors?.[0];
            if (failure) {
              const code = failure.extensions?.code as ProblemCode | undefined;
              if (!code || code === 'INTERNAL' || !(code in PROBLEM_KINDS)) {
                return problem(request, reply, { code: 'INTERNAL', detail: 'Internal error' });
              }
              // A field's own limit (a subgraph's RATE_LIMITED) says when to come back, as the 429s here do.
              const retryAfter = failure.extensions?.retryAfterSeconds;
              if (code === 'RATE_LIMITED' && Number.isInteger(retryAfter)) {
                reply.header('retry-after', String(retryAfter));
              }
              return problem(request, reply, { code, detail: failure.message });
            }
            const userErrors =
              route.payload && (dig(body.data, [...route.payload, 'errors']) as UserError[] | undefined);
            if (userErrors?.length)
              return sendProblem(reply, userErrorProblem(route, userErrors, request.id));
            const resource = dig(body.data, route.resource);
            if (resource === null || resource === undefined) {
              return problem(request, reply, {
                code: 'NOT_FOUND',
                detail: 'no such resource, or the caller may not see it',
              });
            }
            if (route.status === 204) return reply.status(204).send();
            const answered = route.paginated
              ? pageOf(resource, route, request, reply)
              : Array.isArray(resource)
                ? { data: resource }
                : route.with || route.withWhenSet
                  ? {
                      ...(resource as Record<string, unknown>),
                      ...Object.fromEntries(
                        [...(route.with ?? []), ...(route.withWhenSet ?? [])]
                          .map((key) => [key, dig(body.data, [...route.payload!, key])])
                          // A signed-in caller's hold has no guest token: left out, not null.
                          .filter(([key, value]) => value != null || route.with?.includes(key as string)),
                      ),
                    }
                  : resource;
            const json = JSON.stringify(
              answerIn(
                versions.get(request) ?? CURRENT_API_VERSION,
                route,
                withObjectNames(answered, shapeOf(schema, route, operation)),
              ),
            );
            if (route.location) {
              const location = route.location.replace(/\{(\w+)\}/g, (_, key: string) =>
                encodeURIComponent(
                  String((resource as Record<string, unknown>)[key] ?? variablesAt(variables, route, key)),
                ),
              );
              reply.header('location', `${REST_PREFIX}${location}`);
            }
            reply.header('content-type', 'application/json; charset=utf-8');
            if (route.method === 'GET') {
              // The answer depends on who asks: caches may keep it for that caller only, and must ask again.
              const etag = etagOf(json);
              reply.header('etag', etag).header('cache-control', 'private, no-cache');
              if (matchesIfNoneMatch(request.headers['if-none-match'], etag)) return reply.status(304).send();
            }
            return reply.status(route.status).send(json);
          },
        });
      }
    },
    { prefix: REST_PREFIX },
  );
}

/** A path parameter's value for a Location template key that the resource does not carry (the event of a ticket type). */
function variablesAt(variables: Record<string, unknown>, route: RestRoute, key: string): unknown {
  const target = Object.values(route.pathParams ?? {}).find((path) => path.split('.').at(-1) === key);
  return target ? dig(variables, target.split('.')) : undefined;
}

/** Payload errors: NOT_FOUND is 404, CONFLICT and ALREADY_EXISTS 409, the rest 422; field paths relative to the body. */
function userErrorProblem(route: RestRoute, userErrors: UserError[], requestId: string): Problem {
  const codes = new Set(userErrors.map((error) => error.code));
  // A field the path filled (the id of PATCH /events/{id}) is named as the path parameter.
  const pathParam = (field: string[]) =>
    Object.entries(route.pathParams ?? {}).find(([, target]) => target === field.join('.'))?.[0];
  const errors: ProblemFieldError[] = userErrors.map((error) => ({
    path:
      error.field && pathParam(error.field)
        ? ['path', pathParam(error.field)!]
        : error.field && error.field[0] === route.body
          ? ['body', ...error.field.slice(1)]
          : (error.field ?? []),
    code: error.code,
    message: error.message,
  }));
  const detail = userErrors.map((error) => error.message).join('; ');
  if (codes.has('NOT_FOUND')) return problemOf({ code: 'NOT_FOUND', detail, instance: requestId, errors });
  if (codes.has('CONFLICT') || codes.has('ALREADY_EXISTS')) {
    return problemOf({ code: 'CONFLICT', detail, instance: requestId, errors });
  }
  // Understood but refused by the rules (RFC 9110 §15.5.21), unlike a malformed request (400).
  return { ...problemOf({ code: 'BAD_USER_INPUT', detail, instance: requestId, errors }), status: 422 };
}

/** The variables of a request, or what is wrong with its path, query and body (each with its path). */
function requestVariables(
  route: RestRoute,
  operation: RestOperation,
  types: Map<string, GraphQLInputType>,
  request: FastifyRequest,
): { variables: Record<string, unknown>; errors: ProblemFieldError[] } {
  const errors: ProblemFieldError[] = [];
  const variables: Record<string, unknown> = {};
  const check = (value: unknown, type: GraphQLInputType, where: (string | number)[]) => {
    coerceInputValue(value, type, (path, _invalid, error) => {
      errors.push({ path: [...where, ...path], code: 'INVALID_INPUT', message: error.message });
    });
  };

  if (route.body) {
    const body = request.body;
    if (body === undefined && bodyOptional(route, types)) {
      variables[route.body] = {};
    } else if (!/^application\/json\b/i.test(request.headers['content-type'] ?? '')) {
      errors.push({ path: ['body'], code: 'INVALID_INPUT', message: 'the body must be application/json' });
    } else if (!isPlainObject(body)) {
      errors.push({ path: ['body'], code: 'INVALID_INPUT', message: 'the body must be a JSON object' });
    } else {
      variables[route.body] = { ...body };
    }
  }
  const params = request.params as Record<string, string>;
  for (const [name, target] of Object.entries(route.pathParams ?? {})) {
    const [variable, field] = target.split('.') as [string, string | undefined];
    if (field) {
      const into = variables[variable];
      if (isPlainObject(into)) into[field] = params[name];
    } else {
      variables[variable] = params[name];
      check(params[name], types.get(variable)!, ['path', name]);
    }
  }
  if (route.body && isPlainObject(variables[route.body])) {
    check(variables[route.body], types.get(route.body)!, ['body']);
  }

  const guestToken = request.headers[GUEST_TOKEN_HEADER.toLowerCase()];
  if (typeof guestToken === 'string' && takesGuestToken(route, operation)) {
    variables[GUEST_TOKEN_VARIABLE] = guestToken;
  }

  const query = queryParameters(route, operation);
  for (const [name, value] of Object.entries(request.query as Record<string, string | string[]>)) {
    const variable = query.get(name);
    if (!variable) {
      errors.push({
        path: ['query', name],
        code: 'UNKNOWN_PARAMETER',
        message: `unknown query parameter ${name}`,
      });
      continue;
    }
    if (Array.isArray(value)) {
      errors.push({ path: ['query', name], code: 'INVALID_INPUT', message: `${name} may be given once` });
      continue;
    }
    const type = types.get(variable)!;
    variables[variable] = fromQueryString(value, type);
    check(variables[variable], type, ['query', name]);
  }
  return { variables, errors };
}

/** A connection as a page: its nodes, whether there is more, and a `Link` to the next page. */
function pageOf(connection: unknown, route: RestRoute, request: FastifyRequest, reply: FastifyReply) {
  const { edges, pageInfo, totalCount } = connection as {
    edges: Array<{ node: unknown }>;
    pageInfo: { hasNextPage: boolean; endCursor: string | null };
    totalCount?: number;
  };
  const nextCursor = pageInfo.hasNextPage ? pageInfo.endCursor : null;
  if (nextCursor) {
    const next = new URLSearchParams(request.query as Record<string, string>);
    next.set('starting_after', nextCursor);
    reply.header('link', `<${REST_PREFIX}${route.path}?${next}>; rel="next"`);
  }
  return { data: edges.map((edge) => edge.node), hasMore: pageInfo.hasNextPage, nextCursor, totalCount };
}
