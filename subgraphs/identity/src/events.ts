import { defineEvent } from '@bilten/platform';
import { z } from 'zod';

/** Published when an organization is created; branding makes its default brand kit. */
export const organizationCreated = defineEvent({
  type: 'bilten.identity.organization.created',
  aggregateType: 'organization',
  payload: z.object({ organizationId: z.uuid(), name: z.string(), slug: z.string() }),
});
