import { updateBrandKit } from '../domain/brand-kits.ts';
import type { Resolvers } from '../generated/graphql.ts';

export const resolvers: Resolvers = {
  Query: {
    brandKit: (_, { organizationId }, { loaders }) => loaders.brandKitOfOrganization.load(organizationId),
  },
  Mutation: {
    updateBrandKit: (_, { input }, { viewer, db }) => updateBrandKit(viewer, db, input),
  },
  BrandKit: {
    __resolveReference: ({ id }, { loaders }) => loaders.brandKit.load(id),
    organization: (kit) => ({ id: kit.organizationId }),
  },
  Organization: {
    branding: (organization, _, { loaders }) => loaders.brandKitOfOrganization.load(organization.id),
  },
};
