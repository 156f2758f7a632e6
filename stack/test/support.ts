import type { SubgraphName } from '@bilten/gateway';
import type { EventBus, RawEnv } from '@bilten/platform';
import {
  type BusKind,
  captureLogs,
  createTestBus,
  createTestDatabase,
  graphql,
  refreshAccess,
  type SignedInUser,
  signUp,
  startTestSmtpServer,
  type TestSmtpServer,
} from '@bilten/testkit';
import postgres from 'postgres';
import { type Stack, type StackOptions, startStack } from '../src/stack.ts';

export const TEST_LIMITS = {
  maxDepth: 12,
  maxAliases: 30,
  maxCost: 5_000,
  maxTokens: 2_000,
  bodyLimitBytes: 1_048_576,
  subgraphTimeoutMs: 2_000,
};

/** A valid createEvent input for an online event in 2027, with `overrides` on top. */
export const eventInput = (
  organizationId: string,
  title: string,
  overrides: Record<string, unknown> = {},
) => ({
  organizationId,
  title,
  startsAt: '2027-06-01T19:00:00Z',
  endsAt: '2027-06-01T23:00:00Z',
  timezone: 'Europe/Sarajevo',
  onlineUrl: 'https://stream.example/live',
  currency: 'EUR',
  capacity: 100,
  ...overrides,
});

/** One GraphQL call through the gateway that must not fail as a whole: its data. */
export async function gatewayCall<T>(
  stack: Pick<TestStack, 'url'>,
  query: string,
  variables: Record<string, unknown>,
  headers: Record<string, string>,
): Promise<T> {
  const { body } = await graphql<T, unknown>(stack.url, query, variables, headers);
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  return body.data!;
}

/**
 * A new organization's event with one ticket type, created and published through the gateway:
 * `event` is the event's createEvent input on top of the defaults, `ticketType` the ticket type's.
 */
export async function publishedEvent(
  stack: TestStack,
  slug: string,
  {
    title = 'Published Night',
    event = {},
    ticketType = {},
  }: { title?: string; event?: Record<string, unknown>; ticketType?: Record<string, unknown> } = {},
) {
  const { organizationId, owner } = await stack.organizationOwner(slug);
  const { createEvent } = await gatewayCall<{ createEvent: { event: { id: string } } }>(
    stack,
    `mutation($input: CreateEventInput!) { createEvent(input: $input) { event { id } } }`,
    { input: eventInput(organizationId, title, event) },
    owner.headers,
  );
  const eventId = createEvent.event.id;
  const { addTicketType } = await gatewayCall<{ addTicketType: { ticketType: { id: string } } }>(
    stack,
    `mutation($input: AddTicketTypeInput!) { addTicketType(input: $input) { ticketType { id } } }`,
    {
      input: {
        eventId,
        name: 'Regular',
        price: { amount: 1000, currency: 'EUR' },
        capacity: 10,
        ...ticketType,
      },
    },
    owner.headers,
  );
  const { publishEvent } = await gatewayCall<{ publishEvent: { errors: unknown[] } }>(
    stack,
    `mutation($input: EventIdInput!) { publishEvent(input: $input) { errors { code message } } }`,
    { input: { id: eventId } },
    owner.headers,
  );
  if (publishEvent.errors.length) throw new Error(`publishEvent: ${JSON.stringify(publishEvent.errors)}`);
  return { organizationId, owner, eventId, ticketTypeId: addTicketType.ticketType.id };
}

/** Where the links in mails point. */
export const TEST_WEB_URL = 'https://tickets.test';

/**
 * What no error a client gets may carry (issue 12): our addresses and URLs, stack traces, SQL, socket
 * errors, a subgraph's raw answer. `http://` counts: no error of ours names a URL (clients may echo
 * https ones in variables, which graphql-js quotes back).
 */
