import type { JsonSchema } from './openapi.ts';

/*
 * `object` on every resource and list of a REST answer (API version 2026-12-07): resources name
 * their GraphQL type in snake case, lists are `list`. Where they go is read off each route's
 * documented answer schema (openapi.ts), so the answers and the document cannot disagree.
 */

/** `TicketType` → `ticket_type`. */
export const objectName = (typeName: string) =>
  typeName.replace(/(?<=[a-z0-9])([A-Z])/g, '_$1').toLowerCase();

export const LIST_OBJECT: JsonSchema = { type: 'string', enum: ['list'] };

/** Where an answer holds named objects: this value's `object`, and its members' shapes. */
export interface ObjectShape {
  name?: string;
  members: Record<string, ObjectShape>;
}

/** The shape of the answers `schema` documents; undefined when nothing in them is named. */
export function objectShapeOf(schema: JsonSchema): ObjectShape | undefined {
  if (Array.isArray(schema.anyOf)) {
    for (const option of schema.anyOf as JsonSchema[]) {
      const shape = objectShapeOf(option);
      if (shape) return shape;
    }
    return undefined;
  }
  if (schema.items) return objectShapeOf(schema.items as JsonSchema);
  if (!schema.properties) return undefined;
  const { object, ...properties } = schema.properties as Record<string, JsonSchema>;
  const members: Record<string, ObjectShape> = {};
  for (const [key, property] of Object.entries(properties)) {
    const shape = objectShapeOf(property);
    if (shape) members[key] = shape;
  }
  const name = (object?.enum as string[] | undefined)?.[0];
  return name || Object.keys(members).length ? { name, members } : undefined;
}

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** `value` with `object` where `shape` puts it: right after `id`, first when there is none. */
export function withObjectNames(value: unknown, shape: ObjectShape | undefined): unknown {
  if (!shape) return value;
  if (Array.isArray(value)) return value.map((item) => withObjectNames(item, shape));
  if (!isPlainObject(value)) return value;
  const named: Record<string, unknown> = shape.name
    ? 'id' in value
      ? { id: value.id, object: shape.name, ...value }
      : { object: shape.name, ...value }
    : { ...value };
  for (const [key, member] of Object.entries(shape.members)) {
    if (key in named) named[key] = withObjectNames(named[key], member);
  }
  return named;
}
