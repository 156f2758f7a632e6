import { type Database, loaderById } from '@bilten/platform';
import { usersByIds } from './accounts.ts';
import { organizationsByIds } from './organizations.ts';

export function createLoaders(db: Database) {
  return {
    user: loaderById((ids) => usersByIds(db, ids)),
    organization: loaderById((ids) => organizationsByIds(db, ids)),
  };
}
