import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ChangeType } from '@graphql-inspector/core';
import {
  buildSchema,
  type ConstDirectiveNode,
  type FieldDefinitionNode,
  type InputValueDefinitionNode,
  isEnumType,
  isInputObjectType,
  isNonNullType,
  Kind,
  parse,
  print,
  visit,
} from 'graphql';
import { describe, expect, it } from 'vitest';
import {
  BASELINE_PATH,
  checkBreakingChanges,
  currentApiSchema,
  currentOpenApiDocument,
  OPENAPI_BASELINE_PATH,
  printApiSchema,
} from '../../schema/check-breaking.ts';
import { checkOpenApiChanges, type OpenApiDocument } from '../../schema/openapi-breaking.ts';

const baselineSdl = readFileSync(BASELINE_PATH, 'utf8');
const baselineSchema = buildSchema(baselineSdl);

// Targets picked from the real baseline, so the variants stay valid as the API grows.
const queryFieldName = Object.keys(baselineSchema.getQueryType()?.getFields() ?? {})[0] ?? '';
const inputWithOptionalField = Object.values(baselineSchema.getTypeMap())
  .filter(isInputObjectType)
  .map((type) => ({
    type,
    field: Object.values(type.getFields()).find((field) => !isNonNullType(field.type)),
  }))
  .find(({ field }) => field !== undefined);
const enumType = Object.values(baselineSchema.getTypeMap()).find(
  (type) => isEnumType(type) && !type.name.startsWith('__') && type.getValues().length > 1,
);

type FieldEdit = (field: FieldDefinitionNode | InputValueDefinitionNode) => typeof field | null;

/** The SDL with one field of an object or input type replaced (or removed, when `edit` gives null). */
function editField(sdl: string, typeName: string, fieldName: string, edit: FieldEdit): string {
  const editFields = <T extends FieldDefinitionNode | InputValueDefinitionNode>(fields: readonly T[] = []) =>
    fields.flatMap((field) => (field.name.value === fieldName ? ((edit(field) as T | null) ?? []) : field));
  return print(
    visit(parse(sdl), {
      ObjectTypeDefinition: (node) =>
        node.name.value === typeName ? { ...node, fields: editFields(node.fields) } : undefined,
      InputObjectTypeDefinition: (node) =>
        node.name.value === typeName ? { ...node, fields: editFields(node.fields) } : undefined,
    }),
  );
}

function editEnumValue(
  sdl: string,
  enumName: string,
  valueName: string,
  deprecation?: ConstDirectiveNode,
): string {
  return print(
    visit(parse(sdl), {
      EnumTypeDefinition: (node) =>
        node.name.value === enumName
          ? {
              ...node,
              values: (node.values ?? []).flatMap((value) =>
                value.name.value !== valueName
                  ? value
                  : deprecation
                    ? { ...value, directives: [deprecation] }
                    : [],
              ),
            }
          : undefined,
    }),
  );
}

const deprecated = (reason: string): ConstDirectiveNode => ({
  kind: Kind.DIRECTIVE,
  name: { kind: Kind.NAME, value: 'deprecated' },
  arguments: [
    {
      kind: Kind.ARGUMENT,
      name: { kind: Kind.NAME, value: 'reason' },
      value: { kind: Kind.STRING, value: reason },
    },
  ],
});

const removeField = (sdl: string, typeName: string, fieldName: string) =>
  editField(sdl, typeName, fieldName, () => null);
const deprecateField = (sdl: string, typeName: string, fieldName: string, reason: string) =>
  editField(sdl, typeName, fieldName, (field) => ({ ...field, directives: [deprecated(reason)] }));

/** The breaking changes left after a deprecated Query field is removed, as judged on `today`. */
async function breakingAfterRemovingDeprecatedField(reason: string, today?: string) {
  const report = await checkBreakingChanges(
    deprecateField(baselineSdl, 'Query', queryFieldName, reason),
    removeField(baselineSdl, 'Query', queryFieldName),
    today,
  );
  return report.breaking.map((change) => change.path);
}

describe('API baseline (schema/api-baseline.graphql)', () => {
  it('is printed in the stable, sorted form `npm run api:baseline` writes', () => {
    expect(printApiSchema(baselineSdl)).toBe(baselineSdl);
  });

  it('has no breaking change against the schema composed today (run `npm run api:check`)', async () => {
    const report = await checkBreakingChanges(baselineSdl, currentApiSchema());
    expect(report.breaking.map((change) => change.message)).toEqual([]);
  });
});

