import { organizationCreated } from '@bilten/contracts/identity';
import {
  DomainError,
  decodeCursor,
  type EventConsumer,
  isUuid,
  mutationRule,
  type Outbox,
  pageSize,
  requireOrgRole,
  requireUser,
  type Transaction,
  toConnection,
  type UserError,
  userErrorsFrom,
  uuidInput,
} from '@bilten/platform';
import { v7 as uuidv7 } from 'uuid';
import { z } from 'zod';
import type { BrandingConfig } from '../config.ts';
import type { Context } from '../context.ts';
import { assetsByIds } from '../db/assets.ts';
import {
  brandKitOfOrganization,
  brandKitVersionOf,
  brandKitVersionsOf,
  insertBrandKitOnce,
  insertBrandKitVersion,
  lockAssetsForKit,
  lockBrandKitOf,
  saveBrandKitSettings,
} from '../db/brand-kits.ts';
import {
  type AssetRow,
  BRAND_FONTS,
  type BrandKitRow,
  type BrandKitSettings,
  TICKET_LAYOUTS,
} from '../db/schema.ts';
import { announceBrandedContext } from './branded-context.ts';
import { assetIdsOf, checkGuidelines, errorsOf, type GuidelineFinding, warningsOf } from './guidelines.ts';

export const DEFAULT_BRAND = { primaryColor: '#1F2937', accentColor: '#2563EB' };

/** Every setting a kit has, in the order findings and versions list them. */
const SETTINGS_KEYS = [
  'primaryColor',
  'accentColor',
  'backgroundColor',
  'textColor',
  'logoAssetId',
  'logoOnDarkAssetId',
  'faviconAssetId',
  'emailHeaderAssetId',
  'coverAssetId',
  'fontFamily',
  'emailFooter',
  'ticketLayout',
] as const satisfies ReadonlyArray<keyof BrandKitSettings>;

// Colours are any text here: the guidelines answer a bad one as INVALID_COLOR with the others'
// findings. Required settings cannot be cleared with null; optional ones can.
const color = z
  .string({ error: 'cannot be cleared: give a hex colour like #1A2B3C' })
  .transform((value) => value.trim().toUpperCase())
  .optional();
// An id that is not a UUID names no asset: ASSET_NOT_FOUND, like any other unknown id.
const assetId = z
  .string()
  .transform((id) => (isUuid(id) ? id.toLowerCase() : id))
  .nullish();

const settingsInput = z.object({
  organizationId: uuidInput,
  primaryColor: color,
  accentColor: color,
  backgroundColor: color,
  textColor: color,
  logoAssetId: assetId,
  logoOnDarkAssetId: assetId,
  faviconAssetId: assetId,
  emailHeaderAssetId: assetId,
  coverAssetId: assetId,
  fontFamily: z
    .enum(BRAND_FONTS, { error: `cannot be cleared: one of ${BRAND_FONTS.join(', ')}` })
    .optional(),
  // Blank is no footer.
  emailFooter: z
    .string()
    .transform((value) => value.trim() || null)
    .nullish(),
  ticketLayout: z
    .enum(TICKET_LAYOUTS, { error: `cannot be cleared: one of ${TICKET_LAYOUTS.join(', ')}` })
    .optional(),
  // Deprecated (schema.graphql): a logo linked from elsewhere could not be checked or embedded.
  logoUrl: z
    .null({ error: 'logos are no longer linked: upload it with POST /assets and set logoAssetId' })
    .optional(),
});
type SettingsInput = z.output<typeof settingsInput>;

export const settingsOf = (kit: BrandKitSettings): BrandKitSettings =>
  Object.fromEntries(SETTINGS_KEYS.map((key) => [key, kit[key] ?? null])) as BrandKitSettings;

/** The kit as it would be: unset keeps the stored value, null clears it. */
function merged(kit: BrandKitRow, input: SettingsInput): BrandKitSettings {
  const settings: Record<string, unknown> = settingsOf(kit);
  for (const key of SETTINGS_KEYS) if (input[key] !== undefined) settings[key] = input[key];
  return settings as BrandKitSettings;
}

const sameSettings = (a: BrandKitSettings, b: BrandKitSettings) =>
  SETTINGS_KEYS.every((key) => a[key] === b[key]);

/** The guideline findings of `settings`, with the asset rows they name read by `readAssets`. */
async function findingsOf(
  organizationId: string,
  settings: BrandKitSettings,
  readAssets: (ids: string[]) => Promise<AssetRow[]>,
) {
  return checkGuidelines(settings, organizationId, await readAssets(assetIdsOf(settings).filter(isUuid)));
}

export interface UpdateBrandKitResult {
  brandKit: BrandKitRow | null;
  errors: UserError[];
  findings: GuidelineFinding[];
}

const noKit = (field: string[]): UpdateBrandKitResult => ({
  brandKit: null,
  errors: [{ code: 'NOT_FOUND', message: 'this organization has no brand kit', field }],
  findings: [],
});

