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

export interface TestSubgraph {
  service: RunningService;
  database: TestDatabase;
  testBus: TestBus;
  /** A direct connection, to check what was (not) stored. */
  sql: postgres.Sql;
  logs: Array<Record<string, unknown>>;
  /** One request to this subgraph's own /graphql. */
  gql<T>(
    query: string,
    variables?: Record<string, unknown>,
  ): Promise<{ status: number; data: T | null | undefined; errors: ExecutionResult['errors'] }>;
  dispose(): Promise<void>;
}

/** One subgraph alone, on a fresh database and a real bus, listening on a free port. */
export async function startTestSubgraph<Context extends BaseContext>(
  definition: SubgraphDefinition<Context>,
  busKind: BusKind = 'in-process',
  runtime: Pick<SubgraphRuntime, 'env' | 'consumers' | 'auth' | 'processEvents'> = {},
): Promise<TestSubgraph> {
  const { log, lines } = captureLogs(`${definition.name}-test`);
  const database = await createTestDatabase();
  const testBus = await createTestBus(busKind, log);
  const service = await startSubgraph(definition, {
    databaseUrl: database.url,
    bus: testBus.bus,
    log,
    host: '127.0.0.1',
    port: 0,
    ...runtime,
  });
  const sql = postgres(database.url, { max: 2, onnotice: () => {} });
  return {
    service,
    database,
    testBus,
    sql,
    logs: lines,
    async gql<T>(query: string, variables?: Record<string, unknown>) {
      const { status, body } = await graphql<T, Record<string, unknown>>(service.url, query, variables);
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
