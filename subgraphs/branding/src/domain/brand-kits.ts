import {
  type Database,
  type EventConsumer,
  requireOrgRole,
  requireUser,
  type UserError,
  userErrorsFrom,
  uuidInput,
  type Viewer,
} from '@bilten/platform';
import { v7 as uuidv7 } from 'uuid';
import { z } from 'zod';
import { insertBrandKitOnce, updateBrandKitOf } from '../db/queries.ts';
import type { BrandKitRow } from '../db/schema.ts';
import { organizationCreated } from '../events.ts';

export const DEFAULT_BRAND = { primaryColor: '#1F2937', accentColor: '#2563EB', logoUrl: null };

const hexColour = z.string().regex(/^#[0-9A-Fa-f]{6}$/, 'must be a hex colour like #1A2B3C');

const updateBrandKitInput = z.object({
  organizationId: uuidInput,
  primaryColor: hexColour.nullish(),
  accentColor: hexColour.nullish(),
  logoUrl: z
    .url({
      protocol: /^https$/,
      hostname: z.regexes.domain,
      error: 'must be an https URL with a domain name',
    })
    .max(2048, 'must be at most 2048 characters')
    .transform((url) => new URL(url).href)
    .nullish(),
});

/** ADMINs and OWNERs of the organization restyle its brand. */
export async function updateBrandKit(
  viewer: Viewer,
  db: Database,
  input: unknown,
): Promise<{ brandKit: BrandKitRow | null; errors: UserError[] }> {
  requireUser(viewer);
  const parsed = updateBrandKitInput.safeParse(input);
  if (!parsed.success) return { brandKit: null, errors: userErrorsFrom(parsed.error) };
  const { organizationId, primaryColor, accentColor, logoUrl } = parsed.data;
  requireOrgRole(viewer, organizationId, 'ADMIN');
  const brandKit = await updateBrandKitOf(db, organizationId, {
    ...(primaryColor ? { primaryColor: primaryColor.toUpperCase() } : {}),
    ...(accentColor ? { accentColor: accentColor.toUpperCase() } : {}),
    ...(logoUrl !== undefined ? { logoUrl } : {}),
  });
  if (!brandKit) {
    return {
      brandKit: null,
      errors: [
        {
          code: 'NOT_FOUND',
          message: 'this organization has no brand kit',
          field: ['input', 'organizationId'],
        },
      ],
    };
  }
  return { brandKit, errors: [] };
}

/** Every new organization starts with the default brand. */
export const defaultBrandKitConsumer: EventConsumer<typeof organizationCreated.payload> = {
  name: 'default-brand-kit',
  event: organizationCreated,
  // A single insert through `tx`: safe to share a transaction with other organizations' events.
  groupCommit: true,
  async handle(event, tx) {
    await insertBrandKitOnce(tx, {
      id: uuidv7(),
      organizationId: event.payload.organizationId,
      ...DEFAULT_BRAND,
    });
  },
};
