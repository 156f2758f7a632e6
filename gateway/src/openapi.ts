import { CURRENT_API_VERSION } from '@bilten/platform/api-versions';
import {
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLInputType,
  type GraphQLNamedType,
  type GraphQLOutputType,
  type GraphQLSchema,
  getNamedType,
  isEnumType,
  isInputObjectType,
  isInterfaceType,
  isListType,
  isNonNullType,
  isObjectType,
  Kind,
  type SelectionSetNode,
} from 'graphql';
import { CHANGELOG_PATH } from './changelog.ts';
import { DEPRECATION_RESPONSE_HEADERS } from './deprecations.ts';
import { IDEMPOTENCY_HEADER_PARAMETER, IDEMPOTENT_REPLAYED_HEADER } from './idempotency.ts';
import { PROBLEM_KINDS, PROBLEM_TYPE_BASE } from './problem.ts';
import { LIST_OBJECT, objectName } from './rest-objects.ts';
import {
  bodyOptional,
  GUEST_TOKEN_HEADER,
  pathParamType,
  queryParameters,
  REST_PREFIX,
  type RestOperation,
  type RestRoute,
  takesGuestToken,
  variableTypes,
} from './rest-routes.ts';
import { VERSION_PARAMETER, VERSION_RESPONSE_HEADER } from './versions/index.ts';

/*
 * The OpenAPI 3.1 document of the REST facade, generated from its route table and operations over
 * the API schema: request schemas from the GraphQL input types, response schemas from each
 * operation's selection set, so the document cannot drift from what the routes answer.
 */

export type JsonSchema = Record<string, unknown>;

const SCALARS: Record<string, JsonSchema> = {
  ID: { type: 'string' },
  String: { type: 'string' },
  Int: { type: 'integer' },
  Float: { type: 'number' },
  Boolean: { type: 'boolean' },
  DateTime: { type: 'string', format: 'date-time' },
  JSON: {},
};

const orNull = (schema: JsonSchema): JsonSchema =>
  typeof schema.type === 'string' && !schema.enum
    ? { ...schema, type: [schema.type, 'null'] }
    : { anyOf: [schema, { type: 'null' }] };

function leafSchema(type: GraphQLNamedType): JsonSchema {
  if (isEnumType(type)) return { type: 'string', enum: type.getValues().map((value) => value.name) };
  return SCALARS[type.name] ?? { type: 'string' };
}

const described = (schema: JsonSchema, description: string | null | undefined) =>
  description ? { ...schema, description } : schema;

/** A GraphQL input type as JSON Schema; `without` leaves fields out (those a path parameter fills). */
export function inputSchema(type: GraphQLInputType, without: readonly string[] = []): JsonSchema {
  return isNonNullType(type)
    ? nonNullInputSchema(type.ofType, without)
    : orNull(nonNullInputSchema(type, without));
}

function nonNullInputSchema(type: GraphQLInputType, without: readonly string[]): JsonSchema {
  if (isNonNullType(type)) return nonNullInputSchema(type.ofType, without);
  if (isListType(type)) return { type: 'array', items: inputSchema(type.ofType) };
  if (isInputObjectType(type)) {
    const fields = Object.values(type.getFields()).filter((field) => !without.includes(field.name));
    const required = fields
      .filter((field) => isNonNullType(field.type) && field.defaultValue === undefined)
      .map((field) => field.name);
    return described(
      {
        type: 'object',
        properties: Object.fromEntries(
          fields.map((field) => [field.name, described(inputSchema(field.type), field.description)]),
        ),
        ...(required.length ? { required } : {}),
        additionalProperties: false,
      },
      type.description,
    );
  }
  return leafSchema(type);
}

/** The JSON Schema of what `selection` selects from a value of `type`. */
export function selectionSchema(
  type: GraphQLOutputType,
  selection: SelectionSetNode | undefined,
  fragments: Map<string, FragmentDefinitionNode>,
): JsonSchema {
  if (isNonNullType(type)) return nonNullSelectionSchema(type.ofType, selection, fragments);
  return orNull(nonNullSelectionSchema(type, selection, fragments));
}

