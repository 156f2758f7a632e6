import { port, serviceEnv } from '@bilten/platform';
import type { z } from 'zod';

/** Orders' variables: the kit's common ones and its port. */
export const ordersEnv = serviceEnv({
  ORDERS_PORT: port(4003),
});
export type OrdersConfig = z.infer<typeof ordersEnv>;