type SaveContext = Pick<Context, 'db' | 'viewer' | 'outbox' | 'config' | 'requestId'>;

/**
 * Saves `settings` as the kit's next version, records it, and announces the whole context, all in
 * `tx` (which holds the kit's row lock, so concurrent saves become consecutive versions).
 */
async function saveVersion(
  ctx: SaveContext,
  tx: Transaction,
  kit: BrandKitRow,
  settings: BrandKitSettings,
  { userId, restoredFrom }: { userId: string; restoredFrom: number | null },
) {
  // Later than the version before, even if this clock is behind the one that stamped it:
  // consumers keep the context with the latest `changedAt`.
  const updatedAt = new Date(Math.max(Date.now(), kit.updatedAt.getTime() + 1));
  const saved = await saveBrandKitSettings(tx, kit.id, settings, { updatedBy: userId, updatedAt });
  await insertBrandKitVersion(tx, {
    kitId: saved.id,
    version: saved.version,
    settings,
    restoredFrom,
    changedBy: userId,
    requestId: ctx.requestId,
    changedAt: updatedAt,
  });
  await announceBrandedContext(tx, ctx.outbox, ctx.config, saved.organizationId, updatedAt);
  return saved;
}

/**
 * Checks the kit as it would be and saves it unless a guideline error blocks it; `errorField`
 * names the input field errors are reported on (a restore's errors are its `version`'s).
 */
async function checkAndSave(
  ctx: SaveContext,
  organizationId: string,
  settingsFor: (tx: Transaction, kit: BrandKitRow) => Promise<BrandKitSettings | UserError>,
  { userId, restoredFrom }: { userId: string; restoredFrom: number | null },
  errorField?: string[],
): Promise<UpdateBrandKitResult> {
  return ctx.db.transaction(async (tx) => {
    const kit = await lockBrandKitOf(tx, organizationId);
    if (!kit) return noKit(['input', 'organizationId']);
    const settings = await settingsFor(tx, kit);
    if ('code' in settings) return { brandKit: null, errors: [settings], findings: [] };
    const findings = await findingsOf(organizationId, settings, (ids) => lockAssetsForKit(tx, ids));
    const errors = errorsOf(findings);
    if (errors.length) {
      return {
        brandKit: null,
        errors: errors.map(({ field, message }) => ({
          code: 'INVALID_INPUT',
          field: errorField ?? field,
          message: errorField ? `${field.at(-1)}: ${message}` : message,
        })),
        findings,
      };
    }
    // Saving what is already saved is no change: no version, no announcement.
    if (restoredFrom === null && sameSettings(settings, settingsOf(kit)))
      return { brandKit: kit, errors: [], findings };
    const saved = await saveVersion(ctx, tx, kit, settings, { userId, restoredFrom });
    return { brandKit: saved, errors: [], findings };
  });
}

/** ADMINs and OWNERs of the organization restyle its brand; guideline errors block the save. */
export const updateBrandKit = mutationRule(
  {
    input: settingsInput,
    caller: requireUser,
    invalid: (errors): UpdateBrandKitResult => ({ brandKit: null, errors, findings: [] }),
  },
  async (ctx: SaveContext, input, user): Promise<UpdateBrandKitResult> => {
    requireOrgRole(ctx.viewer, input.organizationId, 'ADMIN');
    return checkAndSave(ctx, input.organizationId, async (_, kit) => merged(kit, input), {
      userId: user.userId,
      restoredFrom: null,
    });
  },
);

const restoreInput = z.object({
  organizationId: uuidInput,
  version: z.number().int().min(1, 'must be a saved version (1 or more)').max(2_147_483_647),
});

/** Saves an earlier version's settings as a new version, checked like any update. */
export const restoreBrandKitVersion = mutationRule(
  {
    input: restoreInput,
    caller: requireUser,
    invalid: (errors): UpdateBrandKitResult => ({ brandKit: null, errors, findings: [] }),
  },
  async (ctx: SaveContext, { organizationId, version }, user): Promise<UpdateBrandKitResult> => {
    requireOrgRole(ctx.viewer, organizationId, 'ADMIN');
    return checkAndSave(
      ctx,
      organizationId,
      async (tx, kit) => {
        const saved = await brandKitVersionOf(tx, kit.id, version);
        if (!saved) {
          return {
            code: 'NOT_FOUND',
            message: `the kit has no version ${version} (its latest is ${kit.version})`,
            field: ['input', 'version'],
          };
        }
        return settingsOf(saved.settings);
      },
      { userId: user.userId, restoredFrom: version },
      ['input', 'version'],
    );
  },
);

export interface BrandKitValidation {
  valid: boolean;
  errors: GuidelineFinding[];
  warnings: GuidelineFinding[];
}

