import { defineSubgraph } from '@bilten/platform';
import { createTicketKeys } from './adapters/ticket-keys.ts';
import { ordersEnv } from './config.ts';
import { createContext, type OrdersServices } from './context.ts';
import { eventStore } from './db/schema.ts';
import { consumers } from './events.ts';
import { resolvers } from './resolvers/index.ts';

export const ordersSubgraph = defineSubgraph({
  name: 'orders',
  directory: new URL('../', import.meta.url),
  config: ordersEnv,
  port: (config) => config.ORDERS_PORT,
  resolvers,
  eventTables: eventStore,
  createContext,
  consumers,
  async setup({ config, db, log }) {
    const ticketKeys = createTicketKeys(config);
    await ticketKeys.ensureKey(db, log);
    const services: OrdersServices = { reservationTtlSeconds: config.RESERVATION_TTL_SECONDS, ticketKeys };
    return { services };
  },
});
