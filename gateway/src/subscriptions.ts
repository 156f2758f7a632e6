import { randomBytes } from 'node:crypto';
import type { IncomingMessage as HttpRequest, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { ApolloServer } from '@apollo/server';
import { decodeEvent, type EventBus, type Logger } from '@bilten/platform';
import {
  type DocumentNode,
  type ExecutionResult,
  GraphQLError,
  type GraphQLSchema,
  getOperationAST,
  Kind,
  type OperationDefinitionNode,
  parse,
  validate,
  visit,
} from 'graphql';
import { CloseCode, type Context as WsContext } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import type { WebSocket } from 'ws';
import { WebSocketServer } from 'ws';
import { GUEST, KEY, LIVE_FIELDS, type LiveField } from './subscription-fields.ts';

export interface SubscriptionLimits {
  /** Subscriptions one connection may hold at once. */
  maxPerConnection: number;
  /** Bytes a connection may have waiting to be sent before it is closed as too slow. */
  maxBufferedBytes: number;
  /** Messages one subscription may have waiting to be sent before its connection is closed. */
  maxQueuedMessages: number;
}

export interface GatewayRequest {
  requestId: string;
  traceparent: string;
  authorization?: string;
  clientIp: string;
  userAgent?: string;
}

export interface SubscriptionServerOptions {
  server: Server;
  bus: EventBus;
  log: Logger;
  apollo: ApolloServer<GatewayRequest>;
  /** The API schema of the loaded supergraph, `Subscription` included (see startGateway). */
  schema: () => GraphQLSchema | undefined;
  authorizationFor(authorization: string | undefined): Promise<string | undefined>;
  /** The gateway's GATEWAY_MAX_TOKENS, for subscription documents as for HTTP ones. */
  maxTokens: number;
  limits: SubscriptionLimits;
}

const refused = (
  code: 'FORBIDDEN' | 'UNAUTHENTICATED' | 'BAD_USER_INPUT' | 'RATE_LIMITED',
  message: string,
) => new GraphQLError(message, { extensions: { code } });

/** Connection state kept beside graphql-ws's context. */
interface Connection {
  /** The client's credential as given in `connectionParams.authorization`. */
  credential?: string;
  clientIp: string;
  userAgent?: string;
  expiryTimer?: NodeJS.Timeout;
}

/**
 * `graphql-ws` on `/graphql` of the gateway's own HTTP server (ARCHITECTURE.md, subscriptions): each
 * root field listens on NATS (every gateway process hears every message, nothing is shared between
 * them), and each message makes the gateway read the entity again with the client's selection set
 * and the subscriber's own credential, in process (`executeOperation`), so payload fields come from
 * any subgraph and each subgraph's rules decide what the subscriber sees. The first message is the
 * entity as it is at subscribe time; a subscriber who cannot read it is refused.
 */
export function attachSubscriptionServer(options: SubscriptionServerOptions) {
  const { log, limits } = options;
  const connections = new WeakMap<object, Connection>();
  const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
  const onUpgrade = (request: HttpRequest, socket: Duplex, head: Buffer) => {
    if (new URL(request.url ?? '/', 'http://gateway').pathname !== '/graphql') return void socket.destroy();
    wss.handleUpgrade(request, socket, head, (ws) => wss.emit('connection', ws, request));
  };
  options.server.on('upgrade', onUpgrade);

  const socketOf = (ctx: WsContext) => (ctx.extra as { socket: WebSocket }).socket;
  const close = (ctx: WsContext, code: number, reason: string) => socketOf(ctx).close(code, reason);

  const read = async (
    connection: Connection,
    ctx: WsContext,
    query: DocumentNode,
    variables: Record<string, unknown>,
  ): Promise<ExecutionResult<Record<string, unknown>>> => {
    let authorization: string | undefined;
    try {
      authorization = await options.authorizationFor(connection.credential);
    } catch (err) {
      // The session ended or the API key was revoked: the connection has no business going on.
      if ((err as GraphQLError).extensions?.code === 'UNAUTHENTICATED')
        close(ctx, CloseCode.Unauthorized, 'Unauthorized');
      return { errors: [err as GraphQLError] };
    }
    const response = await options.apollo.executeOperation(
      { query, variables },
      {
        contextValue: {
          requestId: randomBytes(16).toString('hex'),
          traceparent: `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-01`,
          authorization,
          clientIp: connection.clientIp,
          userAgent: connection.userAgent,
        },
      },
    );
    if (response.body.kind !== 'single')
      return { errors: [refused('BAD_USER_INPUT', 'not a single result')] };
    const { data, errors } = response.body.singleResult;
    return {
      data: (data ?? undefined) as Record<string, unknown> | undefined,
      errors: errors?.map((error) => new GraphQLError(error.message, { extensions: error.extensions })),
    };
  };

  interface Plan {
    ctx: WsContext;
    field: LiveField;
    responseKey: string;
    key: string;
    query: DocumentNode;
    variables: Record<string, unknown>;
  }

  /** The client's operation turned into its lookup query, or why it cannot be served. */
  function plan(
    ctx: WsContext,
    payload: { query: string; variables?: Record<string, unknown> | null; operationName?: string | null },
  ): Plan | GraphQLError[] {
    const schema = options.schema();
    if (!schema) return [refused('BAD_USER_INPUT', 'the schema is not loaded yet')];
    let document: DocumentNode;
    try {
      document = parse(payload.query, { maxTokens: options.maxTokens });
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
    const field = LIVE_FIELDS[root.name.value];
    if (!field) return [refused('BAD_USER_INPUT', `${root.name.value} is not served yet`)];
    const variables = { ...(payload.variables ?? {}) };
    const argument = (name: string) => {
      const node = root.arguments?.find((arg) => arg.name.value === name)?.value;
      if (!node) return undefined;
      if (node.kind === Kind.VARIABLE) return variables[node.name.value];
      return node.kind === Kind.STRING ? node.value : undefined;
    };
    const key = argument(field.keyArgument);
    if (typeof key !== 'string' || !key)
      return [refused('BAD_USER_INPUT', `${field.keyArgument} is required`)];
    const connection = connections.get(ctx)!;
    const publicValue = field.publicArgument ? argument(field.publicArgument) : undefined;
    if (field.signedIn && !connection.credential && !publicValue)
      return [refused('UNAUTHENTICATED', `${root.name.value} needs connectionParams.authorization`)];
    const selectionSet = (
      parse(`{ ${field.lookup(root.selectionSet!)} }`).definitions[0] as OperationDefinitionNode
    ).selectionSet;
    const fragments = document.definitions.filter(
      (definition) => definition.kind === Kind.FRAGMENT_DEFINITION,
    );
    // Only the variables the lookup still uses: the root field's own arguments are gone.
    const used = new Set<string>();
    for (const node of [selectionSet, ...fragments])
      visit(node, { Variable: (variable) => void used.add(variable.name.value) });
    const ours = (
      parse(`query($${KEY}: ID!, $${GUEST}: String) { x }`).definitions[0] as OperationDefinitionNode
    ).variableDefinitions!;
    const lookup: OperationDefinitionNode = {
      ...operation,
      operation: 'query' as OperationDefinitionNode['operation'],
      name: undefined,
      variableDefinitions: [...(operation.variableDefinitions ?? []), ...ours].filter((definition) =>
        used.has(definition.variable.name.value),
      ),
      selectionSet,
    };
    const query: DocumentNode = { kind: Kind.DOCUMENT, definitions: [lookup, ...fragments] };
    return {
      ctx,
      field,
      responseKey: root.alias?.value ?? root.name.value,
      key,
      query,
      variables: { ...variables, [KEY]: key, [GUEST]: publicValue ?? null },
    };
  }

  const server = useServer(
    {
      async onConnect(ctx) {
        const extra = ctx.extra as { request: HttpRequest };
        const credential = ctx.connectionParams?.authorization;
        if (credential !== undefined && typeof credential !== 'string') return false;
        const connection: Connection = {
          credential: credential || undefined,
          clientIp: extra.request.socket.remoteAddress ?? '',
          userAgent: extra.request.headers['user-agent'],
        };
        if (connection.credential) {
          try {
            await options.authorizationFor(connection.credential);
          } catch {
            close(ctx, CloseCode.Unauthorized, 'Unauthorized');
            return false;
          }
          const expiresAt = tokenExpiry(connection.credential);
          if (expiresAt !== undefined) {
            const left = expiresAt - Date.now();
            if (left <= 0) {
              close(ctx, CloseCode.Unauthorized, 'Unauthorized: the access token expired');
              return false;
            }
            // Checked again at expiry: the connection ends with its token (the client reconnects with a new one).
            connection.expiryTimer = setTimeout(
              () => close(ctx, CloseCode.Unauthorized, 'Unauthorized: the access token expired'),
              Math.min(left, 2 ** 31 - 1),
            );
          }
        }
        connections.set(ctx, connection);
        return true;
      },
      onDisconnect(ctx) {
        clearTimeout(connections.get(ctx)?.expiryTimer);
      },
      onClose(ctx) {
        clearTimeout(connections.get(ctx)?.expiryTimer);
      },
      async onSubscribe(ctx, _id, payload) {
        if (Object.keys(ctx.subscriptions).length > limits.maxPerConnection)
          return [refused('RATE_LIMITED', `at most ${limits.maxPerConnection} subscriptions per connection`)];
        const planned = plan(ctx, payload);
        if (Array.isArray(planned)) return planned;
        // The subscriber must be able to read the entity now: the subgraphs' own rules decide.
        const first = await read(connections.get(ctx)!, ctx, planned.query, planned.variables);
        if (first.errors?.length) return first.errors.map((error) => refused(codeOf(error), error.message));
        if (!first.data || planned.field.pick(first.data) == null)
          return [refused('FORBIDDEN', 'not found, or not yours to watch')];
        return {
          schema: options.schema()!,
          document: planned.query,
          variableValues: planned.variables,
          contextValue: planned,
        };
      },
      // onSubscribe hands over the lookup query (queries and mutations were refused there): its
      // execution is the live feed.
      execute: (args) => liveFeed(args.contextValue as Plan),
      context: (ctx) => ctx as never,
    },
    wss,
  );

  /**
   * One subscription's messages: it listens first, then reads the current state, then reads again
   * after each change of its entity. Changes that come while a read runs (or, coalesced, within
   * `coalesceMs` of the last) make one more read, so the last state always arrives. A subscriber
   * whose socket does not drain is disconnected rather than buffered for.
   */
  async function liveFeed(planned: Plan): Promise<AsyncIterableIterator<ExecutionResult>> {
    const { ctx, field } = planned;
    const connection = connections.get(ctx)!;
    const queue: ExecutionResult[] = [];
    let waiting: ((result: IteratorResult<ExecutionResult>) => void) | undefined;
    let done = false;
    let dirty = true;
    let reading = false;
    let lastReadAt = 0;
    let timer: NodeJS.Timeout | undefined;

    const push = (result: ExecutionResult) => {
      if (done) return;
      // What the socket has not handed to the network yet, and what waits behind it: past either
      // limit the subscriber is not keeping up, and is disconnected rather than buffered for.
      const buffered = socketOf(ctx).bufferedAmount;
      if (queue.length >= limits.maxQueuedMessages || buffered > limits.maxBufferedBytes) {
        log.warn({ queued: queue.length, buffered }, 'subscriber too slow, disconnected');
        // 1008, policy violation: graphql-ws's own 44xx codes are for protocol errors.
        close(ctx, 1008, 'too slow: messages were not read in time');
        return void end();
      }
      if (!waiting) return void queue.push(result);
      const resolve = waiting;
      waiting = undefined;
      resolve({ value: result, done: false });
    };
    const pump = async () => {
      if (reading || done || !dirty) return;
      const wait = lastReadAt + (field.coalesceMs ?? 0) - Date.now();
      if (wait > 0) {
        timer ??= setTimeout(() => {
          timer = undefined;
          void pump();
        }, wait);
        return;
      }
      reading = true;
      dirty = false;
      lastReadAt = Date.now();
      try {
        const result = await read(connection, ctx, planned.query, planned.variables);
        const value = result.data ? field.pick(result.data) : null;
        if (value == null && !result.errors?.length) {
          // The subscriber may no longer read it (a role taken away): the subscription ends.
          push({ errors: [refused('FORBIDDEN', 'not found, or no longer yours to watch')] });
          return void end();
        }
        push({ data: { [planned.responseKey]: value }, ...(result.errors ? { errors: result.errors } : {}) });
      } catch (err) {
        log.error({ err }, 'subscription read failed');
        push({
          errors: [new GraphQLError('could not read the update', { extensions: { code: 'INTERNAL' } })],
        });
      } finally {
        reading = false;
      }
      void pump();
    };
    const listener = await options.bus.listen(
      field.events.map((event) => event.type),
      (message) => {
        const definition = field.events.find((event) => event.type === message.subject);
        if (!definition) return;
        try {
          if (
            field.keyOf(decodeEvent(message.data, definition).payload as Record<string, unknown>) !==
            planned.key
          )
            return;
        } catch (err) {
          return void log.warn({ err, subject: message.subject }, 'malformed event ignored');
        }
        dirty = true;
        void pump();
      },
    );
    const end = async () => {
      if (done) return { value: undefined, done: true as const };
      done = true;
      clearTimeout(timer);
      waiting?.({ value: undefined, done: true });
      waiting = undefined;
      await listener.stop();
      return { value: undefined, done: true as const };
    };
    void pump();
    const feed: AsyncIterableIterator<ExecutionResult> = {
      [Symbol.asyncIterator]: () => feed,
      next() {
        const value = queue.shift();
        if (value) return Promise.resolve({ value, done: false });
        if (done) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => {
          waiting = resolve;
        });
      },
      return: end,
      throw: async (err) => {
        await end();
        throw err;
      },
    };
    return feed;
  }

  return {
    async close() {
      options.server.off('upgrade', onUpgrade);
      for (const client of wss.clients) client.close(1001, 'gateway stopping');
      await server.dispose();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}

function codeOf(error: GraphQLError): 'FORBIDDEN' | 'UNAUTHENTICATED' | 'BAD_USER_INPUT' {
  const code = error.extensions?.code;
  return code === 'UNAUTHENTICATED' || code === 'BAD_USER_INPUT' ? code : 'FORBIDDEN';
}

/** The `exp` of a JWT bearer token, in ms; undefined for anything else (an API key). */
function tokenExpiry(authorization: string): number | undefined {
  const match = /^Bearer [A-Za-z0-9_-]+\.([A-Za-z0-9_-]+)\.[A-Za-z0-9_-]*$/.exec(authorization);
  if (!match) return undefined;
  try {
    const exp = JSON.parse(Buffer.from(match[1]!, 'base64url').toString()).exp;
    return typeof exp === 'number' ? exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}
