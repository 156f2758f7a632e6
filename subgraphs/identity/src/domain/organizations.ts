import {
  createEvent,
  type Database,
  displayText,
  type EventBus,
  slug,
  type UserError,
  userErrorsFrom,
} from '@bilten/platform';
import { v7 as uuidv7 } from 'uuid';
import { z } from 'zod';
import { insertOrganization } from '../db/queries.ts';
import type { OrganizationRow } from '../db/schema.ts';
import { organizationCreated } from '../events.ts';

const createOrganizationInput = z.object({ name: displayText(100), slug });

export async function createOrganization(
  db: Database,
  bus: EventBus,
  input: unknown,
): Promise<{ organization: OrganizationRow | null; errors: UserError[] }> {
  const parsed = createOrganizationInput.safeParse(input);
  if (!parsed.success) return { organization: null, errors: userErrorsFrom(parsed.error) };
  const organization = await insertOrganization(db, { id: uuidv7(), ...parsed.data });
  if (!organization) {
    return {
      organization: null,
      errors: [{ code: 'ALREADY_EXISTS', message: 'this slug is taken', field: ['input', 'slug'] }],
    };
  }
  // Published after commit for now; the transactional outbox (issue 3) closes the crash window.
  await bus.publish(
    createEvent(organizationCreated, {
      organizationId: organization.id,
      name: organization.name,
      slug: organization.slug,
    }),
  );
  return { organization, errors: [] };
}
