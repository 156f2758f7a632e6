import { defineEvent } from '@bilten/platform';
import { z } from 'zod';

/** Published when an organization is created; branding makes its default brand kit. */
export const organizationCreated = defineEvent(
  'bilten.identity.organization.created',
  z.object({ organizationId: z.uuid(), name: z.string(), slug: z.string() }),
);
