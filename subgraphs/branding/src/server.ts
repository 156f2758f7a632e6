import { defineSubgraph, loadTypeDefs } from '@bilten/platform';
import { createContext } from './context.ts';
import { defaultBrandKitConsumer } from './domain/brand-kits.ts';
import { resolvers } from './resolvers/index.ts';

export const brandingSubgraph = defineSubgraph({
  name: 'branding',
  typeDefs: loadTypeDefs(new URL('../schema.graphql', import.meta.url)),
  resolvers,
  migrations: new URL('../drizzle', import.meta.url),
  createContext,
  consumers: ({ db }) => [defaultBrandKitConsumer(db)],
});
