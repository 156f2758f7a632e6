import { defineSubgraph } from '@bilten/platform';
import { createContext } from './context.ts';
import { eventStore } from './db/schema.ts';
import { resolvers } from './resolvers/index.ts';

export const ordersSubgraph = defineSubgraph({
  name: 'orders',
  directory: new URL('../', import.meta.url),
  resolvers,
  eventTables: eventStore,
  createContext,
});
