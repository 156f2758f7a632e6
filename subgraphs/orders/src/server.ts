import { defineSubgraph, loadTypeDefs } from '@bilten/platform';
import { createContext } from './context.ts';
import { resolvers } from './resolvers/index.ts';

export const ordersSubgraph = defineSubgraph({
  name: 'orders',
  typeDefs: loadTypeDefs(new URL('../schema.graphql', import.meta.url)),
  resolvers,
  migrations: new URL('../drizzle', import.meta.url),
  createContext,
});
