import { readdirSync, readFileSync } from 'node:fs';
import {
  type DefinitionNode,
  type DocumentNode,
  type FragmentDefinitionNode,
  type GraphQLInputType,
  type GraphQLSchema,
  getNamedType,
  isInputObjectType,
  Kind,
  type OperationDefinitionNode,
  parse,
  print,
  typeFromAST,
  visit,
} from 'graphql';

/*
 * The REST facade's routes (/api/v1): each is one named GraphQL operation (gateway/rest/v1/*.graphql)
 * and one line of the table below, which says how its path, query and body become the operation's
 * variables and which field of the answer it returns. rest.ts serves them; openapi.ts documents
 * them from the same table.
 */

export const REST_PREFIX = '/api/v1';

export interface RestRoute {
  method: 'GET' | 'POST';
  /** Under REST_PREFIX, OpenAPI style: `/events/{id}`. */
  path: string;
  /** The operation's name in gateway/rest/v1/*.graphql. */
  operation: string;
  /** The OpenAPI tag (the resource). */
  tag: string;
  /** Each path parameter's variable; `input.eventId` puts it into the body's variable `input`. */
  pathParams?: Record<string, string>;
  /** The variable the JSON body becomes. */
  body?: string;
  /** The field path in `data` of what the route answers; null there is a 404. */
  resource: string[];
  /** A mutation's payload, whose `errors: [UserError]` are the route's 422/404/409. */
  payload?: string[];
  status: 200 | 201;
  /** Where a created resource is read, `{id}` its id: the 201's `Location`. */
  location?: string;
  /** The resource is a connection (edges, pageInfo): `limit`, `starting_after` and `Link`. */
  paginated?: boolean;
}

/** Every route of v1. Query parameters are the operation's other variables (`first` is `limit`, `after` is `starting_after`). */
export const REST_ROUTES: readonly RestRoute[] = [
  {
    method: 'GET',
    path: '/events',
    operation: 'ListEvents',
    tag: 'Events',
    resource: ['events'],
    status: 200,
    paginated: true,
  },
  {
    method: 'POST',
    path: '/events',
    operation: 'CreateEvent',
    tag: 'Events',
    body: 'input',
    resource: ['createEvent', 'event'],
    payload: ['createEvent'],
    status: 201,
    location: '/events/{id}',
  },
  {
    method: 'GET',
    path: '/events/{id}',
    operation: 'GetEvent',
    tag: 'Events',
    pathParams: { id: 'id' },
    resource: ['event'],
    status: 200,
  },
  {
    method: 'POST',
    path: '/events/{id}/publish',
    operation: 'PublishEvent',
    tag: 'Events',
    pathParams: { id: 'id' },
    resource: ['publishEvent', 'event'],
    payload: ['publishEvent'],
    status: 200,
  },
  {
    method: 'GET',
    path: '/events/{id}/ticket-types',
    operation: 'ListTicketTypes',
    tag: 'Ticket types',
    pathParams: { id: 'eventId' },
    resource: ['event', 'ticketTypes'],
    status: 200,
  },
  {
    method: 'POST',
    path: '/events/{id}/ticket-types',
    operation: 'AddTicketType',
    tag: 'Ticket types',
    pathParams: { id: 'input.eventId' },
    body: 'input',
    resource: ['addTicketType', 'ticketType'],
    payload: ['addTicketType'],
    status: 201,
    location: '/events/{eventId}/ticket-types',
  },
  {
    method: 'POST',
    path: '/reservations',
    operation: 'ReserveTickets',
    tag: 'Reservations',
    body: 'input',
    resource: ['reserveTickets', 'reservation'],
    payload: ['reserveTickets'],
    status: 201,
    location: '/reservations/{id}',
  },
  {
    method: 'GET',
    path: '/reservations/{id}',
    operation: 'GetReservation',
    tag: 'Reservations',
    pathParams: { id: 'id' },
    resource: ['reservation'],
    status: 200,
  },
  {
    method: 'GET',
    path: '/orders/{id}',
    operation: 'GetOrder',
    tag: 'Orders',
    pathParams: { id: 'id' },
    resource: ['order'],
    status: 200,
  },
  {
    method: 'GET',
    path: '/orders',
    operation: 'ListMyOrders',
    tag: 'Orders',
    resource: ['myOrders'],
    status: 200,
    paginated: true,
  },
  // The refund is a change to the order (no /refunds resource to point at), and asking again answers the same one.
  {
    method: 'POST',
    path: '/orders/{id}/refund',
    operation: 'RequestRefund',
    tag: 'Orders',
    pathParams: { id: 'id' },
    resource: ['requestRefund', 'refund'],
    payload: ['requestRefund'],
    status: 200,
  },
  {
    method: 'GET',
    path: '/orders/{id}/tickets',
    operation: 'ListOrderTickets',
    tag: 'Tickets',
    pathParams: { id: 'orderId' },
    resource: ['order', 'tickets'],
    status: 200,
  },
  // checkInTicket takes the scanned code, not a ticket id: the code is the body, the answer the ticket.
  {
    method: 'POST',
    path: '/check-ins',
    operation: 'CheckInTicket',
    tag: 'Tickets',
    body: 'input',
    resource: ['checkInTicket', 'ticket'],
    payload: ['checkInTicket'],
    status: 200,
  },
  {
    method: 'GET',
    path: '/organizations/{id}/members',
    operation: 'ListOrganizationMembers',
    tag: 'Organizations',
    pathParams: { id: 'organizationId' },
    resource: ['organization', 'members'],
    status: 200,
  },
];

