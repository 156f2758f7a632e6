import {
  type BaseContext,
  type RunningService,
  type SubgraphDefinition,
  type SubgraphRuntime,
  startSubgraph,
} from '@bilten/platform';
import type { ExecutionResult } from 'graphql';
import postgres from 'postgres';
import { type BusKind, createTestBus, type TestBus } from './bus.ts';
import { createTestDatabase, type TestDatabase } from './database.ts';
import { graphql } from './graphql.ts';
import { captureLogs } from './logs.ts';
import { createTestSigner, type TestSigner } from './tokens.ts';

/** What one GraphQL request answered. */
export interface GqlResult<T> {
  status: number;
  data: T | null | undefined;
  errors: ExecutionResult['errors'];
}

/** Request headers naming a caller (none: anonymous). */
export type CallerHeaders = Record<string, string>;

export interface TestSubgraph {
  service: RunningService;
  database: TestDatabase;
  testBus: TestBus;
  /** A direct connection, to check what was (not) stored. */
  sql: postgres.Sql;
  logs: Array<Record<string, unknown>>;
  /** Signs access tokens the subgraph trusts (unless started with `trustTestSigner: false`). */
  signer: TestSigner;
  /** The headers of a caller with these claims, signed by `signer`. */
  bearer(claims?: Parameters<TestSigner['sign']>[0]): Promise<CallerHeaders>;
  /** One request to this subgraph's own /graphql, as the caller `headers` names. */
  gql<T>(query: string, variables?: Record<string, unknown>, headers?: CallerHeaders): Promise<GqlResult<T>>;
  dispose(): Promise<void>;
}

export interface TestSubgraphOptions
  extends Pick<SubgraphRuntime, 'env' | 'consumers' | 'auth' | 'processEvents'> {
  /** Default true: tokens of the test signer are accepted. Identity verifies its own tokens instead. */
  trustTestSigner?: boolean;
}

/** One subgraph alone, on a fresh database and a real bus, listening on a free port. */
export async function startTestSubgraph<Context extends BaseContext>(
  definition: SubgraphDefinition<Context>,
  busKind: BusKind = 'in-process',
  { trustTestSigner = true, ...runtime }: TestSubgraphOptions = {},
): Promise<TestSubgraph> {
  const { log, lines } = captureLogs(`${definition.name}-test`);
  const signer = await createTestSigner();
  const database = await createTestDatabase();
  const testBus = await createTestBus(busKind, log);
  const service = await startSubgraph(definition, {
    databaseUrl: database.url,
    bus: testBus.bus,
    log,
    host: '127.0.0.1',
    port: 0,
    ...(trustTestSigner ? { auth: { jwks: signer.jwks } } : {}),
    ...runtime,
  });
  const sql = postgres(database.url, { max: 2, onnotice: () => {} });
  return {
    service,
    database,
    testBus,
    sql,
    logs: lines,
    signer,
    bearer: async (claims) => ({ authorization: `Bearer ${await signer.sign(claims)}` }),
    async gql<T>(query: string, variables?: Record<string, unknown>, headers: CallerHeaders = {}) {
      const { status, body } = await graphql<T, Record<string, unknown>>(
        service.url,
        query,
        variables,
        headers,
      );
      return { status, data: body.data, errors: body.errors };
    },
    async dispose() {
      await sql.end();
      await service.stop();
      await testBus.dispose();
      await database.drop();
    },
  };
}
