import { organizationCreated } from '@bilten/contracts/identity';
import type { EventConsumer } from '@bilten/platform';
import { recordTestModeOrganization } from '../db/queries.ts';

/**
 * Identity's `organizationCreated`: catalog remembers which organizations are test-mode (sandboxes
 * included), whose events only they see (access.ts `isPublic`). Live organizations need no row.
 * A redelivery finds the row and the events already marked.
 */
export const testModeOrganizationConsumer: EventConsumer<typeof organizationCreated.payload> = {
  name: 'test-mode-organizations',
  event: organizationCreated,
  async handle({ payload }, tx) {
    if (payload.testMode) await recordTestModeOrganization(tx, payload.organizationId, payload.sandboxOf);
  },
};
