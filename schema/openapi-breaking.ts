/*
 * The REST facade's breaking-change check: the OpenAPI document generated today against the
 * committed baseline (schema/openapi-baseline.json). A structural diff of what our generator
 * writes (OpenAPI 3.1, JSON Schema type lists, `anyOf` with null, local `$ref`s), judged from a
 * client's side: a request that was valid must stay valid, an answer must stay within what the
 * baseline promised. The npm diff tools read OpenAPI 3.0 schemas (`nullable`), not 3.1's.
 */

type Json = Record<string, unknown>;

export interface OpenApiDocument {
  paths: Record<string, Record<string, Json>>;
  components?: Json;
}

export interface OpenApiChange {
  /** `POST /api/v1/events`, then where in it: `request body.title`, `200 body.data[].id`, … */
  path: string;
  message: string;
}

export interface OpenApiReport {
  /** Breaking changes no passed sunset covers: the check fails on any. */
  breaking: OpenApiChange[];
  /** Breaking changes to operations deprecated with a sunset that has passed. */
  expiredRemovals: OpenApiChange[];
  /** Answers may hold enum values a client's exhaustive switch does not know. */
  dangerous: OpenApiChange[];
  /** Operations added. */
  added: string[];
}

const METHODS = ['get', 'put', 'post', 'patch', 'delete', 'head', 'options'];

