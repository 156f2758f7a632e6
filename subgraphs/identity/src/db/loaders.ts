import { type Database, loaderById, type PersonKeys } from '@bilten/platform';
import { usersByIds } from './accounts.ts';
import { organizationsByIds } from './organizations.ts';
import { sandboxesOf } from './sandboxes.ts';

export function createLoaders(db: Database, keys: PersonKeys) {
  return {
    user: loaderById((ids) => usersByIds(db, keys, ids)),
    organization: loaderById((ids) => organizationsByIds(db, ids)),
    /** By the live organization's id. */
    sandbox: loaderById(
      (ids) => sandboxesOf(db, ids),
      (sandbox) => sandbox.sandboxOf!,
    ),
  };
}
