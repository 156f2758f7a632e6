import type { SubgraphName } from '@bilten/gateway';
import type { EventBus, RawEnv } from '@bilten/platform';
import {
  type BusKind,
  captureLogs,
  createTestBus,
  createTestDatabase,
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

/** Where the links in mails point. */
export const TEST_WEB_URL = 'https://tickets.test';

export interface TestStack extends Stack {
  url: string;
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
    gateway: { limits: TEST_LIMITS, blockFieldSuggestions: false },
    env,
    ...stackOptions,
  });
  const sql = postgres(database.url, { max: 2, onnotice: () => {} });
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
    url: stack.gateway.url,
    bus: testBus.bus,
    stream: testBus.stream,
    logs: lines,
    env,
    smtp,
    databaseUrl: database.url,
    async dispose() {
      await sql.end();
      await stack.stop();
      await smtp.stop();
      await testBus.dispose();
      await database.drop();
    },
  };
}