describe('breaking-change check', () => {
  it('finds the targets it edits in the real baseline', () => {
    expect(queryFieldName).not.toBe('');
    expect(inputWithOptionalField).toBeDefined();
    expect(enumType).toBeDefined();
  });

  it('fails on a removed field', async () => {
    const report = await checkBreakingChanges(baselineSdl, removeField(baselineSdl, 'Query', queryFieldName));
    expect(report.breaking.map(({ type, path }) => ({ type, path }))).toEqual([
      { type: ChangeType.FieldRemoved, path: `Query.${queryFieldName}` },
    ]);
  });

  it('fails on an input field made non-null', async () => {
    const { type, field } = inputWithOptionalField ?? {};
    const current = editField(baselineSdl, type?.name ?? '', field?.name ?? '', (node) => ({
      ...node,
      type: {
        kind: Kind.NON_NULL_TYPE,
        type: node.type as Exclude<typeof node.type, { kind: Kind.NON_NULL_TYPE }>,
      },
    }));
    const report = await checkBreakingChanges(baselineSdl, current);
    expect(report.breaking.map(({ type, path }) => ({ type, path }))).toEqual([
      { type: ChangeType.InputFieldTypeChanged, path: `${type?.name}.${field?.name}` },
    ]);
  });

  it('passes on an added optional field and an added type', async () => {
    const current = `${baselineSdl}\nextend type Query { apiCheckProbe: ApiCheckProbe }\ntype ApiCheckProbe { id: ID! }\n`;
    const report = await checkBreakingChanges(baselineSdl, current);
    expect([...report.breaking, ...report.dangerous]).toEqual([]);
    expect(report.safe.map(({ type, path }) => `${type} ${path}`).sort()).toEqual([
      `${ChangeType.FieldAdded} ApiCheckProbe.id`,
      `${ChangeType.FieldAdded} Query.apiCheckProbe`,
      `${ChangeType.TypeAdded} ApiCheckProbe`,
    ]);
  });

  it('passes on removing a field whose announced removal date has passed', async () => {
    expect(
      await breakingAfterRemovingDeprecatedField('Use another field. Removal after 2000-01-31.'),
    ).toEqual([]);
  });

  it('fails on removing a deprecated field before its removal date, or with none announced', async () => {
    const path = `Query.${queryFieldName}`;
    expect(await breakingAfterRemovingDeprecatedField('Removal after 2999-01-31.')).toEqual([path]);
    expect(await breakingAfterRemovingDeprecatedField('No longer supported.')).toEqual([path]);
  });

  it('allows the removal only strictly after the announced date (UTC)', async () => {
    const reason = 'Removal after 2027-01-15.';
    expect(await breakingAfterRemovingDeprecatedField(reason, '2027-01-15')).toEqual([
      `Query.${queryFieldName}`,
    ]);
    expect(await breakingAfterRemovingDeprecatedField(reason, '2027-01-16')).toEqual([]);
  });

  it('applies the same period to enum values', async () => {
    const enumName = enumType?.name ?? '';
    const valueName = (isEnumType(enumType) && enumType.getValues()[0]?.name) || '';
    const removed = editEnumValue(baselineSdl, enumName, valueName);
    const expired = await checkBreakingChanges(
      editEnumValue(baselineSdl, enumName, valueName, deprecated('removal after 2000-01-31')),
      removed,
    );
    expect(expired.breaking).toEqual([]);
    expect(expired.expiredRemovals.map((change) => change.path)).toEqual([`${enumName}.${valueName}`]);
    const undated = await checkBreakingChanges(baselineSdl, removed);
    expect(undated.breaking.map((change) => change.path)).toEqual([`${enumName}.${valueName}`]);
  });

  it('`npm run api:check` exits 1 naming each breaking change, and prints dangerous ones as warnings', async () => {
    const enumName = enumType?.name ?? '';
    const valueName = (isEnumType(enumType) && enumType.getValues()[0]?.name) || '';
    // Against this baseline, today's schema removes Query.retiredProbe and adds an enum value.
    const baseline = `${editEnumValue(baselineSdl, enumName, valueName)}\nextend type Query { retiredProbe: Int }\n`;
    const folder = mkdtempSync(join(tmpdir(), 'api-baseline-'));
    try {
      writeFileSync(join(folder, 'baseline.graphql'), baseline);
      const script = new URL('../../schema/check-breaking.ts', import.meta.url).pathname;
      const args = ['--import', 'tsx', script, 'check', '--baseline', join(folder, 'baseline.graphql')];
      const failure = await promisify(execFile)(process.execPath, args).then(
        () => ({ code: 0, stdout: '' }),
        (error: { code: number; stdout: string }) => error,
      );
      expect(failure.code).toBe(1);
      expect(failure.stdout).toContain(
        "BREAKING: Field 'retiredProbe' was removed from object type 'Query' (Query.retiredProbe)",
      );
      expect(failure.stdout).toMatch(new RegExp(`^warning: .*\\(${enumName}\\.${valueName}\\)$`, 'm'));
    } finally {
      rmSync(folder, { recursive: true });
    }
    // Composes the supergraph and builds the OpenAPI document in a process of its own.
  }, 120_000);
});

