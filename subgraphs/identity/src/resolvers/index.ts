import { organizationBySlug } from '../db/queries.ts';
import { createOrganization } from '../domain/organizations.ts';
import { createUser } from '../domain/users.ts';
import type { Resolvers } from '../generated/graphql.ts';

export const resolvers: Resolvers = {
  Query: {
    user: (_, { id }, { loaders }) => loaders.user.load(id),
    organization: (_, { id }, { loaders }) => loaders.organization.load(id),
    organizationBySlug: async (_, { slug }, { db }) => (await organizationBySlug(db, slug)) ?? null,
  },
  Mutation: {
    createUser: (_, { input }, { db }) => createUser(db, input),
    createOrganization: (_, { input }, { db, outbox }) => createOrganization(db, outbox, input),
  },
  User: {
    __resolveReference: ({ id }, { loaders }) => loaders.user.load(id),
  },
  Organization: {
    __resolveReference: ({ id }, { loaders }) => loaders.organization.load(id),
  },
};
