import { defineSubgraph } from '@bilten/platform';
import { catalogEnv } from './config.ts';
import { createContext } from './context.ts';
import { eventStore } from './db/schema.ts';
import * as published from './events.ts';
import { consumers } from './events.ts';
import { resolvers } from './resolvers/index.ts';

export const catalogSubgraph = defineSubgraph({
  name: 'catalog',
  directory: new URL('../', import.meta.url),
  config: catalogEnv,
  port: (config) => config.CATALOG_PORT,
  resolvers,
  eventTables: eventStore,
  createContext,
  consumers,
  securityEvents: published.securityEventsRecorded,
  fieldRateLimits: (config) => ({
    redisUrl: config.REDIS_URL,
    fields: { 'Query.events': { limit: config.RATE_LIMIT_SEARCH, per: 'client' } },
  }),
});
