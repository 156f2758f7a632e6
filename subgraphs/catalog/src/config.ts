import { fieldRateLimit, optionalUrl, port, serviceEnv } from '@bilten/platform';
import type { z } from 'zod';

/** Catalog's variables: the kit's common ones and its port. */
export const catalogEnv = serviceEnv({
  CATALOG_PORT: port(4002),
  // Searches per client (user, API key, else address), `max/seconds` or `off` (field-rate-limits.ts).
  RATE_LIMIT_SEARCH: fieldRateLimit('120/60'),
  REDIS_URL: optionalUrl,
});
export type CatalogConfig = z.infer<typeof catalogEnv>;
