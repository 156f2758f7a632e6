import { port, serviceEnv } from '@bilten/platform';
import type { z } from 'zod';

/** Branding's variables: the kit's common ones and its port. */
export const brandingEnv = serviceEnv({
  BRANDING_PORT: port(4006),
});
export type BrandingConfig = z.infer<typeof brandingEnv>;
