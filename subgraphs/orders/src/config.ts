import { port, serviceEnv } from '@bilten/platform';
import { z } from 'zod';

/** Orders' variables: the kit's common ones, its port, and how long reservations hold tickets. */
export const ordersEnv = serviceEnv({
  ORDERS_PORT: port(4003),
  RESERVATION_TTL_SECONDS: z.coerce.number().int().min(1).max(86_400).default(600),
});
export type OrdersConfig = z.infer<typeof ordersEnv>;