/** The findings `updateBrandKit` would answer for `input`, saving nothing: for ADMINs, like the save. */
export async function validateBrandKit(
  ctx: Pick<Context, 'db' | 'viewer'>,
  input: Record<string, unknown>,
): Promise<BrandKitValidation> {
  // Outsiders learn nothing, not even which of their inputs would be invalid.
  requireOrgRole(ctx.viewer, String(input.organizationId ?? '').toLowerCase(), 'ADMIN');
  const parsed = settingsInput.safeParse(input);
  if (!parsed.success) {
    const problems = userErrorsFrom(parsed.error).map(
      ({ field, message }) => `${field?.join('.')}: ${message}`,
    );
    throw new DomainError('BAD_USER_INPUT', problems.join('; '));
  }
  const kit = await brandKitOfOrganization(ctx.db, parsed.data.organizationId);
  if (!kit) throw new DomainError('NOT_FOUND', 'this organization has no brand kit');
  const findings = await findingsOf(kit.organizationId, merged(kit, parsed.data), (ids) =>
    assetsByIds(ctx.db, ids),
  );
  const errors = errorsOf(findings);
  return { valid: errors.length === 0, errors, warnings: warningsOf(findings) };
}

/** A kit's asset field (`BrandKit.logo` and the like), through the loader. */
export function kitAssetOf(ctx: Pick<Context, 'loaders'>, id: string | null): Promise<AssetRow | null> {
  return id ? ctx.loaders.asset.load(id) : Promise.resolve(null);
}

/** `BrandKit.warnings`: the guideline warnings of the kit as saved (its assets through the loader). */
export async function brandKitWarnings(ctx: Pick<Context, 'loaders'>, kit: BrandKitRow) {
  const settings = settingsOf(kit);
  const assets = await ctx.loaders.asset.loadMany(assetIdsOf(settings));
  const rows = assets.filter((row) => row && !(row instanceof Error)) as Exclude<
    (typeof assets)[number],
    Error | null
  >[];
  return warningsOf(checkGuidelines(settings, kit.organizationId, rows));
}

/** `BrandKit.versions`, newest first: ADMIN+ of the organization (they show who changed what). */
export async function brandKitVersions(
  ctx: Pick<Context, 'db' | 'viewer'>,
  kit: BrandKitRow,
  args: { first?: number | null; after?: string | null },
) {
  requireOrgRole(ctx.viewer, kit.organizationId, 'ADMIN');
  const size = pageSize(args.first);
  const before = args.after
    ? decodeCursor(args.after, z.number().int().min(1).max(2_147_483_647))
    : undefined;
  return toConnection(await brandKitVersionsOf(ctx.db, kit.id, size + 1, before), size, (row) => row.version);
}

/** `BrandKit` references. Anyone may read a brand kit: it styles public pages. */
export function brandKitById(
  ctx: Pick<Context, 'loaders'>,
  { id }: { id: string },
): Promise<BrandKitRow | null> {
  return ctx.loaders.brandKit.load(id);
}

/** `brandKit(organizationId:)`, `Organization.branding` and `Event.branding`, for anyone, like `brandKitById`. */
export function brandKitOf(
  ctx: Pick<Context, 'loaders'>,
  { organizationId }: { organizationId: string },
): Promise<BrandKitRow | null> {
  return ctx.loaders.brandKitOfOrganization.load(organizationId);
}

/** `Event.branding`: the organizer's kit; null for an event without an organizer. */
export function eventBranding(
  ctx: Pick<Context, 'loaders'>,
  event: { organizer?: { id: string } | null },
): Promise<BrandKitRow | null> {
  const organizationId = event.organizer?.id;
  return organizationId ? brandKitOf(ctx, { organizationId }) : Promise.resolve(null);
}

/** Every new organization starts with the default brand (version 1), announced like any later change. */
export function defaultBrandKitConsumer(
  outbox: Outbox,
  config: Pick<BrandingConfig, 'PUBLIC_ASSETS_URL'>,
): EventConsumer {
  const consumer: EventConsumer<typeof organizationCreated.payload> = {
    name: 'default-brand-kit',
    event: organizationCreated,
    // Only statements through `tx` (the insert, its version and outbox row), each on this
    // organization's rows: safe to share a transaction with other organizations' events.
    groupCommit: true,
    async handle(event, tx) {
      const kit = await insertBrandKitOnce(tx, {
        id: uuidv7(),
        organizationId: event.payload.organizationId,
        ...DEFAULT_BRAND,
      });
      // A replay inserts nothing and so records and announces nothing again.
      if (!kit) return;
      await insertBrandKitVersion(tx, {
        kitId: kit.id,
        version: kit.version,
        settings: settingsOf(kit),
        changedAt: kit.updatedAt,
      });
      await announceBrandedContext(tx, outbox, config, kit.organizationId, kit.updatedAt);
    },
  };
  return consumer as EventConsumer;
}
