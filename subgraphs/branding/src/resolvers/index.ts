import { brandKitById, brandKitOf, updateBrandKit } from '../domain/brand-kits.ts';
import type { Resolvers } from '../generated/graphql.ts';

export const resolvers: Resolvers = {
  Query: {
    brandKit: (_, args, ctx) => brandKitOf(ctx, args),
  },
  Mutation: {
    updateBrandKit: (_, { input }, ctx) => updateBrandKit(ctx, input),
  },
  BrandKit: {
    __resolveReference: (reference, ctx) => brandKitById(ctx, reference),
    organization: (kit) => ({ id: kit.organizationId }),
  },
  Organization: {
    // Filled in with custom domains (issue 17).
    customDomains: () => [],
    branding: (organization, _, ctx) => brandKitOf(ctx, { organizationId: organization.id }),
  },
};
