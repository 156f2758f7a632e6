/** Assertions for vitest tests: imported from `@bilten/testkit/checks`, apart from the rest, so benchmarks can load the testkit without vitest. */
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
