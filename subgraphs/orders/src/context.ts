import type { BaseContext, SubgraphContext } from '@bilten/platform';
import type { TicketKeys } from './adapters/ticket-keys.ts';
import { createLoaders } from './db/loaders.ts';

/** Made once at start-up (see server.ts) and shared by every request. */
export interface OrdersServices {
  /** How long a reservation holds its tickets (RESERVATION_TTL_SECONDS). */
  reservationTtlSeconds: number;
  /** Signs tickets and verifies scanned ones (TICKET_KEY_ENCRYPTION_SECRET). */
  ticketKeys: TicketKeys;
}

export type Context = SubgraphContext<ReturnType<typeof createLoaders>> & OrdersServices;

export const createContext = (base: BaseContext, services: OrdersServices): Context => ({
  ...base,
  loaders: createLoaders(base.db),
  ...services,
});