const openApiBaselineText = readFileSync(OPENAPI_BASELINE_PATH, 'utf8');
const openApiBaseline = JSON.parse(openApiBaselineText) as OpenApiDocument;
type Operation = Record<string, unknown> & {
  parameters?: Array<Record<string, unknown>>;
  requestBody?: { content: Record<string, { schema: Record<string, unknown> }> };
  responses: Record<string, { content?: Record<string, { schema: Record<string, unknown> }> }>;
};
const operationsOf = (document: OpenApiDocument) =>
  Object.entries(document.paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, operation]) => ({
      path,
      method,
      operation: operation as Operation,
    })),
  );
// Targets picked from the real baseline: a GET answering an object with properties, a POST with a closed body.
const read = operationsOf(openApiBaseline).find(
  ({ method, operation }) =>
    method === 'get' && operation.responses['200']?.content?.['application/json']?.schema.properties,
)!;
const write = operationsOf(openApiBaseline).find(
  ({ method, operation }) =>
    method === 'post' && operation.requestBody?.content['application/json']?.schema.properties,
)!;

/** A copy of the baseline with `edit` applied to the operation at `path` and `method`. */
function editOperation(path: string, method: string, edit: (operation: Operation) => void): OpenApiDocument {
  const copy = structuredClone(openApiBaseline);
  edit(copy.paths[path]![method] as Operation);
  return copy;
}
const describeChanges = (changes: Array<{ path: string; message: string }>) =>
  changes.map((change) => `${change.path}: ${change.message}`);

describe('OpenAPI baseline (schema/openapi-baseline.json)', () => {
  it('is in the form `npm run api:baseline` writes', () => {
    expect(`${JSON.stringify(openApiBaseline, null, 2)}\n`).toBe(openApiBaselineText);
  });

  it('has no breaking change against the document generated today (run `npm run api:check`)', () => {
    const report = checkOpenApiChanges(openApiBaseline, currentOpenApiDocument());
    expect(describeChanges(report.breaking)).toEqual([]);
  });
});

