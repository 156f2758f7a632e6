import { readdirSync, readFileSync } from 'node:fs';
import {
  type DefinitionNode,
  type DocumentNode,
  type FragmentDefinitionNode,
  type GraphQLInputType,
  type GraphQLSchema,
  getNamedType,
  isInputObjectType,
  isNonNullType,
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
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  /** Under REST_PREFIX, OpenAPI style: `/events/{id}`. */
  path: string;
  /** The operation's name in gateway/rest/v1/*.graphql. */
  operation: string;
  /** The OpenAPI tag (the resource). */
  tag: string;
  /** Each path parameter's variable; `input.eventId` puts it into the body's variable `input`. */
  pathParams?: Record<string, string>;
  /** The variable the JSON body becomes; the body may be left out when none of its fields is required. */
  body?: string;
  /** The field path in `data` of what the route answers; null there is a 404. */
  resource: string[];
  /** A mutation's payload, whose `errors: [UserError]` are the route's 422/404/409. */
  payload?: string[];
  /** Fields of the payload answered beside the resource's own: a secret shown only in this answer. */
  with?: string[];
  /** As `with`, for fields that only some answers have (a guest hold's token); left out when null. */
  withWhenSet?: string[];
  /** 204: the resource (a deleted id) is answered by the status alone. */
  status: 200 | 201 | 204;
  /** Where a created resource is read, `{id}` its id: the 201's `Location`. */
  location?: string;
  /** The resource is a connection (edges, pageInfo): `limit`, `starting_after` and `Link`. */
  paginated?: boolean;
  /**
   * Deprecated since a date (UTC, an API version's), answering until `sunset` (removable from that
   * day on), `successor` the route that replaces it: `Deprecation`/`Sunset`/`Link` (deprecations.ts).
   */
  deprecated?: { since: string; sunset: string; successor?: string };
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
    method: 'PATCH',
    path: '/events/{id}',
    operation: 'UpdateEvent',
    tag: 'Events',
    pathParams: { id: 'input.id' },
    body: 'input',
    resource: ['updateEvent', 'event'],
    payload: ['updateEvent'],
    status: 200,
  },
  {
    method: 'POST',
    path: '/events/{id}/cancel',
    operation: 'CancelEvent',
    tag: 'Events',
    pathParams: { id: 'input.id' },
    body: 'input',
    resource: ['cancelEvent', 'event'],
    payload: ['cancelEvent'],
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
    withWhenSet: ['guestToken'],
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
    method: 'POST',
    path: '/reservations/{id}/checkout',
    operation: 'Checkout',
    tag: 'Reservations',
    pathParams: { id: 'input.reservationId' },
    body: 'input',
    resource: ['checkout', 'order'],
    payload: ['checkout'],
    status: 201,
    location: '/orders/{id}',
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
  // Orders keep an event's orders, not an organization's: the list is the event's (a null `orders`, as for a customer, is 404).
  {
    method: 'GET',
    path: '/events/{id}/orders',
    operation: 'ListEventOrders',
    tag: 'Orders',
    pathParams: { id: 'eventId' },
    resource: ['event', 'orders'],
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
    method: 'POST',
    path: '/orders/{id}/payments',
    operation: 'PayOrder',
    tag: 'Payments',
    pathParams: { id: 'input.orderId' },
    body: 'input',
    resource: ['payOrder', 'payment'],
    payload: ['payOrder'],
    status: 201,
    location: '/payments/{id}',
  },
  {
    method: 'GET',
    path: '/payments/{id}',
    operation: 'GetPayment',
    tag: 'Payments',
    pathParams: { id: 'id' },
    resource: ['payment'],
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
    deprecated: { since: '2026-12-07', sunset: '2027-06-30', successor: '/tickets/{id}/check-in' },
  },
  {
    method: 'POST',
    path: '/tickets/{id}/check-in',
    operation: 'CheckInTicketById',
    tag: 'Tickets',
    pathParams: { id: 'input.ticketId' },
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
  {
    method: 'GET',
    path: '/organizations/{id}/api-keys',
    operation: 'ListApiKeys',
    tag: 'API keys',
    pathParams: { id: 'organizationId' },
    resource: ['organization', 'apiKeys'],
    status: 200,
  },
  {
    method: 'POST',
    path: '/organizations/{id}/api-keys',
    operation: 'CreateApiKey',
    tag: 'API keys',
    pathParams: { id: 'input.organizationId' },
    body: 'input',
    resource: ['createApiKey', 'apiKey'],
    payload: ['createApiKey'],
    with: ['secret'],
    status: 201,
    location: '/organizations/{organizationId}/api-keys',
  },
  // Revoked keys stay listed (with revokedAt): an action on the key, not a DELETE.
  {
    method: 'POST',
    path: '/api-keys/{id}/revoke',
    operation: 'RevokeApiKey',
    tag: 'API keys',
    pathParams: { id: 'id' },
    resource: ['revokeApiKey', 'apiKey'],
    payload: ['revokeApiKey'],
    status: 200,
  },
  // Opening is idempotent (the sandbox already open is answered again): an action on the organization, not a create.
  {
    method: 'POST',
    path: '/organizations/{id}/sandbox',
    operation: 'OpenSandbox',
    tag: 'Test mode',
    pathParams: { id: 'organizationId' },
    resource: ['openSandbox', 'sandbox'],
    payload: ['openSandbox'],
    status: 200,
  },
  {
    method: 'GET',
    path: '/organizations/{id}/test-messages',
    operation: 'ListTestMessages',
    tag: 'Test mode',
    pathParams: { id: 'organizationId' },
    resource: ['testMessages'],
    status: 200,
    paginated: true,
  },
  // An organization's endpoints are listed and created under it, as its members are; each is then its own resource.
  {
    method: 'GET',
    path: '/organizations/{id}/webhook-endpoints',
    operation: 'ListWebhookEndpoints',
    tag: 'Webhooks',
    pathParams: { id: 'organizationId' },
    resource: ['webhookEndpoints'],
    status: 200,
  },
  {
    method: 'POST',
    path: '/organizations/{id}/webhook-endpoints',
    operation: 'CreateWebhookEndpoint',
    tag: 'Webhooks',
    pathParams: { id: 'input.organizationId' },
    body: 'input',
    resource: ['createWebhookEndpoint', 'endpoint'],
    payload: ['createWebhookEndpoint'],
    with: ['secret'],
    status: 201,
    location: '/webhook-endpoints/{id}',
  },
  {
    method: 'GET',
    path: '/webhook-endpoints/{id}',
    operation: 'GetWebhookEndpoint',
    tag: 'Webhooks',
    pathParams: { id: 'id' },
    resource: ['webhookEndpoint'],
    status: 200,
  },
  {
    method: 'PATCH',
    path: '/webhook-endpoints/{id}',
    operation: 'UpdateWebhookEndpoint',
    tag: 'Webhooks',
    pathParams: { id: 'input.id' },
    body: 'input',
    resource: ['updateWebhookEndpoint', 'endpoint'],
    payload: ['updateWebhookEndpoint'],
    status: 200,
  },
  {
    method: 'DELETE',
    path: '/webhook-endpoints/{id}',
    operation: 'DeleteWebhookEndpoint',
    tag: 'Webhooks',
    pathParams: { id: 'id' },
    resource: ['deleteWebhookEndpoint', 'deletedId'],
    payload: ['deleteWebhookEndpoint'],
    status: 204,
  },
  {
    method: 'POST',
    path: '/webhook-endpoints/{id}/rotate-secret',
    operation: 'RotateWebhookSecret',
    tag: 'Webhooks',
    pathParams: { id: 'id' },
    resource: ['rotateWebhookSecret', 'endpoint'],
    payload: ['rotateWebhookSecret'],
    with: ['secret'],
    status: 200,
  },
  {
    method: 'GET',
    path: '/webhook-endpoints/{id}/deliveries',
    operation: 'ListWebhookDeliveries',
    tag: 'Webhooks',
    pathParams: { id: 'id' },
    resource: ['webhookEndpoint', 'deliveries'],
    status: 200,
    paginated: true,
  },
  // A replay is a new delivery of the same message, read in the endpoint's deliveries (no resource of its own).
  {
    method: 'POST',
    path: '/webhook-deliveries/{id}/replay',
    operation: 'ReplayWebhookDelivery',
    tag: 'Webhooks',
    pathParams: { id: 'id' },
    resource: ['replayWebhookDelivery', 'delivery'],
    payload: ['replayWebhookDelivery'],
    status: 200,
  },
  {
    method: 'GET',
    path: '/webhook-event-types',
    operation: 'ListWebhookEventTypes',
    tag: 'Webhooks',
    resource: ['webhookEventTypes'],
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

/**
 * A guest's hold token comes in this header on reads, where an operation declares `$guestToken`:
 * never in the query string, which proxies, logs and browser history keep.
 */
export const GUEST_TOKEN_HEADER = 'Bilten-Guest-Token';
export const GUEST_TOKEN_VARIABLE = 'guestToken';

/** Whether the route's operation reads the guest token from GUEST_TOKEN_HEADER. */
export const takesGuestToken = (route: RestRoute, operation: RestOperation) =>
  route.body !== GUEST_TOKEN_VARIABLE &&
  (operation.definition.variableDefinitions ?? []).some(
    (definition) => definition.variable.name.value === GUEST_TOKEN_VARIABLE,
  );

/** A route's query parameters (by name) and their variables: the variables neither the path, the body nor a header fill. */
export function queryParameters(route: RestRoute, operation: RestOperation): Map<string, string> {
  const filled = new Set([
    GUEST_TOKEN_VARIABLE,
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

/** Whether a route's body may be left out: none of its fields is required once the path has filled its own. */
export function bodyOptional(route: RestRoute, types: Map<string, GraphQLInputType>): boolean {
  if (!route.body) return true;
  const named = getNamedType(types.get(route.body)!);
  if (!isInputObjectType(named)) return false;
  const filledByPath = Object.values(route.pathParams ?? {})
    .filter((target) => target.startsWith(`${route.body}.`))
    .map((target) => target.split('.')[1]);
  return Object.values(named.getFields()).every(
    (field) =>
      filledByPath.includes(field.name) || !isNonNullType(field.type) || field.defaultValue !== undefined,
  );
}
