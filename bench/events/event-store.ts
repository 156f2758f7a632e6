/**
 * The pipeline's outbox, inbox and position tables: the kit's `eventTables` in a schema of the
 * benchmark's own, so it measures the platform's code on the platform's tables without any
 * subgraph's migrations.
 */
import { eventTables } from '@bilten/platform';
import { createTestEventTables } from '@bilten/testkit';
import { pgSchema } from 'drizzle-orm/pg-core';
import type postgres from 'postgres';

/** The schema of the tables, also the name the outbox NOTIFYs on and the relay LISTENs to. */
export const BENCH_SCHEMA = 'bench_events';
export const eventStore = eventTables(pgSchema(BENCH_SCHEMA));

/** Creates the schema and its tables in a fresh database. */
export const createEventStore = (sql: postgres.Sql) => createTestEventTables(sql, BENCH_SCHEMA);
