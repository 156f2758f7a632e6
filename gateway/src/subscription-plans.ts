import { uuidInput } from '@bilten/platform';
import {
  type DocumentNode,
  GraphQLError,
  type GraphQLSchema,
  getOperationAST,
  Kind,
  type OperationDefinitionNode,
  parse,
  print,
  validate,
  visit,
} from 'graphql';
import { GUEST, KEY, LIVE_FIELDS, type LiveField } from './subscription-fields.ts';

export const refused = (
  code: 'FORBIDDEN' | 'UNAUTHENTICATED' | 'BAD_USER_INPUT' | 'RATE_LIMITED',
  message: string,
) => new GraphQLError(message, { extensions: { code } });

export interface SubscribePayload {
  query: string;
  variables?: Record<string, unknown> | null;
  operationName?: string | null;
}

/** A subscription turned into the lookup query the gateway runs for each message. */
export interface LivePlan {
  fieldName: string;
  field: LiveField;
  responseKey: string;
  /** The root field's key argument; for fields keyed by the subscriber themself, set at subscribe. */
  key?: string;
  query: DocumentNode;
  /** Only the variables the lookup uses. */
  variables: Record<string, unknown>;
  /** Equal for subscriptions whose reads are equal: the field, key, lookup text and variables. */
  shareKey: string;
}

/** The client's operation turned into its lookup query, or why it cannot be served. */
export function planSubscription(
  schema: GraphQLSchema,
  maxTokens: number,
  payload: SubscribePayload,
  signedIn: boolean,
): LivePlan | GraphQLError[] {
  let document: DocumentNode;
  try {
    document = parse(payload.query, { maxTokens });
  } catch (err) {
    return [err as GraphQLError];
  }
  const errors = validate(schema, document);
  if (errors.length) return [...errors];
  const operation = getOperationAST(document, payload.operationName ?? undefined);
  if (operation?.operation !== 'subscription')
    return [
      refused(
        'BAD_USER_INPUT',
        'only subscriptions are served over websocket; use HTTP for queries and mutations',
      ),
    ];
  const [root] = operation.selectionSet.selections;
  if (root?.kind !== Kind.FIELD)
    return [refused('BAD_USER_INPUT', 'name the subscription field itself, not through a fragment')];
  const fieldName = root.name.value;
  const field = LIVE_FIELDS[fieldName];
  if (!field) return [refused('BAD_USER_INPUT', `${fieldName} is not served yet`)];
  const variables = { ...(payload.variables ?? {}) };
  const argument = (name: string) => {
    const node = root.arguments?.find((arg) => arg.name.value === name)?.value;
    if (!node) return undefined;
    if (node.kind === Kind.VARIABLE) return variables[node.name.value];
    return node.kind === Kind.STRING ? node.value : undefined;
  };
  const given = field.keyArgument === undefined ? undefined : argument(field.keyArgument);
  if (field.keyArgument !== undefined && (typeof given !== 'string' || !given))
    return [refused('BAD_USER_INPUT', `${field.keyArgument} is required`)];
  // Every key is an entity's id: a malformed one is the client's mistake, not something to look up.
  if (typeof given === 'string' && !uuidInput.safeParse(given).success)
    return [refused('BAD_USER_INPUT', `${field.keyArgument} must be an ID (a UUID)`)];
  const key = given as string | undefined;
  const publicValue = field.publicArgument ? argument(field.publicArgument) : undefined;
  if (field.signedIn && !signedIn && !publicValue)
    return [refused('UNAUTHENTICATED', `${fieldName} needs connectionParams.authorization`)];
  const selectionSet = (
    parse(`{ ${field.lookup(root.selectionSet)} }`).definitions[0] as OperationDefinitionNode
  ).selectionSet;
  const fragments = document.definitions.filter((definition) => definition.kind === Kind.FRAGMENT_DEFINITION);
  // Only the variables the lookup still uses: the root field's own arguments are gone.
  const used = new Set<string>();
  for (const node of [selectionSet, ...fragments])
    visit(node, { Variable: (variable) => void used.add(variable.name.value) });
  const ours = (
    parse(`query($${KEY}: ID!, $${GUEST}: String) { x }`).definitions[0] as OperationDefinitionNode
  ).variableDefinitions!;
  const definitions = [...(operation.variableDefinitions ?? []), ...ours].filter((definition) =>
    used.has(definition.variable.name.value),
  );
  const lookup: OperationDefinitionNode = {
    ...operation,
    operation: 'query' as OperationDefinitionNode['operation'],
    name: undefined,
    variableDefinitions: definitions,
    selectionSet,
  };
  const query: DocumentNode = { kind: Kind.DOCUMENT, definitions: [lookup, ...fragments] };
  const all: Record<string, unknown> = { ...variables, [KEY]: key, [GUEST]: publicValue ?? null };
  const lookupVariables = Object.fromEntries(
    definitions.map(({ variable }) => [variable.name.value, all[variable.name.value]]),
  );
  return {
    fieldName,
    field,
    responseKey: root.alias?.value ?? fieldName,
    key,
    query,
    variables: lookupVariables,
    shareKey: JSON.stringify([fieldName, key, print(query), lookupVariables]),
  };
}
