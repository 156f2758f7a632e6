import { type BrandedContext, brandKitChanged } from '@bilten/contracts/branding';
import type { Database, Outbox, Transaction } from '@bilten/platform';
import type { BrandingConfig } from '../config.ts';
import { assetsByIds } from '../db/assets.ts';
import { activeHostnameOf, brandKitOfOrganization, lockBrandKitOf } from '../db/brand-kits.ts';
import type { AssetRow, AssetVariant, BrandKitRow } from '../db/schema.ts';

type AssetsConfig = Pick<BrandingConfig, 'PUBLIC_ASSETS_URL'>;
type BrandImage = NonNullable<BrandedContext['logo']>;

/** The variant a use needs, by name; `canonical` stands for the asset's own (full-size) bytes. */
function variantOf(asset: AssetRow, name: string): AssetVariant | undefined {
  return asset.variants.find((variant) => variant.name === name);
}

const canonicalOf = (asset: AssetRow): AssetVariant => ({
  name: 'canonical',
  sha256: asset.sha256,
  contentType: asset.contentType,
  width: asset.width,
  height: asset.height,
  byteSize: asset.byteSize,
});

/** A PNG or JPEG (what PDFs and every mail client can show), or null. */
function imageOf(variant: AssetVariant | undefined, types: string[]): BrandImage | null {
  if (!variant || !types.includes(variant.contentType)) return null;
  const { sha256, width, height } = variant;
  return { sha256, contentType: variant.contentType as BrandImage['contentType'], width, height };
}

/** The logo as documents embed it: the w512 PNG, else the canonical bytes when they are a PNG. */
export const documentLogoOf = (logo: AssetRow) =>
  imageOf(variantOf(logo, 'w512'), ['image/png']) ?? imageOf(canonicalOf(logo), ['image/png']);

/** The email header 600 pixels wide, else the canonical bytes when they are a PNG or JPEG. */
export const emailHeaderImageOf = (header: AssetRow) =>
  imageOf(variantOf(header, 'email600'), ['image/png', 'image/jpeg']) ??
  imageOf(canonicalOf(header), ['image/png', 'image/jpeg']);

/** `<PUBLIC_ASSETS_URL>/assets/<sha256>` of the logo's standard (w512) variant, else of its canonical bytes. */
export function logoUrlOf(config: AssetsConfig, logo: AssetRow): string {
  const sha256 = (variantOf(logo, 'w512') ?? canonicalOf(logo)).sha256;
  return `${config.PUBLIC_ASSETS_URL.replace(/\/+$/, '')}/assets/${sha256}`;
}

/** The context of `kit` with its assets and active domain at hand. */
export function contextOf(
  config: AssetsConfig,
  kit: BrandKitRow,
  assets: AssetRow[],
  domain: string | null,
  changedAt: Date,
): BrandedContext {
  const byId = new Map(assets.map((asset) => [asset.id, asset]));
  const logo = kit.logoAssetId ? byId.get(kit.logoAssetId) : undefined;
  const header = kit.emailHeaderAssetId ? byId.get(kit.emailHeaderAssetId) : undefined;
  return {
    organizationId: kit.organizationId,
    primaryColor: kit.primaryColor.toUpperCase(),
    accentColor: kit.accentColor.toUpperCase(),
    backgroundColor: kit.backgroundColor.toUpperCase(),
    textColor: kit.textColor.toUpperCase(),
    logoUrl: logo ? logoUrlOf(config, logo) : null,
    logo: logo ? documentLogoOf(logo) : null,
    emailHeader: header ? emailHeaderImageOf(header) : null,
    fontFamily: kit.fontFamily,
    emailFooter: kit.emailFooter,
    ticketLayout: kit.ticketLayout,
    domain,
    version: kit.version,
    changedAt: changedAt.toISOString(),
  };
}

async function contextOfKit(
  db: Database | Transaction,
  config: AssetsConfig,
  kit: BrandKitRow,
  changedAt: Date,
) {
  const ids = [kit.logoAssetId, kit.emailHeaderAssetId].filter((id): id is string => Boolean(id));
  const [assets, domain] = await Promise.all([
    assetsByIds(db, ids),
    activeHostnameOf(db, kit.organizationId),
  ]);
  return contextOf(config, kit, assets, domain, changedAt);
}

/**
 * What every touchpoint renders the organization with, as it is now (its kit and ACTIVE domain);
 * null when the organization has no kit. `changedAt` is now: a context read later is newer.
 */
export async function brandedContextOf(
  db: Database | Transaction,
  config: AssetsConfig,
  organizationId: string,
): Promise<BrandedContext | null> {
  const kit = await brandKitOfOrganization(db, organizationId);
  return kit ? contextOfKit(db, config, kit, new Date()) : null;
}

/**
 * Publishes the organization's whole context (`brand_kit.changed`) in `tx`: after a kit save, a
 * domain activation or removal. It locks the kit row first, so announcements of one organization
 * are built one after another and the last committed always carries the newest kit and domain
 * (consumers keep the latest `changedAt`). Answers the context, or null without a kit.
 */
export async function announceBrandedContext(
  tx: Transaction,
  outbox: Outbox,
  config: AssetsConfig,
  organizationId: string,
  changedAt?: Date,
): Promise<BrandedContext | null> {
  const kit = await lockBrandKitOf(tx, organizationId);
  if (!kit) return null;
  // Never older than the kit's own save: an announcement right after it must not lose to it.
  const at = new Date(Math.max(changedAt?.getTime() ?? Date.now(), kit.updatedAt.getTime()));
  const context = await contextOfKit(tx, config, kit, at);
  await outbox.publish(tx, brandKitChanged, kit.id, context);
  return context;
}