function nonNullSelectionSchema(
  type: GraphQLOutputType,
  selection: SelectionSetNode | undefined,
  fragments: Map<string, FragmentDefinitionNode>,
): JsonSchema {
  if (isNonNullType(type)) return nonNullSelectionSchema(type.ofType, selection, fragments);
  if (isListType(type)) return { type: 'array', items: selectionSchema(type.ofType, selection, fragments) };
  if (!(isObjectType(type) || isInterfaceType(type)) || !selection) return leafSchema(getNamedType(type));
  const fields = type.getFields();
  const properties: Record<string, JsonSchema> = {};
  const collect = (set: SelectionSetNode) => {
    for (const node of set.selections) {
      if (node.kind === Kind.FIELD) {
        const key = node.alias?.value ?? node.name.value;
        const field = fields[node.name.value];
        properties[key] = field
          ? described(selectionSchema(field.type, node.selectionSet, fragments), field.description)
          : { type: 'string' };
      } else if (node.kind === Kind.FRAGMENT_SPREAD) {
        collect(fragments.get(node.name.value)!.selectionSet);
      } else {
        collect(node.selectionSet);
      }
    }
  };
  collect(selection);
  // A resource (an object type with an id) names its type (API version 2026-12-07).
  const named =
    isObjectType(type) && properties.id
      ? { id: properties.id, object: { type: 'string', enum: [objectName(type.name)] }, ...properties }
      : properties;
  return { type: 'object', properties: named, required: Object.keys(named), additionalProperties: false };
}

/** The field selected at `path` under `selection`: its type and selection set. */
function selectedAt(
  schema: GraphQLSchema,
  operation: RestOperation,
  path: readonly string[],
  fragments: Map<string, FragmentDefinitionNode>,
): { type: GraphQLOutputType; selection?: SelectionSetNode } {
  const root =
    operation.definition.operation === 'mutation' ? schema.getMutationType()! : schema.getQueryType()!;
  let type: GraphQLOutputType = root;
  let selection: SelectionSetNode | undefined = operation.definition.selectionSet;
  for (const key of path) {
    const parent: GraphQLNamedType = getNamedType(type);
    if (!(isObjectType(parent) || isInterfaceType(parent)) || !selection)
      throw new Error(`${path.join('.')}: not selected`);
    const node: FieldNode | undefined = allFields(selection, fragments).find(
      (field) => (field.alias?.value ?? field.name.value) === key,
    );
    if (!node) throw new Error(`${operation.definition.name?.value}: ${key} is not selected`);
    type = parent.getFields()[node.name.value]!.type;
    selection = node.selectionSet;
  }
  return { type, selection };
}

function allFields(selection: SelectionSetNode, fragments: Map<string, FragmentDefinitionNode>) {
  return selection.selections.flatMap((node): FieldNode[] => {
    if (node.kind === Kind.FIELD) return [node];
    if (node.kind === Kind.FRAGMENT_SPREAD)
      return allFields(fragments.get(node.name.value)!.selectionSet, fragments);
    return allFields(node.selectionSet, fragments);
  });
}

const nonNull = (type: GraphQLOutputType) => (isNonNullType(type) ? type.ofType : type);

/** The schema of a route's answer: the resource, `{ data }` for a list, a page for a connection. */
export function responseSchema(
  schema: GraphQLSchema,
  route: RestRoute,
  operation: RestOperation,
): JsonSchema {
  const fragments = new Map(
    operation.document.definitions
      .filter((node): node is FragmentDefinitionNode => node.kind === Kind.FRAGMENT_DEFINITION)
      .map((node) => [node.name.value, node]),
  );
  if (route.paginated) {
    const node = selectedAt(schema, operation, [...route.resource, 'edges', 'node'], fragments);
    // Only connections that count their matches (events do, orders do not) answer totalCount.
    const { selection } = selectedAt(schema, operation, route.resource, fragments);
    const counted =
      !!selection && allFields(selection, fragments).some((field) => field.name.value === 'totalCount');
    return {
      type: 'object',
      properties: {
        object: LIST_OBJECT,
        data: { type: 'array', items: nonNullSelectionSchema(node.type, node.selection, fragments) },
        hasMore: { type: 'boolean', description: 'Whether a next page exists (see the `Link` header).' },
        nextCursor: { type: ['string', 'null'], description: 'The `starting_after` of the next page.' },
        ...(counted && { totalCount: { type: 'integer', description: 'All matches, not just this page.' } }),
      },
      required: ['object', 'data', 'hasMore', 'nextCursor', ...(counted ? ['totalCount'] : [])],
      additionalProperties: false,
    };
  }
  const resource = selectedAt(schema, operation, route.resource, fragments);
  const body = nonNullSelectionSchema(nonNull(resource.type), resource.selection, fragments);
  if (isListType(nonNull(resource.type)))
    return {
      type: 'object',
      properties: { object: LIST_OBJECT, data: body },
      required: ['object', 'data'],
      additionalProperties: false,
    };
  if (!route.with && !route.withWhenSet) return body;
  // The payload's fields answered beside the resource's (a secret shown once): `with` always, `withWhenSet` when set.
  const extra = [...(route.with ?? []), ...(route.withWhenSet ?? [])].map((key) => {
    const field = selectedAt(schema, operation, [...route.payload!, key], fragments);
    return [key, nonNullSelectionSchema(nonNull(field.type), field.selection, fragments)] as const;
  });
  return {
    ...body,
    properties: { ...(body.properties as JsonSchema), ...Object.fromEntries(extra) },
    required: [...(body.required as string[]), ...(route.with ?? [])],
  };
}

