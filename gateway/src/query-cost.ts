import type { ApolloServerPlugin, BaseContext } from '@apollo/server';
import { ApolloServerErrorCode } from '@apollo/server/errors';
import {
  type DocumentNode,
  type FragmentDefinitionNode,
  type GraphQLCompositeType,
  GraphQLError,
  type GraphQLSchema,
  getNamedType,
  getNullableType,
  getVariableValues,
  isCompositeType,
  isInterfaceType,
  isListType,
  isObjectType,
  Kind,
  type OperationDefinitionNode,
  parse,
  type SelectionSetNode,
  valueFromAST,
} from 'graphql';

/*
 * Our own cost rule, in place of graphql-armor's: armor's counts each field once whatever the size
 * of the lists around it, and cannot see variables (it is a validation rule), so a nested list of
 * a 52-date series counted 34 and built 7.3 M values, and `first: $n` was never counted at all.
 *
 * The cost of an operation is how many values its answer can hold: every field counts its weight
 * (1, or its `@cost(weight:)`) plus what it selects, once per item for a list. A connection (a
 * field with a `first` argument) has at most `first` edges, with the request's variables and the
 * argument's default applied; a capped list at most its `@listSize(assumedSize:)`, which the
 * subgraph that owns it declares (cost spec, composed into the supergraph); any other list is
 * assumed to hold DEFAULT_LIST_SIZE items. Introspection is answered by the gateway from the schema
 * and not counted, as armor did not.
 */

/** Items assumed in a list that declares neither a size argument nor a cap: a default page. */
const DEFAULT_LIST_SIZE = 20;

/** What a field of the supergraph declares about its cost. */
interface FieldCost {
  weight?: number;
  listSize?: number;
}

/** `@cost(weight:)` and `@listSize(assumedSize:)` of every field of the supergraph, by `Type.field`. */
export function fieldCostsOf(supergraphSdl: string): Map<string, FieldCost> {
  const costs = new Map<string, FieldCost>();
  for (const definition of parse(supergraphSdl).definitions) {
    if (definition.kind !== Kind.OBJECT_TYPE_DEFINITION && definition.kind !== Kind.INTERFACE_TYPE_DEFINITION)
      continue;
    for (const field of definition.fields ?? []) {
      const cost: FieldCost = {};
      for (const directive of field.directives ?? []) {
        const argument = directive.arguments?.find(
          (arg) => arg.name.value === (directive.name.value === 'cost' ? 'weight' : 'assumedSize'),
        );
        if (argument?.value.kind !== Kind.INT) continue;
        if (directive.name.value === 'cost') cost.weight = Number(argument.value.value);
        if (directive.name.value === 'listSize') cost.listSize = Number(argument.value.value);
      }
      if (cost.weight !== undefined || cost.listSize !== undefined)
        costs.set(`${definition.name.value}.${field.name.value}`, cost);
    }
  }
  return costs;
}

