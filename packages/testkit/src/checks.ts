/** Assertions for vitest tests: imported from `@bilten/testkit/checks`, apart from the rest, so benchmarks can load the testkit without vitest. */
import { looksLikeCardNumber } from '@bilten/platform';
import type postgres from 'postgres';
import { expect } from 'vitest';
import type { UserError } from './generated/shared.ts';
import type { CallerHeaders, TestSubgraph } from './subgraph.ts';

/** At least one INVALID_INPUT error, every one of them on `['input', ...field]`. */
export function expectFieldErrors(errors: UserError[], field: string[]) {
  expect(errors.length).toBeGreaterThan(0);
  for (const error of errors)
    expect(error).toEqual({ code: 'INVALID_INPUT', message: expect.any(String), field: ['input', ...field] });
}

/** How many rows `table` (schema-qualified, e.g. `orders.orders`) holds now. */
export async function rowCount(sql: postgres.Sql, table: string): Promise<number> {
  const [row] = await sql<{ count: number }[]>`select count(*)::int as count from ${sql(table)}`;
  return row!.count;
}

/** Federation `_entities` for these representations, each answered with `selection` (e.g. `... on Order { id }`). */
export function queryEntities<E = Record<string, unknown>>(
  subgraph: Pick<TestSubgraph, 'gql'>,
  representations: Array<{ __typename: string; id: string }>,
  selection: string,
  headers?: CallerHeaders,
) {
  return subgraph.gql<{ _entities: Array<E | null> }>(
    `query($representations: [_Any!]!) { _entities(representations: $representations) { ${selection} } }`,
    { representations },
    headers,
  );
}

/**
 * PCI DSS: no card-like number (Luhn-valid, 12–19 digits, grouped or not) in any of `captured`:
 * log lines (`captureLogs().lines` or raw text), table rows, answers. Fails naming where, masked.
 */
export function expectNoCardNumbers(captured: ReadonlyArray<unknown>, what = 'captured output') {
  const found = captured.flatMap((item, index) => {
    const text = typeof item === 'string' ? item : JSON.stringify(item);
    return text !== undefined && looksLikeCardNumber(text) ? [`#${index}`] : [];
  });
  expect(found, `card-like numbers in ${what} at ${found.join(', ')}`).toEqual([]);
}

/**
 * `expectNoCardNumbers` over every row of every table of these schemas (e.g. `['billing']`): what
 * the issue asks of the database after a flow.
 */
export async function expectNoCardNumbersInTables(sql: postgres.Sql, schemas: string[]) {
  const tables = await sql<{ name: string }[]>`
    select table_schema || '.' || table_name as name from information_schema.tables
    where table_schema in ${sql(schemas)} and table_type = 'BASE TABLE' order by 1`;
  for (const { name } of tables) {
    const rows = await sql`select * from ${sql(name)}`;
    expectNoCardNumbers(rows, name);
  }
}
