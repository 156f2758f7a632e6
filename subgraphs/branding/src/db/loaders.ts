import { type Database, loaderById, loaderOfLists } from '@bilten/platform';
import { assetsByIds, assetUsesByIds } from './assets.ts';
import { brandKitsByIds, brandKitsByOrganizationIds } from './brand-kits.ts';
import { domainsByIds, domainsByOrganizationIds } from './custom-domains.ts';

export function createLoaders(db: Database) {
  return {
    customDomain: loaderById((ids) => domainsByIds(db, ids)),
    customDomainsOfOrganization: loaderOfLists(
      (ids) => domainsByOrganizationIds(db, ids),
      (row) => row.organizationId,
    ),
    asset: loaderById((ids) => assetsByIds(db, ids)),
    /** The kit fields naming each asset (`BrandAsset.usedBy`). */
    assetUses: loaderOfLists(
      (ids) => assetUsesByIds(db, ids),
      (row) => row.assetId,
    ),
    brandKit: loaderById((ids) => brandKitsByIds(db, ids)),
    brandKitOfOrganization: loaderById(
      (ids) => brandKitsByOrganizationIds(db, ids),
      (row) => row.organizationId,
    ),
  };
}