/** The cost of one operation of a valid document, with its variables coerced. */
export function operationCost(
  schema: GraphQLSchema,
  document: DocumentNode,
  operation: OperationDefinitionNode,
  variables: Record<string, unknown>,
  fieldCosts: Map<string, FieldCost>,
): number {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions)
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
  // A fragment costs the same wherever it is spread (variables are the operation's): counted once,
  // so fragments spreading fragments cannot make the counting itself exponential.
  const fragmentCosts = new Map<string, number>();

  function selectionCost(selectionSet: SelectionSetNode, type: GraphQLCompositeType, edges?: number): number {
    let cost = 0;
    for (const selection of selectionSet.selections) {
      if (selection.kind === Kind.INLINE_FRAGMENT) {
        const condition = selection.typeCondition && schema.getType(selection.typeCondition.name.value);
        cost += selectionCost(selection.selectionSet, isCompositeType(condition) ? condition : type, edges);
      } else if (selection.kind === Kind.FRAGMENT_SPREAD) {
        const key = `${selection.name.value}:${edges}`;
        let spread = fragmentCosts.get(key);
        if (spread === undefined) {
          const fragment = fragments.get(selection.name.value)!;
          const condition = schema.getType(fragment.typeCondition.name.value);
          spread = isCompositeType(condition) ? selectionCost(fragment.selectionSet, condition, edges) : 0;
          fragmentCosts.set(key, spread);
        }
        cost += spread;
      } else {
        const name = selection.name.value;
        if (name === '__schema' || name === '__type') continue;
        const field = isObjectType(type) || isInterfaceType(type) ? type.getFields()[name] : undefined;
        if (!field) {
          cost += 1; // __typename
          continue;
        }
        const declared = fieldCosts.get(`${type.name}.${name}`);
        const first = field.args.find((arg) => arg.name === 'first');
        let pageSize: number | undefined;
        if (first) {
          const node = selection.arguments?.find((arg) => arg.name.value === 'first');
          const given = node ? valueFromAST(node.value, first.type, variables) : undefined;
          pageSize = Math.max(
            0,
            typeof given === 'number' ? given : Number(first.defaultValue ?? DEFAULT_LIST_SIZE),
          );
        }
        const items =
          name === 'edges' && edges !== undefined
            ? edges
            : isListType(getNullableType(field.type))
              ? (declared?.listSize ?? DEFAULT_LIST_SIZE)
              : 1;
        const fieldType = getNamedType(field.type);
        const below =
          selection.selectionSet && isCompositeType(fieldType)
            ? selectionCost(selection.selectionSet, fieldType, pageSize)
            : 0;
        cost += items * ((declared?.weight ?? 1) + below);
      }
    }
    return cost;
  }

  const root = schema.getRootType(operation.operation);
  return root ? selectionCost(operation.selectionSet, root) : 0;
}

/**
 * Refuses an operation whose cost is over `maxCost` with 400 GRAPHQL_VALIDATION_FAILED, before it
 * is planned: a plugin, since only here (not in validation) are the request's variables known.
 * Variables that do not fit their types are left to the gateway, which refuses them next.
 */
export function queryCostLimit<Context extends BaseContext>(
  supergraphSdl: string,
  maxCost: number,
): ApolloServerPlugin<Context> {
  const fieldCosts = fieldCostsOf(supergraphSdl);
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ schema, document, operation, request }) {
          if (!operation) return;
          const { coerced } = getVariableValues(
            schema,
            operation.variableDefinitions ?? [],
            request.variables ?? {},
          );
          if (!coerced) return;
          const cost = operationCost(schema, document, operation, coerced, fieldCosts);
          if (cost <= maxCost) return;
          throw new GraphQLError(
            `Query Cost limit of ${maxCost} exceeded, found ${cost}. Every list counts once per item it may ` +
              'hold (a connection its `first`, another list its maximum): ask for fewer items or nest fewer lists.',
            { extensions: { code: ApolloServerErrorCode.GRAPHQL_VALIDATION_FAILED, http: { status: 400 } } },
          );
        },
      };
    },
  };
}

/** Characters of a string that count as one value: about 4 per KB, as `@cost(weight:)` prices large values. */
const CHARACTERS_PER_UNIT = 256;

/** What one value of an answer costs: 1, a long string by its size, an object 1 plus its fields, a list its items. */
function valueCost(value: unknown): number {
  if (Array.isArray(value)) return value.reduce((sum: number, item) => sum + valueCost(item), 0);
  if (typeof value === 'string') return Math.max(1, Math.ceil(value.length / CHARACTERS_PER_UNIT));
  if (value === null || typeof value !== 'object') return 1;
  return 1 + answerCost(value as Record<string, unknown>);
}

/**
 * The cost of what an answer really holds (its `data`), counted as operationCost counts what it
 * may hold: every value once, each item of a list, 1,000 aliases 1,000. An operation is priced by
 * operationCost before it runs, and charged this once it has (rate-limits.ts): a mutation's payload
 * by the object and errors it returned, a list by its items, not by the sizes they may reach.
 */
export function answerCost(data: Record<string, unknown> | null | undefined): number {
  let cost = 0;
  for (const value of Object.values(data ?? {})) cost += valueCost(value);
  return cost;
}
