import { organizationCreated, organizationUpdated } from '@bilten/contracts/identity';
import type { EventConsumer } from '@bilten/platform';
import { recordOrganizationCreated, recordOrganizationUpdated } from '../db/organizations.ts';

// Billing's copy of identity's organizations: the seller on receipts, the prefix of their numbers,
// and whether the organization takes Sandbox payments only. The two events may arrive in either
// order (two consumers), so each writes only what it owns (db/organizations.ts).

export const organizationCreatedConsumer: EventConsumer<typeof organizationCreated.payload> = {
  name: 'organizations-created',
  event: organizationCreated,
  groupCommit: true,
  async handle({ payload, occurredAt }, tx) {
    await recordOrganizationCreated(tx, {
      id: payload.organizationId,
      name: payload.name,
      slug: payload.slug,
      testMode: payload.testMode,
      occurredAt: new Date(occurredAt),
    });
  },
};

export const organizationUpdatedConsumer: EventConsumer<typeof organizationUpdated.payload> = {
  name: 'organizations-updated',
  event: organizationUpdated,
  groupCommit: true,
  async handle({ payload, occurredAt }, tx) {
    await recordOrganizationUpdated(tx, {
      id: payload.organizationId,
      name: payload.name,
      slug: payload.slug,
      occurredAt: new Date(occurredAt),
    });
  },
};
