import { defineSubgraph } from '@bilten/platform';
import { billingEnv } from './config.ts';
import { createContext } from './context.ts';
import { eventStore } from './db/schema.ts';
import { resolvers } from './resolvers/index.ts';

export const billingSubgraph = defineSubgraph({
  name: 'billing',
  directory: new URL('../', import.meta.url),
  config: billingEnv,
  port: (config) => config.BILLING_PORT,
  resolvers,
  eventTables: eventStore,
  createContext,
});
