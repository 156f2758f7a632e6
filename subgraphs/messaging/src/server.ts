import { defineSubgraph } from '@bilten/platform';
import { createContext } from './context.ts';
import { resolvers } from './resolvers/index.ts';

export const messagingSubgraph = defineSubgraph({
  name: 'messaging',
  directory: new URL('../', import.meta.url),
  resolvers,
  createContext,
});
