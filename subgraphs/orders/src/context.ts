import type { BaseContext, SubgraphContext } from '@bilten/platform';
import { createLoaders } from './db/loaders.ts';

/** Made once at start-up (see server.ts) and shared by every request. */
export interface OrdersServices {
  /** How long a reservation holds its tickets (RESERVATION_TTL_SECONDS). */
  reservationTtlSeconds: number;
}

export type Context = SubgraphContext<ReturnType<typeof createLoaders>> & OrdersServices;

export const createContext = (base: BaseContext, services: OrdersServices): Context => ({
  ...base,
  loaders: createLoaders(base.db),
  ...services,
});
