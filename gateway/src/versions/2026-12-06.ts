import type { DatedVersion } from './index.ts';

/** The REST facade as it was first released: the oldest version, so nothing to transform into. */
export default {
  version: '2026-12-06',
  changes: [
    {
      title: 'The REST facade',
      description:
        'Events, ticket types, reservations, orders, tickets, check-ins and organization members under `/api/v1`, each route one operation of the GraphQL API; problem details for errors; `Idempotency-Key` on every POST.',
    },
  ],
  transformers: {},
} satisfies DatedVersion;
