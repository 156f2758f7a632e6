import { randomBytes } from 'node:crypto';
import type { IncomingMessage as HttpRequest, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { ApolloServer } from '@apollo/server';
import {
  type IncomingMessage as BusMessage,
  decodeEvent,
  type EventBus,
  type Logger,
} from '@bilten/platform';
import proxyAddr from '@fastify/proxy-addr';
import { type DocumentNode, type ExecutionResult, GraphQLError, type GraphQLSchema, parse } from 'graphql';
import { CloseCode, type Context as WsContext } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import type { WebSocket } from 'ws';
import { WebSocketServer } from 'ws';
import { coalescedReads, createSharedReads, type ReadResult } from './live-reads.ts';
import { KEY } from './subscription-fields.ts';
import type { DisconnectReason, SubscriptionMetrics } from './subscription-metrics.ts';
import { type LivePlan, planSubscription, refused, type SubscribePayload } from './subscription-plans.ts';

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
  metrics: SubscriptionMetrics;
  /** As for HTTP requests (GATEWAY_TRUST_PROXY): which proxies may name the client's address. */
  trustProxy?: boolean | string[] | ((address: string, hop: number) => boolean);
}

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
 * processes), and each message makes the gateway read the entity again with the client's selection
 * set, in process (`executeOperation`), so payload fields come from any subgraph and each subgraph's
 * rules decide what the subscriber sees. Reads run under the subscriber's own credential, except for
 * public fields, whose one anonymous read per change serves every subscriber of this process asking
 * the same thing. The first message is the entity as it is at subscribe time (none for fields where
 * each message is a new entity); a subscriber who cannot read it is refused.
 */
