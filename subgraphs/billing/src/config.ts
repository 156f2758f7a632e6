import { port, serviceEnv } from '@bilten/platform';
import type { z } from 'zod';

/** Billing's variables: the kit's common ones and its port. */
export const billingEnv = serviceEnv({
  BILLING_PORT: port(4004),
});
export type BillingConfig = z.infer<typeof billingEnv>;
