import { readFileSync, writeFileSync } from 'node:fs';
import { type Change, ChangeType, CriticalityLevel, diff } from '@graphql-inspector/core';
import {
  buildSchema,
  type GraphQLSchema,
  isEnumType,
  isInputObjectType,
  isInterfaceType,
  isObjectType,
  lexicographicSortSchema,
  printSchema,
} from 'graphql';
// The gateway's own modules, not its server: the check needs the document, not the gateway.
import { REMOVAL_DATE_PATTERN } from '../gateway/src/deprecations.ts';
import { restOpenApiDocument } from '../gateway/src/rest.ts';
import { composeSupergraph } from './compose.ts';
import { checkOpenApiChanges, formatOpenApiReport, type OpenApiDocument } from './openapi-breaking.ts';

export const BASELINE_PATH = new URL('./api-baseline.graphql', import.meta.url);
/** The REST facade's OpenAPI document as clients rely on it, beside the GraphQL baseline. */
export const OPENAPI_BASELINE_PATH = new URL('./openapi-baseline.json', import.meta.url);

const BASELINE_HEADER =
  '# The public GraphQL API as clients rely on it. Rewritten only by `npm run api:baseline`, after review.\n';

// The breaking changes a passed deprecation period allows: the element itself disappears.
const REMOVALS: ReadonlySet<string> = new Set([
  ChangeType.FieldRemoved,
  ChangeType.InputFieldRemoved,
  ChangeType.FieldArgumentRemoved,
  ChangeType.EnumValueRemoved,
]);

/** Sorted so that the baseline's diff in review shows only real changes, not composition order. */
export function printApiSchema(sdl: string): string {
  return BASELINE_HEADER + printSchema(lexicographicSortSchema(buildSchema(sdl)));
}

/** The API schema clients see through the gateway, composed from the subgraphs as they are now. */
export function currentApiSchema(): string {
  return printApiSchema(composeSupergraph().apiSdl);
}

/** What /api/v1/openapi.json serves over `apiSdl` (default: composed now), as the baseline file holds it. */
export function printOpenApiDocument(apiSdl = composeSupergraph().apiSdl): string {
  return `${JSON.stringify(restOpenApiDocument(buildSchema(apiSdl)), null, 2)}\n`;
}

export const currentOpenApiDocument = (apiSdl?: string): OpenApiDocument =>
  JSON.parse(printOpenApiDocument(apiSdl));

/** The deprecation reason of the element a change path (`Type.field[.argument]`, `Enum.VALUE`) names. */
function deprecationReason(schema: GraphQLSchema, path: string): string | null | undefined {
  const [typeName = '', memberName = '', argumentName] = path.split('.');
  const type = schema.getType(typeName);
  if (isEnumType(type)) return type.getValue(memberName)?.deprecationReason;
  if (isInputObjectType(type)) return type.getFields()[memberName]?.deprecationReason;
  if (isObjectType(type) || isInterfaceType(type)) {
    const field = type.getFields()[memberName];
    if (argumentName === undefined) return field?.deprecationReason;
    return field?.args.find((argument) => argument.name === argumentName)?.deprecationReason;
  }
  return undefined;
}

/** The removal date the baseline announced for the element this change removes, if any. */
function announcedRemovalDate(baseline: GraphQLSchema, change: Change): string | undefined {
  if (!REMOVALS.has(change.type) || change.path === undefined) return undefined;
  return deprecationReason(baseline, change.path)?.match(REMOVAL_DATE_PATTERN)?.[1];
}

export interface BreakingChangeReport {
  /** Breaking changes no deprecation period covers: the check fails on any. */
  breaking: Change[];
  /** Removals of elements whose announced removal date has passed. */
  expiredRemovals: Change[];
  dangerous: Change[];
  safe: Change[];
}

/** Compares two API schemas; `today` is a UTC date (YYYY-MM-DD), removal is allowed strictly after. */
export async function checkBreakingChanges(
  baselineSdl: string,
  currentSdl: string,
  today = new Date().toISOString().slice(0, 10),
): Promise<BreakingChangeReport> {
  const baseline = buildSchema(baselineSdl);
  const report: BreakingChangeReport = { breaking: [], expiredRemovals: [], dangerous: [], safe: [] };
  for (const change of await diff(baseline, buildSchema(currentSdl))) {
    const level = change.criticality.level;
    if (level === CriticalityLevel.Dangerous) report.dangerous.push(change);
    else if (level === CriticalityLevel.NonBreaking) report.safe.push(change);
    else {
      const removalDate = announcedRemovalDate(baseline, change);
      if (removalDate !== undefined && removalDate < today) report.expiredRemovals.push(change);
      else report.breaking.push(change);
    }
  }
  return report;
}

export function formatReport(report: BreakingChangeReport): string[] {
  const describe = (change: Change) => `${change.message}${change.path ? ` (${change.path})` : ''}`;
  return [
    ...report.breaking.map((change) => `BREAKING: ${describe(change)}`),
    ...report.dangerous.map((change) => `warning: ${describe(change)}`),
    ...report.expiredRemovals.map((change) => `removed after its deprecation period: ${describe(change)}`),
    `${report.breaking.length} breaking, ${report.dangerous.length} dangerous, ` +
      `${report.expiredRemovals.length} expired removals, ${report.safe.length} safe changes`,
  ];
}

/** `--baseline <file>` and `--openapi-baseline <file>`, or undefined when the arguments are not those. */
function baselineOptions(args: string[]): { graphql?: string; openapi?: string } | undefined {
  const options: { graphql?: string; openapi?: string } = {};
  for (let index = 0; index < args.length; index += 2) {
    const [flag, value] = [args[index], args[index + 1]];
    if (!value) return undefined;
    if (flag === '--baseline') options.graphql = value;
    else if (flag === '--openapi-baseline') options.openapi = value;
    else return undefined;
  }
  return options;
}

// `check [--baseline <file>] [--openapi-baseline <file>]` exits 1 on a breaking change of either
// API; `baseline` rewrites both committed baselines.
async function main(args: string[]): Promise<number> {
  const [command, ...flags] = args;
  const { apiSdl } = composeSupergraph();
  if (command === 'baseline' && flags.length === 0) {
    writeFileSync(BASELINE_PATH, printApiSchema(apiSdl));
    writeFileSync(OPENAPI_BASELINE_PATH, printOpenApiDocument(apiSdl));
    console.log(`wrote ${BASELINE_PATH.pathname} and ${OPENAPI_BASELINE_PATH.pathname}`);
    return 0;
  }
  const options = baselineOptions(flags);
  if (command === 'check' && options) {
    const report = await checkBreakingChanges(
      readFileSync(options.graphql ?? BASELINE_PATH, 'utf8'),
      printApiSchema(apiSdl),
    );
    for (const line of formatReport(report)) console.log(line);
    const restReport = checkOpenApiChanges(
      JSON.parse(readFileSync(options.openapi ?? OPENAPI_BASELINE_PATH, 'utf8')),
      currentOpenApiDocument(apiSdl),
    );
    for (const line of formatOpenApiReport(restReport)) console.log(line);
    return report.breaking.length + restReport.breaking.length > 0 ? 1 : 0;
  }
  console.error(
    'usage: check-breaking.ts check [--baseline <file>] [--openapi-baseline <file>] | check-breaking.ts baseline',
  );
  return 2;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  process.exitCode = await main(process.argv.slice(2));
}
