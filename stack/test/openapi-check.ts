/** What the REST tests check answers against: the generated OpenAPI document's schemas. */

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