/** A value that `schema` accepts, for the examples. */
export function exampleOf(schema: JsonSchema): unknown {
  if (Array.isArray(schema.anyOf)) return exampleOf(schema.anyOf[0] as JsonSchema);
  if (Array.isArray(schema.enum)) return schema.enum[0];
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  switch (type) {
    case 'object': {
      const properties = (schema.properties ?? {}) as Record<string, JsonSchema>;
      return Object.fromEntries(Object.entries(properties).map(([key, value]) => [key, exampleOf(value)]));
    }
    case 'array':
      return [exampleOf(schema.items as JsonSchema)];
    case 'integer':
      return 1;
    case 'number':
      return 1.5;
    case 'boolean':
      return true;
    case 'string':
      return schema.format === 'date-time' ? '2027-06-01T19:00:00Z' : 'string';
    default:
      return null;
  }
}

const PROBLEM_SCHEMA: JsonSchema = {
  type: 'object',
  description: 'RFC 9457 problem details.',
  properties: {
    type: {
      type: 'string',
      format: 'uri',
      description: `A page of the error docs: ${PROBLEM_TYPE_BASE}<code>.`,
    },
    title: { type: 'string' },
    status: { type: 'integer' },
    detail: { type: 'string' },
    instance: { type: 'string', description: 'The request id (also the `x-request-id` header).' },
    code: {
      type: 'string',
      enum: Object.keys(PROBLEM_KINDS),
      description: "The GraphQL API's `extensions.code`.",
    },
    errors: {
      type: 'array',
      description: 'What is wrong, where: `path` starts with `body`, `query` or `path`.',
      items: {
        type: 'object',
        properties: {
          path: { type: 'array', items: { type: ['string', 'integer'] } },
          code: { type: 'string' },
          message: { type: 'string' },
        },
        required: ['path', 'code', 'message'],
      },
    },
  },
  required: ['type', 'title', 'status', 'detail', 'instance', 'code'],
};

const problemResponse = (description: string, code: keyof typeof PROBLEM_KINDS, status: number) => ({
  description,
  content: {
    'application/problem+json': {
      schema: { $ref: '#/components/schemas/Problem' },
      example: {
        type: PROBLEM_KINDS[code].type,
        title: PROBLEM_KINDS[code].title,
        status,
        detail: description,
        instance: '3f1c7a52-5b8e-4d0e-9a43-0d6f2c1e9b7a',
        code,
      },
    },
  },
});

const ERROR_RESPONSES = {
  BadRequest: problemResponse(
    'The path, query or body is not valid; `errors` says where.',
    'BAD_USER_INPUT',
    400,
  ),
  Unauthenticated: problemResponse('No valid API key or token.', 'UNAUTHENTICATED', 401),
  Forbidden: problemResponse('The caller may not do this.', 'FORBIDDEN', 403),
  NotFound: problemResponse('No such resource, or the caller may not see it.', 'NOT_FOUND', 404),
  Conflict: problemResponse('The change conflicts with the current state.', 'CONFLICT', 409),
  Unprocessable: problemResponse(
    'The rules refuse the change; `errors` says which fields.',
    'BAD_USER_INPUT',
    422,
  ),
  RateLimited: problemResponse('Too many requests; retry after `Retry-After` seconds.', 'RATE_LIMITED', 429),
  Internal: problemResponse('Something failed on our side; quote `instance`.', 'INTERNAL', 500),
};

const GUEST_TOKEN_PARAMETER = {
  name: GUEST_TOKEN_HEADER,
  in: 'header',
  required: false,
  description:
    'For a caller not signed in: the `guestToken` that `POST /reservations` answered once with the hold, which opens it and its order.',
  schema: { type: 'string', maxLength: 100 },
};

