import { brandKitChanged } from '@bilten/contracts/branding';
import { organizationCreated } from '@bilten/contracts/identity';
import {
  type EventConsumer,
  mutationRule,
  type Outbox,
  requireOrgRole,
  requireUser,
  type Transaction,
  type UserError,
  uuidInput,
} from '@bilten/platform';
import { v7 as uuidv7 } from 'uuid';
import { z } from 'zod';
import type { Context } from '../context.ts';
import { insertBrandKitOnce, updateBrandKitOf } from '../db/queries.ts';
import type { BrandKitRow } from '../db/schema.ts';

export const DEFAULT_BRAND = { primaryColor: '#1F2937', accentColor: '#2563EB' };

const hexColour = z.string().regex(/^#[0-9A-Fa-f]{6}$/, 'must be a hex colour like #1A2B3C');

const updateBrandKitInput = z.object({
  organizationId: uuidInput,
  primaryColor: hexColour.nullish(),
  accentColor: hexColour.nullish(),
});

interface UpdateBrandKitResult {
  brandKit: BrandKitRow | null;
  errors: UserError[];
  findings: [];
}

/** Tells messaging (which styles the organization's mails) the kit as it now is, in the change's transaction. */
const announceKit = (tx: Transaction, outbox: Outbox, kit: BrandKitRow) =>
  outbox.publish(tx, brandKitChanged, kit.id, {
    organizationId: kit.organizationId,
    primaryColor: kit.primaryColor.toUpperCase(),
    accentColor: kit.accentColor.toUpperCase(),
    logoUrl: null,
    changedAt: kit.updatedAt.toISOString(),
  });

/** ADMINs and OWNERs of the organization restyle its brand. */
export const updateBrandKit = mutationRule(
  {
    input: updateBrandKitInput,
    caller: requireUser,
    invalid: (errors): UpdateBrandKitResult => ({ brandKit: null, errors, findings: [] }),
  },
  async (
    ctx: Pick<Context, 'db' | 'viewer' | 'outbox'>,
    { organizationId, primaryColor, accentColor },
  ): Promise<UpdateBrandKitResult> => {
    requireOrgRole(ctx.viewer, organizationId, 'ADMIN');
    const brandKit = await ctx.db.transaction(async (tx) => {
      const kit = await updateBrandKitOf(tx, organizationId, {
        ...(primaryColor ? { primaryColor: primaryColor.toUpperCase() } : {}),
        ...(accentColor ? { accentColor: accentColor.toUpperCase() } : {}),
      });
      if (kit) await announceKit(tx, ctx.outbox, kit);
      return kit;
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
        findings: [],
      };
    }
    return { brandKit, errors: [], findings: [] };
  },
);

/** `BrandKit` references. Anyone may read a brand kit: it styles public pages. */
export function brandKitById(
  ctx: Pick<Context, 'loaders'>,
  { id }: { id: string },
): Promise<BrandKitRow | null> {
  return ctx.loaders.brandKit.load(id);
}

/** `brandKit(organizationId:)` and `Organization.branding`, for anyone, like `brandKitById`. */
export function brandKitOf(
  ctx: Pick<Context, 'loaders'>,
  { organizationId }: { organizationId: string },
): Promise<BrandKitRow | null> {
  return ctx.loaders.brandKitOfOrganization.load(organizationId);
}

/** Every new organization starts with the default brand, announced like any later change. */
export function defaultBrandKitConsumer(outbox: Outbox): EventConsumer {
  const consumer: EventConsumer<typeof organizationCreated.payload> = {
    name: 'default-brand-kit',
    event: organizationCreated,
    // Only statements through `tx` (the insert and its outbox row): safe to share a transaction
    // with other organizations' events.
    groupCommit: true,
    async handle(event, tx) {
      const kit = await insertBrandKitOnce(tx, {
        id: uuidv7(),
        organizationId: event.payload.organizationId,
        ...DEFAULT_BRAND,
      });
      // A replay inserts nothing and so announces nothing again.
      if (kit) await announceKit(tx, outbox, kit);
    },
  };
  return consumer as EventConsumer;
}
