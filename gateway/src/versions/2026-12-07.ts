import type { DatedVersion } from './index.ts';

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** The answer without the `object` members this version added (no resource selects a field of that name). */
function withoutObjectNames(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutObjectNames);
  if (!isPlainObject(value)) return value;
  const copy: Record<string, unknown> = {};
  for (const [key, member] of Object.entries(value)) {
    if (key !== 'object') copy[key] = withoutObjectNames(member);
  }
  return copy;
}

/**
 * Every resource names its type. Worth a date, not only an addition: the answers' documented
 * schemas are closed (`additionalProperties: false`), so a client generated from the 2026-12-06
 * document that validates answers would reject a member it does not know.
 */
export default {
  version: '2026-12-07',
  changes: [
    {
      title: 'Every resource and list says what it is in `object`',
      description:
        'Each resource in an answer, nested ones included, carries `object` next to its `id`, naming its type in snake case (`event`, `ticket_type`, `order`, `ticket`, `organization_member`, …); every list answer carries `object: "list"`. A client can dispatch on any answer (a webhook payload, an idempotent replay, a log line) without knowing which route produced it. Keys pinned on 2026-12-06 get answers without `object`.',
    },
    {
      title: 'Event lists leave out `description`, for every version',
      description:
        "A list of events no longer carries each event's `description` (up to 100,000 characters): its worst case put a page of 20 over the query-cost limit, so `GET /events` at its default `limit` answered 400 on 2026-12-06 too. Read one event (`GET /events/{id}`) for its description. The one change that is not kept from older versions: no version can answer what the list no longer reads, and the route could not serve its default page before.",
    },
  ],
  transformers: { '*': withoutObjectNames },
} satisfies DatedVersion;
