import { type Database, loaderById } from '@bilten/platform';
import { brandKitsByIds, brandKitsByOrganizationIds } from './queries.ts';

export function createLoaders(db: Database) {
  return {
    brandKit: loaderById((ids) => brandKitsByIds(db, ids)),
    brandKitOfOrganization: loaderById(
      (ids) => brandKitsByOrganizationIds(db, ids),
      (row) => row.organizationId,
    ),
  };
}
