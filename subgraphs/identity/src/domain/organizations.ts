import {
  type Database,
  displayText,
  type Outbox,
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
  outbox: Outbox,
  input: unknown,
): Promise<{ organization: OrganizationRow | null; errors: UserError[] }> {
  const parsed = createOrganizationInput.safeParse(input);
  if (!parsed.success) return { organization: null, errors: userErrorsFrom(parsed.error) };
  const organization = await db.transaction(async (tx) => {
    const created = await insertOrganization(tx, { id: uuidv7(), ...parsed.data });
    if (created) {
      await outbox.publish(tx, organizationCreated, created.id, {
        organizationId: created.id,
        name: created.name,
        slug: created.slug,
      });
    }
    return created;
  });
  if (!organization) {
    return {
      organization: null,
      errors: [{ code: 'ALREADY_EXISTS', message: 'this slug is taken', field: ['input', 'slug'] }],
    };
  }
  return { organization, errors: [] };
}
