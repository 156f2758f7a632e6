import { type Database, loaderById } from '@bilten/platform';
import { organizationsByIds, usersByIds } from './queries.ts';

export function createLoaders(db: Database) {
  return {
    user: loaderById((ids) => usersByIds(db, ids)),
    organization: loaderById((ids) => organizationsByIds(db, ids)),
  };
}
