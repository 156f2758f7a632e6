import DataLoader from 'dataloader';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(value: string): boolean {
  return UUID.test(value);
}

/** PostgreSQL prints UUIDs in lower case; a client may send them in either. */
const normalId = (id: string) => id.toLowerCase();

async function fetchValid<Row>(ids: readonly string[], fetchRows: (ids: string[]) => Promise<Row[]>) {
  const valid = [...new Set(ids.filter(isUuid).map(normalId))];
  return valid.length ? fetchRows(valid) : [];
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
    const byKey = new Map((await fetchValid(ids, fetchRows)).map((row) => [keyOf(row), row]));
    return ids.map((id) => byKey.get(normalId(id)) ?? null);
  });
}

/** Like `loaderById`, for one-to-many relations: every id gets the (possibly empty) list of its rows. */
export function loaderOfLists<Row>(
  fetchRows: (ids: string[]) => Promise<Row[]>,
  keyOf: (row: Row) => string,
): DataLoader<string, Row[]> {
  return new DataLoader(async (ids) => {
    const byKey = new Map<string, Row[]>();
    for (const row of await fetchValid(ids, fetchRows))
      byKey.set(keyOf(row), [...(byKey.get(keyOf(row)) ?? []), row]);
    return ids.map((id) => byKey.get(normalId(id)) ?? []);
  });
}