/** Query parameter names that are not their variable's name. */
const QUERY_PARAM_NAMES: Record<string, string> = { first: 'limit', after: 'starting_after' };

export interface RestOperation {
  definition: OperationDefinitionNode;
  /** The operation and the fragments it spreads: what is sent to /graphql. */
  document: DocumentNode;
  text: string;
  /** The comment right above the operation in its file. */
  summary: string;
}

/** Every operation in `folder`'s .graphql files, by name. */
export function loadRestOperations(folder: URL): Map<string, RestOperation> {
  const definitions: Array<{ node: DefinitionNode; summary: string }> = [];
  for (const file of readdirSync(folder)
    .filter((name) => name.endsWith('.graphql'))
    .sort()) {
    const source = readFileSync(new URL(file, folder), 'utf8');
    for (const node of parse(source).definitions) {
      definitions.push({ node, summary: leadingComment(source, node.loc?.start ?? 0) });
    }
  }
  const fragments = new Map(
    definitions
      .map(({ node }) => node)
      .filter((node): node is FragmentDefinitionNode => node.kind === Kind.FRAGMENT_DEFINITION)
      .map((node) => [node.name.value, node]),
  );
  const operations = new Map<string, RestOperation>();
  for (const { node, summary } of definitions) {
    if (node.kind !== Kind.OPERATION_DEFINITION || !node.name) continue;
    const document: DocumentNode = {
      kind: Kind.DOCUMENT,
      definitions: [node, ...fragmentsUsedBy(node, fragments)],
    };
    operations.set(node.name.value, { definition: node, document, text: print(document), summary });
  }
  return operations;
}

function leadingComment(source: string, start: number): string {
  const lines = source.slice(0, start).split('\n');
  lines.pop();
  const comment: string[] = [];
  while (lines.length && /^\s*#/.test(lines.at(-1)!)) comment.unshift(lines.pop()!.replace(/^\s*#\s?/, ''));
  return comment.join(' ').trim();
}

function fragmentsUsedBy(
  node: DefinitionNode,
  fragments: Map<string, FragmentDefinitionNode>,
  found = new Map<string, FragmentDefinitionNode>(),
): FragmentDefinitionNode[] {
  visit(node, {
    FragmentSpread(spread) {
      const fragment = fragments.get(spread.name.value);
      if (!fragment || found.has(fragment.name.value)) return;
      found.set(fragment.name.value, fragment);
      fragmentsUsedBy(fragment, fragments, found);
    },
  });
  return [...found.values()];
}

/** A route's query parameters (by name) and their variables: the variables neither the path nor the body fill. */
export function queryParameters(route: RestRoute, operation: RestOperation): Map<string, string> {
  const filled = new Set([
    route.body,
    ...Object.values(route.pathParams ?? {}).map((target) => target.split('.')[0]),
  ]);
  const query = new Map<string, string>();
  for (const definition of operation.definition.variableDefinitions ?? []) {
    const name = definition.variable.name.value;
    if (!filled.has(name)) query.set(QUERY_PARAM_NAMES[name] ?? name, name);
  }
  return query;
}

/** The GraphQL type of each of the operation's variables. */
export function variableTypes(
  schema: GraphQLSchema,
  operation: RestOperation,
): Map<string, GraphQLInputType> {
  return new Map(
    (operation.definition.variableDefinitions ?? []).map((definition) => [
      definition.variable.name.value,
      typeFromAST(schema, definition.type as never) as GraphQLInputType,
    ]),
  );
}

/** The input type a path parameter lands in: its variable's, or a field of the body's input. */
export function pathParamType(types: Map<string, GraphQLInputType>, target: string): GraphQLInputType {
  const [variable, field] = target.split('.');
  const type = types.get(variable!)!;
  if (!field) return type;
  const named = getNamedType(type);
  if (!isInputObjectType(named)) throw new Error(`${target}: ${variable} is not an input object`);
  return named.getFields()[field]!.type;
}

/** A query string value as the JSON value its GraphQL type takes; left as is when it is not one. */
