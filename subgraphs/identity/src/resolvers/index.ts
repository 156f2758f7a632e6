import { organizationBySlug } from '../db/queries.ts';
import { discardDeadLetter, listDeadLetters, replayDeadLetters } from '../domain/dead-letters.ts';
import { createOrganization } from '../domain/organizations.ts';
import { createUser } from '../domain/users.ts';
import type { Resolvers } from '../generated/graphql.ts';

export const resolvers: Resolvers = {
  Query: {
    user: (_, { id }, { loaders }) => loaders.user.load(id),
    organization: (_, { id }, { loaders }) => loaders.organization.load(id),
    organizationBySlug: async (_, { slug }, { db }) => (await organizationBySlug(db, slug)) ?? null,
    deadLetters: (_, args, { viewer, bus }) => listDeadLetters(viewer, bus, args),
  },
  Mutation: {
    createUser: (_, { input }, { db }) => createUser(db, input),
    createOrganization: (_, { input }, { db, outbox }) => createOrganization(db, outbox, input),
    replayDeadLetters: (_, { input }, { viewer, bus, log }) => replayDeadLetters(viewer, bus, log, input),
    discardDeadLetter: (_, { input }, { viewer, bus, log }) => discardDeadLetter(viewer, bus, log, input),
  },
  DeadLetter: {
    consumer: (letter) => letter.durableName,
    eventId: (letter) => letter.eventId ?? null,
    type: (letter) => letter.type ?? null,
    failedAt: (letter) => new Date(letter.failedAt),
    payload: (letter) => letter.data,
  },
  User: {
    __resolveReference: ({ id }, { loaders }) => loaders.user.load(id),
  },
  Organization: {
    __resolveReference: ({ id }, { loaders }) => loaders.organization.load(id),
  },
};