describe('OpenAPI breaking-change check', () => {
  const readWhere = `${read?.method.toUpperCase()} ${read?.path}`;
  const writeWhere = `${write?.method.toUpperCase()} ${write?.path}`;

  it('finds the operations it edits in the real baseline', () => {
    expect(read).toBeDefined();
    expect(write).toBeDefined();
  });

  it('passes on the same document', () => {
    expect(checkOpenApiChanges(openApiBaseline, structuredClone(openApiBaseline))).toEqual({
      breaking: [],
      expiredRemovals: [],
      dangerous: [],
      added: [],
    });
  });

  it('fails on a removed route', () => {
    const current = structuredClone(openApiBaseline);
    delete current.paths[read.path]![read.method];
    expect(describeChanges(checkOpenApiChanges(openApiBaseline, current).breaking)).toEqual([
      `${readWhere}: operation removed`,
    ]);
  });

  it('passes on an added optional request property, an added optional parameter, an added answer property and a new route', () => {
    const current = editOperation(write.path, write.method, (operation) => {
      const body = operation.requestBody!.content['application/json']!.schema;
      body.properties = { ...(body.properties as object), probeNote: { type: ['string', 'null'] } };
      operation.parameters = [
        ...(operation.parameters ?? []),
        { name: 'probe', in: 'query', required: false, schema: { type: 'string' } },
      ];
    });
    const answer = (current.paths[read.path]![read.method] as Operation).responses['200']!.content![
      'application/json'
    ]!.schema;
    answer.properties = { ...(answer.properties as object), probeExtra: { type: 'string' } };
    current.paths['/api/v1/probes'] = { get: { responses: { 200: { description: 'OK.' } } } };
    const report = checkOpenApiChanges(openApiBaseline, current);
    expect([...report.breaking, ...report.dangerous]).toEqual([]);
    expect(report.added).toEqual(['GET /api/v1/probes']);
  });

  it('fails on a new required parameter and a new required body property', () => {
    const current = editOperation(write.path, write.method, (operation) => {
      const body = operation.requestBody!.content['application/json']!.schema;
      body.properties = { ...(body.properties as object), probeNote: { type: 'string' } };
      body.required = [...((body.required as string[] | undefined) ?? []), 'probeNote'];
      operation.parameters = [
        ...(operation.parameters ?? []),
        { name: 'probe', in: 'query', required: true, schema: { type: 'string' } },
      ];
    });
    expect(describeChanges(checkOpenApiChanges(openApiBaseline, current).breaking)).toEqual([
      `${writeWhere}: new required parameter: query probe`,
      `${writeWhere} request body: new required request property probeNote`,
    ]);
  });

  it('fails on a removed answer property or status, and on a narrowed request type', () => {
    const [property] = Object.keys(
      read.operation.responses['200']!.content!['application/json']!.schema.properties as object,
    );
    const [field, fieldSchema] = Object.entries(
      write.operation.requestBody!.content['application/json']!.schema.properties as Record<
        string,
        Record<string, unknown>
      >,
    ).find(([, schema]) => Array.isArray(schema.type) || typeof schema.type === 'string')!;
    const current = editOperation(read.path, read.method, (operation) => {
      const answer = operation.responses['200']!.content!['application/json']!.schema;
      delete (answer.properties as Record<string, unknown>)[property!];
      delete operation.responses['500'];
    });
    const body = (current.paths[write.path]![write.method] as Operation).requestBody!.content[
      'application/json'
    ]!.schema.properties as Record<string, Record<string, unknown>>;
    body[field] = { ...fieldSchema, type: 'boolean' };
    expect(describeChanges(checkOpenApiChanges(openApiBaseline, current).breaking)).toEqual([
      `${readWhere} 200 body.${property}: response property removed`,
      `${readWhere}: response 500 removed`,
      `${writeWhere} request body.${field}: type narrowed from ${[fieldSchema.type].flat().join('|')} to boolean`,
    ]);
  });

  it('warns when an answer may hold an enum value clients do not know', () => {
    const baseline = editOperation(read.path, read.method, (operation) => {
      operation.responses['200']!.content!['application/json']!.schema.properties = {
        probeState: { type: 'string', enum: ['A'] },
      };
    });
    const current = structuredClone(baseline);
    const answer = (current.paths[read.path]![read.method] as Operation).responses['200']!.content![
      'application/json'
    ]!.schema;
    answer.properties = { probeState: { type: 'string', enum: ['A', 'B'] } };
    const report = checkOpenApiChanges(baseline, current);
    expect(report.breaking).toEqual([]);
    expect(describeChanges(report.dangerous)).toEqual([
      `${readWhere} 200 body.probeState: may answer new values B`,
    ]);
  });

  it('lets a route deprecated with a sunset go from that date on (UTC), not before', () => {
    const baseline = editOperation(read.path, read.method, (operation) => {
      operation.deprecated = true;
      operation['x-sunset'] = '2027-06-30';
    });
    const current = structuredClone(baseline);
    delete current.paths[read.path]![read.method];
    expect(describeChanges(checkOpenApiChanges(baseline, current, '2027-06-29').breaking)).toEqual([
      `${readWhere}: operation removed`,
    ]);
    const onSunset = checkOpenApiChanges(baseline, current, '2027-06-30');
    expect(onSunset.breaking).toEqual([]);
    expect(describeChanges(onSunset.expiredRemovals)).toEqual([`${readWhere}: operation removed`]);
    // Without a sunset, deprecation alone never allows it.
    delete (baseline.paths[read.path]![read.method] as Operation)['x-sunset'];
    expect(checkOpenApiChanges(baseline, current, '2999-01-01').breaking).toHaveLength(1);
  });

  it('`npm run api:check` exits 1 naming a breaking change of the REST API', async () => {
    const baseline = structuredClone(openApiBaseline);
    baseline.paths['/api/v1/retired-probes'] = { get: { responses: { 200: { description: 'OK.' } } } };
    const folder = mkdtempSync(join(tmpdir(), 'openapi-baseline-'));
    try {
      writeFileSync(join(folder, 'openapi.json'), JSON.stringify(baseline));
      const script = new URL('../../schema/check-breaking.ts', import.meta.url).pathname;
      const args = ['--import', 'tsx', script, 'check', '--openapi-baseline', join(folder, 'openapi.json')];
      const failure = await promisify(execFile)(process.execPath, args).then(
        () => ({ code: 0, stdout: '' }),
        (error: { code: number; stdout: string }) => error,
      );
      expect(failure.code).toBe(1);
      expect(failure.stdout).toContain('BREAKING (REST): GET /api/v1/retired-probes: operation removed');
    } finally {
      rmSync(folder, { recursive: true });
    }
    // Composes the supergraph and builds the OpenAPI document in a process of its own.
  }, 120_000);
});
