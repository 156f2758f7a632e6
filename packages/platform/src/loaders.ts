import DataLoader from 'dataloader';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(value: string): boolean {
  return UUID.test(value);
}

/**
 * One query per request tick for all ids asked of an entity (federation's `_entities` and
 * nested fields), with results in the order asked; ids that are not UUIDs are simply not found.
 */
export function loaderById<Row>(
  fetchRows: (ids: string[]) => Promise<Row[]>,
  keyOf: (row: Row) => string = (row) => (row as { id: string }).id,
): DataLoader<string, Row | null> {
  return new DataLoader(async (ids) => {
    const valid = ids.filter(isUuid);
    const rows = valid.length ? await fetchRows([...new Set(valid)]) : [];
    const byKey = new Map(rows.map((row) => [keyOf(row), row]));
    return ids.map((id) => byKey.get(id) ?? null);
  });
}

/** Like `loaderById`, for one-to-many relations: every id gets the (possibly empty) list of its rows. */
export function loaderOfLists<Row>(
  fetchRows: (ids: string[]) => Promise<Row[]>,
  keyOf: (row: Row) => string,
): DataLoader<string, Row[]> {
  return new DataLoader(async (ids) => {
    const valid = ids.filter(isUuid);
    const rows = valid.length ? await fetchRows([...new Set(valid)]) : [];
    const byKey = new Map<string, Row[]>();
    for (const row of rows) byKey.set(keyOf(row), [...(byKey.get(keyOf(row)) ?? []), row]);
    return ids.map((id) => byKey.get(id) ?? []);
  });
}