export function attachSubscriptionServer(options: SubscriptionServerOptions) {
  const { log, limits, metrics } = options;
  const connections = new WeakMap<object, Connection>();
  const sharedReads = createSharedReads();
  const clientIpOf = clientAddress(options.trustProxy);
  const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
  const onUpgrade = (request: HttpRequest, socket: Duplex, head: Buffer) => {
    if (new URL(request.url ?? '/', 'http://gateway').pathname !== '/graphql') return void socket.destroy();
    wss.handleUpgrade(request, socket, head, (ws) => wss.emit('connection', ws, request));
  };
  options.server.on('upgrade', onUpgrade);

  const socketOf = (ctx: WsContext) => (ctx.extra as { socket: WebSocket }).socket;
  const close = (ctx: WsContext, code: number, reason: string, why?: DisconnectReason) => {
    const socket = socketOf(ctx);
    if (why && socket.readyState === socket.OPEN) metrics.disconnects.inc({ reason: why });
    socket.close(code, reason);
  };

  /** One lookup through the supergraph, in process, counted for its field. */
  const execute = async (
    fieldName: string,
    caller: { authorization?: string; clientIp: string; userAgent?: string },
    query: DocumentNode,
    variables: Record<string, unknown>,
  ): Promise<ReadResult> => {
    metrics.reads.inc({ field: fieldName });
    const response = await options.apollo.executeOperation(
      { query, variables },
      {
        contextValue: {
          requestId: randomBytes(16).toString('hex'),
          traceparent: `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-01`,
          ...caller,
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

  /** A lookup under the subscriber's own credential; a credential no longer valid ends the connection. */
  const read = async (
    planned: Pick<Plan, 'ctx' | 'fieldName'>,
    query: DocumentNode,
    variables: Record<string, unknown>,
  ): Promise<ReadResult> => {
    const connection = connections.get(planned.ctx)!;
    let authorization: string | undefined;
    try {
      authorization = await options.authorizationFor(connection.credential);
    } catch (err) {
      // The session ended or the API key was revoked: the connection has no business going on.
      if ((err as GraphQLError).extensions?.code === 'UNAUTHENTICATED')
        close(planned.ctx, CloseCode.Unauthorized, 'Unauthorized', 'expired');
      return { errors: [err as GraphQLError] };
    }
    return execute(
      planned.fieldName,
      { authorization, clientIp: connection.clientIp, userAgent: connection.userAgent },
      query,
      variables,
    );
  };

  /** A public field's read: anonymous, on behalf of every subscriber of this process sharing it. */
  const publicRead = (planned: Plan) => async (): Promise<ReadResult> => {
    try {
      return await execute(planned.fieldName, { clientIp: '' }, planned.query, planned.variables);
    } catch (err) {
      log.error({ err }, 'subscription read failed');
      return {
        errors: [new GraphQLError('could not read the update', { extensions: { code: 'INTERNAL' } })],
      };
    }
  };

  /** A planned subscription of one connection. */
  type Plan = LivePlan & { ctx: WsContext };

  /** The user id a self-keyed field (notifications) listens for: whoever `me` is for this credential. */
  async function subscriberId(planned: Plan): Promise<string | GraphQLError[]> {
    const me = await read(planned, parse('{ me { id } }'), {});
    if (me.errors?.length) return me.errors.map((error) => refused(codeOf(error), error.message));
    const id = (me.data?.me as { id?: unknown } | null | undefined)?.id;
    return typeof id === 'string'
      ? id
      : [refused('FORBIDDEN', `${planned.fieldName} is for signed-in users`)];
  }

  /** The first read, which decides whether the subscriber may watch at all. */
  const firstRead = (planned: Plan): Promise<ReadResult> =>
    planned.field.public
      ? sharedReads.current(planned.shareKey, sharedOptions(planned))
      : read(planned, planned.query, planned.variables);

  const sharedOptions = (planned: Plan) => ({
    coalesceMs: planned.field.coalesceMs ?? 0,
    read: publicRead(planned),
    listen: (onChange: () => void) => listenFor(planned, onChange),
  });

  /** The bus messages of this plan's field and key. */
  const listenFor = (planned: Plan, onMessage: (payload: Record<string, unknown>) => void) =>
    options.bus.listen(
      planned.field.events.map((event) => event.type),
      (message: BusMessage) => {
        const definition = planned.field.events.find((event) => event.type === message.subject);
        if (!definition) return;
        let payload: Record<string, unknown>;
        try {
          payload = decodeEvent(message.data, definition).payload as Record<string, unknown>;
        } catch (err) {
          return void log.warn({ err, subject: message.subject }, 'malformed event ignored');
        }
        if (planned.field.keyOf(payload) === planned.key) onMessage(payload);
      },
    );

  const server = useServer(
    {
      async onConnect(ctx) {
        const extra = ctx.extra as { request: HttpRequest };
        const credential = ctx.connectionParams?.authorization;
        if (credential !== undefined && typeof credential !== 'string') return false;
        const connection: Connection = {
          credential: credential || undefined,
          clientIp: clientIpOf(extra.request),
          userAgent: extra.request.headers['user-agent'],
        };
        if (connection.credential) {
          const expiresAt = tokenExpiry(connection.credential);
          if (expiresAt !== undefined && expiresAt <= Date.now()) {
            close(ctx, CloseCode.Unauthorized, 'Unauthorized: the access token expired', 'expired');
            return false;
          }
          try {
            await options.authorizationFor(connection.credential);
          } catch {
            close(ctx, CloseCode.Unauthorized, 'Unauthorized');
            return false;
          }
          // Checked again at expiry: the connection ends with its token (the client reconnects with a new one).
          if (expiresAt !== undefined)
            connection.expiryTimer = setTimeout(
              () => close(ctx, CloseCode.Unauthorized, 'Unauthorized: the access token expired', 'expired'),
              Math.min(expiresAt - Date.now(), 2 ** 31 - 1),
            );
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
        const errors = await admit(ctx, payload);
        if (!Array.isArray(errors)) return errors;
        for (const error of errors)
          metrics.refused.inc({ code: String(error.extensions?.code ?? 'BAD_USER_INPUT') });
        return errors;
      },
      // onSubscribe hands over the lookup query (queries and mutations were refused there): its
      // execution is the live feed.
      execute: (args) => liveFeed(args.contextValue as Plan),
      context: (ctx) => ctx as never,
    },
    wss,
  );
  // After graphql-ws's own handler: its socket error listener prints a stack trace to stderr for
  // what any client can cause (a message over maxPayload), so ours replaces it. ws closes the
  // socket itself after an error (1009 for a message too large).
  wss.on('connection', (socket: WebSocket) => {
    metrics.connections.inc();
    socket.once('close', () => metrics.connections.dec());
    socket.removeAllListeners('error');
    socket.on('error', (err: Error & { code?: string }) => {
      if (err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') metrics.disconnects.inc({ reason: 'limit' });
      log.warn({ code: err.code, message: err.message }, 'websocket error, connection closed');
    });
  });

  /** The subscription planned and the subscriber allowed to watch, or why not. */
  async function admit(ctx: WsContext, payload: SubscribePayload) {
    if (Object.keys(ctx.subscriptions).length > limits.maxPerConnection)
      return [refused('RATE_LIMITED', `at most ${limits.maxPerConnection} subscriptions per connection`)];
    const schema = options.schema();
    if (!schema) return [refused('BAD_USER_INPUT', 'the schema is not loaded yet')];
    const lookup = planSubscription(schema, options.maxTokens, payload, !!connections.get(ctx)!.credential);
    if (Array.isArray(lookup)) return lookup;
    const planned: Plan = { ...lookup, ctx };
    if (planned.field.keyArgument === undefined) {
      const id = await subscriberId(planned);
      if (Array.isArray(id)) return id;
      planned.key = id;
    }
    // The subscriber must be able to read the entity now: the subgraphs' own rules decide. A field
    // whose messages are new entities has none yet: `me` above was the check.
    if (!planned.field.entityOf) {
      const first = await firstRead(planned);
      if (first.errors?.length) return first.errors.map((error) => refused(codeOf(error), error.message));
      if (!first.data || planned.field.pick(first.data) == null)
        return [refused('FORBIDDEN', 'not found, or not yours to watch')];
    }
    return {
      schema: options.schema()!,
      document: planned.query,
      variableValues: planned.variables,
      contextValue: planned,
    };
  }

  /**
   * One subscription's messages. It listens first, then reads the current state, then reads again
   * after each change of its entity (coalesced per `coalesceMs`; public fields share these reads),
   * or reads each new entity a message names. A subscriber whose socket does not drain is
   * disconnected rather than buffered for.
   */
  async function liveFeed(planned: Plan): Promise<AsyncIterableIterator<ExecutionResult>> {
    const { ctx, field, fieldName } = planned;
    const queue: ExecutionResult[] = [];
    let waiting: ((result: IteratorResult<ExecutionResult>) => void) | undefined;
    let done = false;
    const stops: Array<() => unknown> = [];
    let counted = false;

    const push = (result: ExecutionResult) => {
      if (done) return;
      // What the socket has not handed to the network yet, and what waits behind it: past either
      // limit the subscriber is not keeping up, and is disconnected rather than buffered for.
      const buffered = socketOf(ctx).bufferedAmount;
      if (queue.length >= limits.maxQueuedMessages || buffered > limits.maxBufferedBytes) {
        log.warn({ queued: queue.length, buffered }, 'subscriber too slow, disconnected');
        // 1008, policy violation: graphql-ws's own 44xx codes are for protocol errors.
        close(ctx, 1008, 'too slow: messages were not read in time', 'slow');
        return void end();
      }
      metrics.messages.inc({ field: fieldName });
      if (!waiting) return void queue.push(result);
      const resolve = waiting;
      waiting = undefined;
      resolve({ value: result, done: false });
    };
    /** A read of the watched entity, as a message; one it can no longer read ends the subscription. */
    const deliver = (result: ReadResult) => {
      const value = result.data ? field.pick(result.data) : null;
      if (value == null && !result.errors?.length) {
        // The subscriber may no longer read it (a role taken away): the subscription ends.
        push({ errors: [refused('FORBIDDEN', 'not found, or no longer yours to watch')] });
        return void end();
      }
      push({ data: { [planned.responseKey]: value }, ...(result.errors ? { errors: result.errors } : {}) });
    };
    const failed = (err: unknown) => {
      log.error({ err }, 'subscription read failed');
      push({ errors: [new GraphQLError('could not read the update', { extensions: { code: 'INTERNAL' } })] });
    };
    const end = async () => {
      if (done) return { value: undefined, done: true as const };
      done = true;
      if (counted) metrics.active.dec({ field: fieldName });
      waiting?.({ value: undefined, done: true });
      waiting = undefined;
      for (const stop of stops.splice(0)) await stop();
      return { value: undefined, done: true as const };
    };

    try {
      if (field.public) {
        stops.push(await sharedReads.join(planned.shareKey, sharedOptions(planned), deliver));
      } else if (field.entityOf) {
        stops.push(await entityFeed(planned, push, failed));
      } else {
        const reads = coalescedReads(field.coalesceMs ?? 0, async () => {
          try {
            deliver(await read(planned, planned.query, planned.variables));
          } catch (err) {
            failed(err);
          }
        });
        stops.push(() => reads.stop());
        const listener = await listenFor(planned, () => reads.changed());
        stops.push(() => listener.stop());
        reads.changed();
      }
    } catch (err) {
      await end();
      throw err;
    }
    // Counted once it listens: a subscription in this gauge hears its changes.
    if (!done) {
      counted = true;
      metrics.active.inc({ field: fieldName });
    }
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

  /**
   * Each message names a new entity (a notification): read once, in the order they came. A message
   * published twice (a relay retrying) is read once.
   */
  async function entityFeed(
    planned: Plan,
    push: (result: ExecutionResult) => void,
    failed: (err: unknown) => void,
  ) {
    const seen = new Set<string>();
    let chain = Promise.resolve();
    const listener = await listenFor(planned, (payload) => {
      const id = planned.field.entityOf!(payload);
      if (!id || seen.has(id)) return;
      seen.add(id);
      if (seen.size > 256) seen.delete(seen.values().next().value!);
      chain = chain.then(async () => {
        try {
          const result = await read(planned, planned.query, { ...planned.variables, [KEY]: id });
          const value = result.data ? planned.field.pick(result.data) : null;
          // One it cannot read (archived or gone meanwhile) is not news.
          if (value == null && !result.errors?.length) return;
          push({
            data: { [planned.responseKey]: value },
            ...(result.errors ? { errors: result.errors } : {}),
          });
        } catch (err) {
          failed(err);
        }
      });
    });
    return () => listener.stop();
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

/** The client's address for a websocket's upgrade request, as Fastify finds it for HTTP requests. */
function clientAddress(trust: SubscriptionServerOptions['trustProxy']) {
  if (!trust) return (request: HttpRequest) => request.socket.remoteAddress ?? '';
  const trusted =
    typeof trust === 'function' ? trust : trust === true ? () => true : proxyAddr.compile(trust);
  return (request: HttpRequest) => proxyAddr(request, trusted);
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
