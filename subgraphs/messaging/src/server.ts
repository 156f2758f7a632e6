import { defineSubgraph } from '@bilten/platform';
import { messagingEnv } from './config.ts';
import { createContext } from './context.ts';
import { eventStore } from './db/schema.ts';
import { consumers } from './events.ts';
import { resolvers } from './resolvers/index.ts';

export const messagingSubgraph = defineSubgraph({
  name: 'messaging',
  directory: new URL('../', import.meta.url),
  config: messagingEnv,
  port: (config) => config.MESSAGING_PORT,
  resolvers,
  eventTables: eventStore,
  createContext,
  consumers,
});
