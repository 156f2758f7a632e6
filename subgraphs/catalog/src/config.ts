import { port, serviceEnv } from '@bilten/platform';
import type { z } from 'zod';

/** Catalog's variables: the kit's common ones and its port. */
export const catalogEnv = serviceEnv({
  CATALOG_PORT: port(4002),
});
export type CatalogConfig = z.infer<typeof catalogEnv>;