const INTERNALS: Array<[what: string, pattern: RegExp]> = [
  ['a URL', /\bhttp:\/\//i],
  ['a loopback address', /\b127\.0\.0\.1\b|\blocalhost\b|\[::1\]|\b0\.0\.0\.0\b/i],
  ['a stack trace', /"stack(?:trace)?"|\bat [\w.<>$]+ \(|node:internal|\.[cm]?[jt]s:\d+:\d+/],
  [
    'SQL',
    /failed query|\bselect\b[^"]{0,200}\bfrom\b|\binsert into\b|\bdelete from\b|relation "|violates \w+ (?:key )?constraint|syntax error at or near|invalid input syntax for type|duplicate key value|\bSQLSTATE\b/i,
  ],
  ['a socket error', /\bE(?:CONNREFUSED|CONNRESET|TIMEDOUT|AI_AGAIN|PIPE)\b/],
  ["a subgraph's raw answer", /"response":\{/],
];

/** Which kinds of internals `text` (an error body) gives away; empty when it is clean. */
export function internalsIn(text: string): string[] {
  return INTERNALS.filter(([, pattern]) => pattern.test(text)).map(([what]) => what);
}

/** Gateways of this test file whose answers are checked, with the leaks found so far. */
const watchedGateways = new Map<string, string[]>();
let restoreFetch = () => {};

/**
 * Checks the `errors` of every JSON answer these gateways send to this test process, whichever
 * test asked and how (`graphql()`, plain `fetch`): a leak fails the request that got it, and the
 * stack's `dispose` again, in case the test swallowed that failure.
 */
export function watchErrorBodies(gatewayUrl: string): { leaks: string[]; unwatch(): void } {
  const origin = new URL(gatewayUrl).origin;
  const leaks: string[] = [];
  if (!watchedGateways.size) {
    const send = globalThis.fetch;
    globalThis.fetch = (async (input: Parameters<typeof fetch>[0], init?: RequestInit) => {
      const response = await send(input, init);
      const url = new URL(input instanceof Request ? input.url : String(input));
      const found = watchedGateways.get(url.origin);
      if (!found || !/json/.test(response.headers.get('content-type') ?? '')) return response;
      const errors = JSON.stringify(
        await response
          .clone()
          .json()
          .then(
            (body) => (body as { errors?: unknown } | null)?.errors ?? [],
            () => [],
          ),
      );
      const problems = internalsIn(errors);
      if (problems.length) {
        const leak = `${init?.method ?? 'GET'} ${url.pathname} → ${problems.join(', ')}: ${errors.slice(0, 500)}`;
        found.push(leak);
        throw new Error(`the gateway's error body gives away internals: ${leak}`);
      }
      return response;
    }) as typeof fetch;
    restoreFetch = () => {
      globalThis.fetch = send;
    };
  }
  watchedGateways.set(origin, leaks);
  return {
    leaks,
    unwatch() {
      watchedGateways.delete(origin);
      if (!watchedGateways.size) restoreFetch();
    },
  };
}

export interface TestStack extends Stack {
  url: string;
  /** The gateway's operations listener (`/metrics`), on loopback. */
  operationsUrl: string;
  bus: EventBus;
  /** The JetStream stream of this test, when on JetStream. */
  stream?: string;
  logs: ReturnType<typeof captureLogs>['lines'];
  /** The variables every service was started with. */
  env: RawEnv;
  /** The SMTP server messaging sends to: every mail the platform sent. */
  smtp: TestSmtpServer;
  databaseUrl: string;
  /** A direct connection to the stack's database. */
  sql: postgres.Sql;
  /** A new account, registered, verified and signed in through the gateway. */
  signUp(options?: Parameters<typeof signUp>[2]): Promise<SignedInUser>;
  /** A new platform ADMIN, signed in through the gateway. */
  signUpAdmin(): Promise<SignedInUser>;
  /**
   * A new user who created organization `slug` (named `Org <slug>`) through the gateway; their
   * token needs no refresh, the gateway forwards the roles of now.
   */
  organizationOwner(slug: string): Promise<{ organizationId: string; owner: SignedInUser }>;
  dispose(): Promise<void>;
}

/** The whole platform on a fresh database and a real bus, every service on a free port. */
export async function startTestStack(
  busKind: BusKind = 'jetstream',
  options: Pick<StackOptions, 'auth'> & {
    /** Variables over the defaults below (undefined unsets one). */
    env?: RawEnv;
    /** A port chosen beforehand, for services that must know the gateway's address (default: any free one). */
    gatewayPort?: number;
  } = {},
): Promise<TestStack> {
  const { env: envOverrides, gatewayPort = 0, ...stackOptions } = options;
  const { log, lines } = captureLogs('stack-test');
  const database = await createTestDatabase();
  const testBus = await createTestBus(busKind, log);
  const smtp = await startTestSmtpServer();
  const env: RawEnv = {
    SMTP_URL: smtp.url,
    PUBLIC_WEB_URL: TEST_WEB_URL,
    // Every test signs up from 127.0.0.1.
    AUTH_REGISTRATIONS_PER_IP_PER_HOUR: '10000',
    // Field limits per client (field-rate-limits.ts): a test lowers the one it checks.
    RATE_LIMIT_SIGN_UP: 'off',
    RATE_LIMIT_PASSWORD_RESET: 'off',
    RATE_LIMIT_VERIFICATION_RESEND: 'off',
    RATE_LIMIT_SEARCH: 'off',
    ...envOverrides,
  };
  const ports = {
    gateway: gatewayPort,
    identity: 0,
    catalog: 0,
    orders: 0,
    billing: 0,
    messaging: 0,
    branding: 0,
  } satisfies Record<SubgraphName | 'gateway', number>;
  const stack = await startStack({
    databaseUrl: database.url,
    databasePoolSize: 4,
    bus: testBus.bus,
    log,
    host: '127.0.0.1',
    ports,
    gateway: {
      limits: TEST_LIMITS,
      blockFieldSuggestions: false,
      sandbox: true,
      operations: { host: '127.0.0.1', port: 0 },
    },
    env,
    ...stackOptions,
  });
  const sql = postgres(database.url, { max: 2, onnotice: () => {} });
  const errorBodies = watchErrorBodies(stack.gateway.url);
  return {
    ...stack,
    sql,
    signUp: (signUpOptions) => signUp(stack.gateway.url, sql, signUpOptions),
    async signUpAdmin() {
      const user = await signUp(stack.gateway.url, sql);
      // In production admin:create or the bootstrap variables do this (tested in identity).
      await sql`update identity.users set roles = '{ADMIN}' where id = ${user.userId}`;
      return refreshAccess(stack.gateway.url, user);
    },
    async organizationOwner(slug) {
      const owner = await signUp(stack.gateway.url, sql);
      const { body } = await graphql(
        stack.gateway.url,
        `mutation($input: CreateOrganizationInput!) { createOrganization(input: $input) { organization { id } errors { code message } } }`,
        { input: { name: `Org ${slug}`, slug } },
        owner.headers,
      );
      const created = (
        body.data as { createOrganization?: { organization: { id: string } | null } } | undefined
      )?.createOrganization?.organization;
      if (!created) throw new Error(`createOrganization ${slug}: ${JSON.stringify(body)}`);
      return { organizationId: created.id, owner };
    },
    url: stack.gateway.url,
    operationsUrl: stack.gateway.operationsUrl!,
    bus: testBus.bus,
    stream: testBus.stream,
    logs: lines,
    env,
    smtp,
    databaseUrl: database.url,
    async dispose() {
      errorBodies.unwatch();
      await sql.end();
      await stack.stop();
      await smtp.stop();
      await testBus.dispose();
      await database.drop();
      if (errorBodies.leaks.length) {
        throw new Error(`error bodies gave away internals:\n${errorBodies.leaks.join('\n')}`);
      }
    },
  };
}