const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** `#/components/schemas/Problem` and the like, within `document`. */
function resolve(document: OpenApiDocument, value: unknown): Json {
  let node = value;
  for (let hops = 0; isObject(node) && typeof node.$ref === 'string' && hops < 20; hops++) {
    node = node.$ref
      .replace(/^#\//, '')
      .split('/')
      .reduce<unknown>((at, key) => (isObject(at) ? at[key] : undefined), document);
  }
  return isObject(node) ? node : {};
}

/** A schema as its types (null included) and the rest: `anyOf: [X, {type: null}]` is X or null. */
function flatten(
  document: OpenApiDocument,
  value: unknown,
): { types: Set<string> | undefined; schema: Json } {
  const schema = resolve(document, value);
  if (Array.isArray(schema.anyOf)) {
    const options = schema.anyOf.map((option) => flatten(document, option));
    const typed = options.filter((option) => option.types !== undefined);
    const main = options.find((option) => !(option.types?.size === 1 && option.types.has('null')));
    if (typed.length < options.length) return { types: undefined, schema: main?.schema ?? {} };
    return {
      types: new Set(typed.flatMap((option) => [...option.types!])),
      schema: { ...(main?.schema ?? {}), ...(options.length > 1 && { enum: enumOf(options) }) },
    };
  }
  const types =
    schema.type === undefined ? undefined : new Set(([] as string[]).concat(schema.type as string[]));
  return { types, schema };
}

/** The enum of an `anyOf`'s options, null counted when an option is null. */
function enumOf(options: Array<{ types: Set<string> | undefined; schema: Json }>): unknown[] | undefined {
  const values: unknown[] = [];
  for (const option of options) {
    if (option.types?.size === 1 && option.types.has('null')) values.push(null);
    else if (Array.isArray(option.schema.enum)) values.push(...option.schema.enum);
    else return undefined;
  }
  return values;
}

/** Every type in `types` is accepted by `by` (an integer is a number). */
const within = (types: Set<string>, by: Set<string>) =>
  [...types].every((type) => by.has(type) || (type === 'integer' && by.has('number')));

type Direction = 'request' | 'response';

interface Comparison {
  baseline: OpenApiDocument;
  current: OpenApiDocument;
  breaking: OpenApiChange[];
  dangerous: OpenApiChange[];
}

/**
 * What `before` → `after` breaks. A request schema may only accept more: no type, enum value or
 * property it took is refused, no property becomes required. A response schema may only promise
 * more: no type or property appears that it did not announce, none it did disappears or becomes
 * optional.
 */
function compareSchemas(
  context: Comparison,
  direction: Direction,
  where: string,
  before: unknown,
  after: unknown,
  depth = 0,
) {
  if (depth > 32) return;
  const was = flatten(context.baseline, before);
  const now = flatten(context.current, after);
  const fail = (message: string, path = where) => context.breaking.push({ path, message });
  const [from, to] = direction === 'request' ? [was, now] : [now, was];
  // `to` must accept everything `from` may hold.
  if (from.types && to.types && !within(from.types, to.types)) {
    fail(
      direction === 'request'
        ? `type narrowed from ${[...was.types!].join('|')} to ${[...now.types!].join('|')}`
        : `type changed from ${[...was.types!].join('|')} to ${[...now.types!].join('|')}`,
    );
    return;
  }
  const fromEnum = from.schema.enum as unknown[] | undefined;
  const toEnum = to.schema.enum as unknown[] | undefined;
  if (toEnum) {
    const outside = fromEnum ? fromEnum.filter((value) => !toEnum.includes(value)) : undefined;
    if (direction === 'request' && (!outside || outside.length)) {
      fail(outside ? `no longer accepts ${outside.map(String).join(', ')}` : 'accepts only an enum now');
    } else if (direction === 'response' && outside?.length) {
      context.dangerous.push({
        path: where,
        message: `may answer new values ${outside.map(String).join(', ')}`,
      });
    }
  }

  const wasProperties = (was.schema.properties ?? {}) as Json;
  const nowProperties = (now.schema.properties ?? {}) as Json;
  const wasRequired = new Set((was.schema.required ?? []) as string[]);
  const nowRequired = new Set((now.schema.required ?? []) as string[]);
  for (const [name, schema] of Object.entries(wasProperties)) {
    const at = `${where}.${name}`;
    if (!(name in nowProperties)) {
      // A client sending it is refused when the schema is closed; a client reading it gets nothing.
      if (direction === 'response' || now.schema.additionalProperties === false) {
        fail(`${direction} property removed`, at);
      }
      continue;
    }
    if (direction === 'response' && wasRequired.has(name) && !nowRequired.has(name)) {
      fail('response property no longer always present', at);
    }
    compareSchemas(context, direction, at, schema, nowProperties[name], depth + 1);
  }
  if (direction === 'request') {
    for (const name of nowRequired) {
      if (!wasRequired.has(name)) fail(`new required request property ${name}`);
    }
  }
  if (was.schema.items !== undefined && now.schema.items !== undefined) {
    compareSchemas(context, direction, `${where}[]`, was.schema.items, now.schema.items, depth + 1);
  }
}

const parameterKey = (parameter: Json) => `${parameter.in} ${parameter.name}`;

function compareOperations(context: Comparison, where: string, before: Json, after: Json) {
  const fail = (message: string) => context.breaking.push({ path: where, message });
  const parameters = (operation: Json, document: OpenApiDocument) =>
    new Map(
      ((operation.parameters ?? []) as unknown[])
        .map((parameter) => resolve(document, parameter))
        .map((parameter) => [parameterKey(parameter), parameter]),
    );
  const wasParameters = parameters(before, context.baseline);
  const nowParameters = parameters(after, context.current);
  for (const [key, parameter] of wasParameters) {
    const now = nowParameters.get(key);
    if (!now) fail(`parameter removed: ${key}`);
    else compareSchemas(context, 'request', `${where} ${key}`, parameter.schema, now.schema);
  }
  for (const [key, parameter] of nowParameters) {
    if (parameter.required && !wasParameters.get(key)?.required) fail(`new required parameter: ${key}`);
  }

  const body = (operation: Json, document: OpenApiDocument) => {
    const requestBody = resolve(document, operation.requestBody);
    return {
      required: requestBody.required === true,
      schema: ((requestBody.content as Json | undefined)?.['application/json'] as Json | undefined)?.schema,
    };
  };
  const wasBody = body(before, context.baseline);
  const nowBody = body(after, context.current);
  if (nowBody.required && !wasBody.required) fail('request body now required');
  if (wasBody.schema !== undefined) {
    if (nowBody.schema === undefined) fail('request body no longer accepted');
    else compareSchemas(context, 'request', `${where} request body`, wasBody.schema, nowBody.schema);
  }

  const wasResponses = (before.responses ?? {}) as Json;
  const nowResponses = (after.responses ?? {}) as Json;
  for (const [status, response] of Object.entries(wasResponses)) {
    if (!(status in nowResponses)) {
      fail(`response ${status} removed`);
      continue;
    }
    const wasContent = (resolve(context.baseline, response).content ?? {}) as Record<string, Json>;
    const nowContent = (resolve(context.current, nowResponses[status]).content ?? {}) as Record<string, Json>;
    for (const [mediaType, media] of Object.entries(wasContent)) {
      if (!nowContent[mediaType]) fail(`response ${status} no longer answers ${mediaType}`);
      else
        compareSchemas(
          context,
          'response',
          `${where} ${status} body`,
          media.schema,
          nowContent[mediaType].schema,
        );
    }
  }
}

/**
 * Compares two OpenAPI documents; `today` is a UTC date (YYYY-MM-DD). An operation the baseline
 * marks `deprecated` with an `x-sunset` date may change or go from that date on.
 */
export function checkOpenApiChanges(
  baseline: OpenApiDocument,
  current: OpenApiDocument,
  today = new Date().toISOString().slice(0, 10),
): OpenApiReport {
  const report: OpenApiReport = { breaking: [], expiredRemovals: [], dangerous: [], added: [] };
  for (const [path, methods] of Object.entries(baseline.paths)) {
    for (const method of METHODS) {
      const before = methods[method];
      if (!before) continue;
      const where = `${method.toUpperCase()} ${path}`;
      const after = current.paths[path]?.[method];
      const context: Comparison = { baseline, current, breaking: [], dangerous: [] };
      if (after) compareOperations(context, where, before, after);
      else context.breaking.push({ path: where, message: 'operation removed' });
      const sunset = before.deprecated === true ? (before['x-sunset'] as string | undefined) : undefined;
      const expired = sunset !== undefined && sunset <= today;
      report[expired ? 'expiredRemovals' : 'breaking'].push(...context.breaking);
      report.dangerous.push(...context.dangerous);
    }
  }
  for (const [path, methods] of Object.entries(current.paths)) {
    for (const method of METHODS) {
      if (methods[method] && !baseline.paths[path]?.[method])
        report.added.push(`${method.toUpperCase()} ${path}`);
    }
  }
  return report;
}

export function formatOpenApiReport(report: OpenApiReport): string[] {
  const describe = (change: OpenApiChange) => `${change.path}: ${change.message}`;
  return [
    ...report.breaking.map((change) => `BREAKING (REST): ${describe(change)}`),
    ...report.dangerous.map((change) => `warning (REST): ${describe(change)}`),
    ...report.expiredRemovals.map((change) => `changed after its sunset (REST): ${describe(change)}`),
    `REST: ${report.breaking.length} breaking, ${report.dangerous.length} dangerous, ` +
      `${report.expiredRemovals.length} after sunset, ${report.added.length} operations added`,
  ];
}
