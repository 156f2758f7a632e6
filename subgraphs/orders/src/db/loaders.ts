import { type Database, loaderById } from '@bilten/platform';
import { ordersByIds } from './queries.ts';

export function createLoaders(db: Database) {
  return {
    order: loaderById((ids) => ordersByIds(db, ids)),
  };
}
