import { defineSubgraph } from '@bilten/platform';
import { brandingEnv } from './config.ts';
import { createContext } from './context.ts';
import { eventStore } from './db/schema.ts';
import { consumers } from './events.ts';
import { resolvers } from './resolvers/index.ts';

export const brandingSubgraph = defineSubgraph({
  name: 'branding',
  directory: new URL('../', import.meta.url),
  config: brandingEnv,
  port: (config) => config.BRANDING_PORT,
  resolvers,
  eventTables: eventStore,
  createContext,
  consumers,
});
