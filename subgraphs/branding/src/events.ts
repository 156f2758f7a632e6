import { defineEvent } from '@bilten/platform';
import { z } from 'zod';

/** Consumed from identity: branding's own view of the contract (no imports across subgraphs). */
export const organizationCreated = defineEvent({
  type: 'bilten.identity.organization.created',
  aggregateType: 'organization',
  payload: z.object({ organizationId: z.uuid(), name: z.string(), slug: z.string() }),
});
