import type { BaseContext, SubgraphContext } from '@bilten/platform';
import type { TicketKeys } from './adapters/ticket-keys.ts';
import { createLoaders } from './db/loaders.ts';
import type { OrdersPeople } from './db/person-data.ts';
import type { PaidOrderServices } from './domain/order-payments.ts';

/** Made once at start-up (see server.ts) and shared by every request. */
export interface OrdersServices {
  /** How long a reservation holds its tickets (RESERVATION_TTL_SECONDS). */
  reservationTtlSeconds: number;
  /** Signs tickets and verifies scanned ones (TICKET_KEY_ENCRYPTION_SECRET). */
  ticketKeys: TicketKeys;
  /**
   * Signs tickets and seals their links for messaging: free orders paid at checkout, as a payment
   * does (order-payments.ts), and transfers (transfers.ts).
   */
  paidOrders: PaidOrderServices;
  /** Most live guest holds one client address may have per event (GUEST_HOLDS_PER_ADDRESS). */
  guestHoldsPerAddress: number;
  /** Per-person keys and the email blind index (PERSON_KEK_KEYS, BLIND_INDEX_KEY): db/person-data.ts. */
  people: OrdersPeople;
}

export type Context = SubgraphContext<ReturnType<typeof createLoaders>> & OrdersServices;

export const createContext = (base: BaseContext, services: OrdersServices): Context => ({
  ...base,
  loaders: createLoaders(base.db),
  ...services,
});
