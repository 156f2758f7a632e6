import { defineSubgraph } from '@bilten/platform';
import { createContext } from './context.ts';
import { eventStore } from './db/schema.ts';
import { transactionalMailConsumers } from './domain/transactional-mail.ts';
import { resolvers } from './resolvers/index.ts';

export const messagingSubgraph = defineSubgraph({
  name: 'messaging',
  directory: new URL('../', import.meta.url),
  resolvers,
  eventTables: eventStore,
  createContext,
  consumers: transactionalMailConsumers,
});
