/** What the REST tests check answers against: the generated OpenAPI document's schemas. */
import { graphql } from '@bilten/testkit';
import { expect } from 'vitest';

export interface OpenApi {
  paths: Record<
    string,
    Record<
      string,
      {
        summary: string;
        requestBody?: { content: Record<string, { schema: Schema }> };
        responses: Record<string, Response_>;
      }
    >
  >;
  components: { schemas: Record<string, Schema>; responses: Record<string, Response_> };
}
export interface Response_ {
  $ref?: string;
  content?: Record<string, { schema: Schema }>;
}
export type Schema = Record<string, unknown>;

/**
 * What `value` breaks of `schema` (the subset the generated document uses: type, enum, properties,
 * required, additionalProperties, items, anyOf, $ref to components), each with where.
 */
export function schemaViolations(openapi: OpenApi, value: unknown, schema: Schema, at = '$'): string[] {
  if (typeof schema.$ref === 'string') {
    return schemaViolations(openapi, value, openapi.components.schemas[schema.$ref.split('/').at(-1)!]!, at);
  }
  if (Array.isArray(schema.anyOf)) {
    return schema.anyOf.some((option) => !schemaViolations(openapi, value, option as Schema, at).length)
      ? []
      : [`${at}: matches no anyOf option`];
  }
  if (Array.isArray(schema.enum) && !schema.enum.includes(value))
    return [`${at}: ${String(value)} not in enum`];
  const types = schema.type === undefined ? undefined : ([] as unknown[]).concat(schema.type);
  const typeOf = (v: unknown) =>
    v === null ? 'null' : Array.isArray(v) ? 'array' : Number.isInteger(v) ? 'integer' : typeof v;
  const actual = typeOf(value);
  if (types && !types.includes(actual) && !(actual === 'integer' && types.includes('number'))) {
    return [`${at}: ${actual} is not ${types.join('|')}`];
  }
  if (actual === 'array' && schema.items) {
    return (value as unknown[]).flatMap((item, i) =>
      schemaViolations(openapi, item, schema.items as Schema, `${at}[${i}]`),
    );
  }
  if (actual === 'object' && schema.properties) {
    const object = value as Record<string, unknown>;
    const properties = schema.properties as Record<string, Schema>;
    return [
      ...((schema.required as string[] | undefined) ?? [])
        .filter((key) => !(key in object))
        .map((key) => `${at}.${key}: missing`),
      ...Object.entries(object).flatMap(([key, item]) =>
        properties[key]
          ? schemaViolations(openapi, item, properties[key], `${at}.${key}`)
          : schema.additionalProperties === false
            ? [`${at}.${key}: not documented`]
            : [],
      ),
    ];
  }
  return [];
}

export type RestMethod = 'GET' | 'POST' | 'PATCH' | 'DELETE';

export interface RestCallOptions {
  /** Values of the route's `{name}` parameters. */
  params?: Record<string, string>;
  /** A query string, `?` included. */
  query?: string;
  headers?: Record<string, string>;
  body?: unknown;
}

/**
 * Calls a route of `/api/v1` at `origin` and checks the answer against `openapi`: the status is
 * documented, and so are the content type and body (or that there is none).
 */
export async function documentedCall(
  origin: string,
  openapi: OpenApi,
  method: RestMethod,
  route: string,
  options: RestCallOptions = {},
) {
  const path = route.replace(/\{(\w+)\}/g, (_, name: string) => options.params![name]!);
  const response = await fetch(`${origin}/api/v1${path}${options.query ?? ''}`, {
    method,
    headers: {
      ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
      ...options.headers,
    },
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  const text = await response.text();
  const body = text ? JSON.parse(text) : undefined;
  const documented = openapi.paths[`/api/v1${route}`]?.[method.toLowerCase()];
  expect(documented, `${method} ${route} is documented`).toBeDefined();
  let answer = documented!.responses[String(response.status)];
  expect(answer, `${method} ${route} documents ${response.status}: ${text}`).toBeDefined();
  if (answer!.$ref) answer = openapi.components.responses[answer!.$ref.split('/').at(-1)!];
  if (answer!.content) {
    const [contentType, media] = Object.entries(answer!.content)[0]!;
    expect(response.headers.get('content-type')).toContain(contentType);
    expect(schemaViolations(openapi, body, media.schema), `${method} ${path} → ${response.status}`).toEqual(
      [],
    );
  } else {
    expect(text, `${method} ${path} answers no body`).toBe('');
  }
  return { status: response.status, headers: response.headers, body };
}

/** The code a GraphQL call at `url` is refused with: the request's error, else the payload's first user error. */
export async function graphqlRefusal(
  url: string,
  query: string,
  variables: Record<string, unknown>,
  headers: Record<string, string>,
) {
  const { body } = await graphql<Record<string, { errors?: Array<{ code: string }> } | null>, unknown>(
    url,
    query,
    variables,
    headers,
  );
  const error = body.errors?.[0] as { extensions?: { code?: string } } | undefined;
  if (error) return error.extensions?.code;
  return Object.values(body.data ?? {})[0]?.errors?.[0]?.code;
}
