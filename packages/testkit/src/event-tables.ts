import { eventTables } from '@bilten/platform';
import { generateDrizzleJson, generateMigration } from 'drizzle-kit/api';
import { pgSchema } from 'drizzle-orm/pg-core';
import type postgres from 'postgres';

/**
 * The kit's outbox, inbox and position tables in a schema of a test's or a benchmark's own, so
 * they exercise the platform's event code without any subgraph's tables. drizzle-kit writes the
 * DDL from `eventTables`, as it writes every subgraph's migration, so the two cannot differ.
 */
export async function createTestEventTables(sql: postgres.Sql, schemaName: string) {
  const schema = pgSchema(schemaName);
  const tables = eventTables(schema);
  const statements = await generateMigration(
    generateDrizzleJson({}),
    generateDrizzleJson({ schema, ...tables }),
  );
  for (const statement of statements) await sql.unsafe(statement);
  return tables;
}