function routeOperation(schema: GraphQLSchema, route: RestRoute, operation: RestOperation) {
  const types = variableTypes(schema, operation);
  const parameters = [
    ...Object.entries(route.pathParams ?? {}).map(([name, target]) => ({
      name,
      in: 'path',
      required: true,
      schema: nonNullInputSchema(pathParamType(types, target), []),
    })),
    ...[...queryParameters(route, operation)].map(([name, variable]) => ({
      name,
      in: 'query',
      required: false,
      ...(name === 'limit' ? { description: 'Page size (default 20).' } : {}),
      ...(name === 'starting_after' ? { description: 'The `nextCursor` of the page before.' } : {}),
      schema: nonNullInputSchema(types.get(variable)!, []),
    })),
    ...(takesGuestToken(route, operation) ? [GUEST_TOKEN_PARAMETER] : []),
    ...(route.method === 'POST' ? [IDEMPOTENCY_HEADER_PARAMETER] : []),
    VERSION_PARAMETER,
  ];
  const bodyType = route.body && types.get(route.body);
  const filledByPath = Object.values(route.pathParams ?? {})
    .filter((target) => target.startsWith(`${route.body}.`))
    .map((target) => target.split('.')[1]!);
  const bodySchema = bodyType && nonNullInputSchema(bodyType, filledByPath);
  const answer = responseSchema(schema, route, operation);
  const headers: Record<string, unknown> = { 'Bilten-Version': VERSION_RESPONSE_HEADER };
  if (route.deprecated) Object.assign(headers, DEPRECATION_RESPONSE_HEADERS);
  if (route.location)
    headers.Location = { description: 'Where the created resource is.', schema: { type: 'string' } };
  if (route.method === 'GET') {
    headers.ETag = {
      description: 'Send it as `If-None-Match` to get a 304 while unchanged.',
      schema: { type: 'string' },
    };
  }
  if (route.method === 'POST') headers['Idempotent-Replayed'] = IDEMPOTENT_REPLAYED_HEADER;
  if (route.paginated)
    headers.Link = { description: 'The next page: `<…>; rel="next"`.', schema: { type: 'string' } };
  const ref = (name: keyof typeof ERROR_RESPONSES) => ({ $ref: `#/components/responses/${name}` });
  return {
    operationId: route.operation,
    summary: operation.summary,
    description:
      `Runs the GraphQL operation \`${route.operation}\` (same rules as the GraphQL API).` +
      (route.deprecated
        ? ` Deprecated since ${route.deprecated.since}; answers until ${route.deprecated.sunset}` +
          (route.deprecated.successor ? `: use \`${REST_PREFIX}${route.deprecated.successor}\`.` : '.')
        : ''),
    tags: [route.tag],
    ...(route.deprecated && {
      deprecated: true,
      // What the breaking-change check reads: the operation may be removed from this date on.
      'x-sunset': route.deprecated.sunset,
    }),
    parameters,
    ...(bodySchema
      ? {
          requestBody: {
            required: !bodyOptional(route, types),
            content: { 'application/json': { schema: bodySchema, example: exampleOf(bodySchema) } },
          },
        }
      : {}),
    responses: {
      [route.status]:
        route.status === 204
          ? { description: 'Done; no content.' }
          : {
              description: route.status === 201 ? 'Created.' : 'OK.',
              ...(Object.keys(headers).length ? { headers } : {}),
              content: { 'application/json': { schema: answer, example: exampleOf(answer) } },
            },
      ...(route.method === 'GET' ? { 304: { description: 'Not modified since the `ETag` sent.' } } : {}),
      400: ref('BadRequest'),
      401: ref('Unauthenticated'),
      403: ref('Forbidden'),
      ...(route.pathParams || route.payload ? { 404: ref('NotFound') } : {}),
      ...(route.payload ? { 409: ref('Conflict'), 422: ref('Unprocessable') } : {}),
      // Idempotency-Key: 409 while its first request runs, 422 when reused for another request.
      ...(route.method === 'POST' ? { 409: ref('Conflict'), 422: ref('Unprocessable') } : {}),
      429: ref('RateLimited'),
      500: ref('Internal'),
    },
  };
}

/** The OpenAPI 3.1 document of `routes`. */
export function openApiDocument(
  routes: readonly RestRoute[],
  operations: Map<string, RestOperation>,
  schema: GraphQLSchema,
) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    const path = `${REST_PREFIX}${route.path}`;
    paths[path] ??= {};
    paths[path][route.method.toLowerCase()] = routeOperation(schema, route, operations.get(route.operation)!);
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Bilten REST API',
      version: CURRENT_API_VERSION,
      description:
        'Every route runs one named operation of the GraphQL API, with the same authentication, rules and limits. Errors are RFC 9457 problem details. ' +
        `Answers are shaped by the dated version in \`Bilten-Version\` (default: the one the API key is pinned on); what changed in each: [changelog](${CHANGELOG_PATH}).`,
    },
    servers: [{ url: '/' }],
    security: [{ bearer: [] }, {}],
    tags: [...new Set(routes.map((route) => route.tag))].map((name) => ({ name })),
    paths,
    components: {
      securitySchemes: {
        bearer: {
          type: 'http',
          scheme: 'bearer',
          description: 'An API key (`bk_live_…`, `bk_test_…`) or an access token.',
        },
      },
      schemas: { Problem: PROBLEM_SCHEMA },
      responses: ERROR_RESPONSES,
    },
  };
}
