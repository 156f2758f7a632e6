import { defineSubgraph } from '@bilten/platform';
import { createContext } from './context.ts';
import { eventStore } from './db/schema.ts';
import { defaultBrandKitConsumer } from './domain/brand-kits.ts';
import { resolvers } from './resolvers/index.ts';

export const brandingSubgraph = defineSubgraph({
  name: 'branding',
  directory: new URL('../', import.meta.url),
  resolvers,
  eventTables: eventStore,
  createContext,
  consumers: () => [defaultBrandKitConsumer],
});
