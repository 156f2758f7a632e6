import { randomUUID } from 'node:crypto';
import type { personalDataErasedPayload, personalDataExportedPayload } from '@bilten/contracts';
import { accountErasureRequested, dataExportRequested } from '@bilten/contracts/identity';
import {
  createExportKeyPair,
  type DomainEvent,
  type EventBus,
  type EventDefinition,
  newEvent,
  openExportPart,
} from '@bilten/platform';
import type postgres from 'postgres';
import type { z } from 'zod';
import { recordEvents } from './bus.ts';
import { waitFor } from './graphql.ts';

type Erasure = z.output<typeof accountErasureRequested.payload>;

/**
 * Identity's side of a subgraph's privacy-request step (issue 18), for the subgraph's own tests:
 * asks for an export or an erasure the way identity does and waits for the subgraph's answer.
 */
export async function privacyRequests(
  bus: EventBus,
  answers: {
    exported: EventDefinition<typeof personalDataExportedPayload>;
    erased: EventDefinition<typeof personalDataErasedPayload>;
  },
) {
  const exported = await recordEvents(bus, answers.exported);
  const erased = await recordEvents(bus, answers.erased);
  const answersTo = (requestId: string) => erased.filter((event) => event.payload.requestId === requestId);
  return {
    exported,
    erased,
    /** The subgraph's part of the user's export, opened with the request's private key. */
    async exportOf(userId: string): Promise<Record<string, unknown>> {
      const requestId = randomUUID();
      const { publicKey, privateKey } = createExportKeyPair();
      await bus.publish(newEvent(dataExportRequested, requestId, 1, { requestId, userId, publicKey }));
      const answer = await waitFor(async () =>
        exported.find((event) => event.payload.requestId === requestId),
      );
      return openExportPart(privateKey, answer.payload.sealedPart) as Record<string, unknown>;
    },
    /** The request event itself, to publish (and redeliver) with `erase`. */
    erasureRequest: (subject: { userId: string; email: string }): DomainEvent<Erasure> => {
      const requestId = randomUUID();
      return newEvent(accountErasureRequested, requestId, 1, { requestId, ...subject });
    },
    /** Publishes the request and resolves with the summary of the subgraph's (first) answer. */
    async erase(request: DomainEvent<Erasure>): Promise<Record<string, number>> {
      await bus.publish(request);
      const [answer] = await waitFor(
        async () => answersTo(request.payload.requestId).length > 0 && answersTo(request.payload.requestId),
      );
      return answer!.payload.summary;
    },
    answersTo,
  };
}

/**
 * Where any of `needles` (an email, a name, a phone number) is still readable in the schemas:
 * `schema.table.column` of every text, varchar, jsonb or array column holding one, compared case-insensitively.
 */
export async function personalDataLeftIn(
  sql: postgres.Sql,
  schemas: string[],
  needles: string[],
): Promise<string[]> {
  const columns = await sql<Array<{ schema: string; table: string; column: string }>>`
    select c.table_schema as schema, c.table_name as table, c.column_name as column
    from information_schema.columns c
      join information_schema.tables t on t.table_schema = c.table_schema and t.table_name = c.table_name
    where c.table_schema in ${sql(schemas)} and t.table_type = 'BASE TABLE'
      and (c.data_type in ('text', 'character varying', 'jsonb', 'json', 'ARRAY'))
    order by 1, 2, 3`;
  const found: string[] = [];
  for (const { schema, table, column } of columns) {
    for (const needle of needles) {
      const [hit] = await sql`
        select 1 from ${sql(schema)}.${sql(table)}
        where position(${needle.toLowerCase()} in lower(${sql(column)}::text)) > 0 limit 1`;
      if (hit) found.push(`${schema}.${table}.${column} has "${needle}"`);
    }
  }
  return found;
}
