import { createHash } from 'node:crypto';
import {
  type Database,
  DomainError,
  decodeCursor,
  mutationRule,
  pageSize,
  requireOrgRole,
  requireUser,
  toConnection,
  type UserError,
  uuidInput,
  type Viewer,
} from '@bilten/platform';
import { v7 as uuidv7 } from 'uuid';
import { z } from 'zod';
import type { AssetStorage } from '../adapters/asset-storage.ts';
import { declaredSize, isOpaque, renderVariant, sanitizeSvg, sniffType } from '../adapters/image-checks.ts';
import type { BrandingConfig } from '../config.ts';
import type { Context } from '../context.ts';
import {
  assetsOfOrganization,
  blobByHash,
  deleteAssetAndOrphanBlobs,
  insertAsset,
  kitFieldsUsing,
  lockAsset,
  recordBlobs,
} from '../db/assets.ts';
import { ASSET_KINDS, type AssetKind, type AssetRow, type AssetVariant } from '../db/schema.ts';
import {
  ALLOWED_RASTER_TYPES,
  ASSET_VARIANTS,
  AssetRefusal,
  checkDimensions,
  checkSanitizedSvg,
  checkSingleImage,
  type RasterType,
  svgDocument,
} from './asset-images.ts';

import { meterStoredBytes } from './usage.ts';

export { AssetRefusal } from './asset-images.ts';

/** What uploads and serving need: no GraphQL request context (they are plain HTTP routes). */
export interface AssetServices {
  db: Database;
  storage: AssetStorage;
  config: BrandingConfig;
}

export const sha256Of = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
const SHA256 = /^[0-9a-f]{64}$/;
const XML_TYPES = ['application/xml', 'text/xml', 'image/svg+xml'];

export const assetUrl = (config: Pick<BrandingConfig, 'PUBLIC_ASSETS_URL'>, sha256: string) =>
  `${config.PUBLIC_ASSETS_URL.replace(/\/+$/, '')}/assets/${sha256}`;

/** Who may upload to or delete from an organization's assets: its ADMINs and OWNERs. */
export function requireAssetAdmin(viewer: Viewer, organizationId: string) {
  try {
    return requireOrgRole(viewer, organizationId, 'ADMIN');
  } catch (err) {
    if (err instanceof DomainError)
      throw new AssetRefusal(err.code === 'UNAUTHENTICATED' ? 401 : 403, err.message);
    throw err;
  }
}

export interface UploadInput {
  organizationId: string;
  kind: string;
  bytes: Buffer;
  /** As the client named the file: shown, never used to decide anything. */
  originalName: string | null;
}

/** One variant, rendered and hashed, not stored yet. */
type PreparedVariant = AssetVariant & { bytes: Buffer };

/**
 * Checks an upload by its content and prepares its variants (nothing is stored until every check
 * has passed): type by magic numbers, the polyglot rule, declared pixels before any decoding, SVG
 * only when DOMPurify changes nothing; then the kind's variants, re-encoded.
 */
export async function prepareVariants(
  config: Pick<BrandingConfig, 'ASSET_MAX_BYTES' | 'ASSET_MAX_PIXELS'>,
  kind: AssetKind,
  bytes: Buffer,
): Promise<PreparedVariant[]> {
  if (bytes.length > config.ASSET_MAX_BYTES)
    throw new AssetRefusal(413, `the file is larger than ${config.ASSET_MAX_BYTES} bytes`);
  if (!bytes.length) throw new AssetRefusal(400, 'the file is empty');
  const maxPixels = config.ASSET_MAX_PIXELS;
  const detected = await sniffType(bytes);
  let source = bytes;
  let svg: string | null = null;
  // file-type names an SVG starting with an XML declaration `application/xml`: SVG is sniffed below.
  if (detected && !XML_TYPES.includes(detected.mime)) {
    if (!ALLOWED_RASTER_TYPES.includes(detected.mime))
      throw new AssetRefusal(
        415,
        `the file is ${detected.mime} (.${detected.ext}); only PNG, JPEG, WebP or SVG images are accepted`,
      );
    checkSingleImage(detected.mime as RasterType, bytes);
  } else {
    const document = svgDocument(bytes);
    if (document === null)
      throw new AssetRefusal(
        415,
        'the file is not an image (no PNG, JPEG, WebP or SVG content was detected)',
      );
    svg = checkSanitizedSvg(sanitizeSvg(document));
    source = Buffer.from(svg, 'utf8');
  }
  const size = await declaredSize(source);
  if (!size) throw new AssetRefusal(422, 'the image is corrupt: its header gives no dimensions');
  checkDimensions(kind, size, maxPixels);

  const specs = ASSET_VARIANTS[kind];
  try {
    const opaque = specs.some((spec) => spec.format === 'png-or-jpeg')
      ? await isOpaque(source, { maxPixels })
      : true;
    const variants: PreparedVariant[] = [];
    for (const spec of specs) {
      if (svg !== null && spec.name === 'original') {
        variants.push(variantOf(spec.name, source, 'image/svg+xml', size));
        continue;
      }
      const format = spec.format === 'png-or-jpeg' ? (opaque ? 'jpeg' : 'png') : spec.format;
      const rendered = await renderVariant(source, spec, {
        maxPixels,
        format,
        ...(svg !== null ? { svgWidth: size.width } : {}),
      });
      variants.push(variantOf(spec.name, rendered.bytes, rendered.contentType, rendered));
    }
    return variants;
  } catch (err) {
    if (err instanceof AssetRefusal) throw err;
    // sharp's own words (e.g. "Input buffer has corrupt header"), which say nothing about us.
    throw new AssetRefusal(422, `the image is corrupt or cannot be decoded: ${(err as Error).message}`);
  }
}

function variantOf(
  name: string,
  bytes: Buffer,
  contentType: string,
  size: { width: number; height: number },
): PreparedVariant {
  return {
    name,
    sha256: sha256Of(bytes),
    contentType,
    width: size.width,
    height: size.height,
    byteSize: bytes.length,
    bytes,
  };
}

/**
 * `POST /assets`: ADMIN+ of the organization uploads an image of a kind. Every check passes before
 * anything is stored; then, in one transaction, the blobs and the asset are recorded and each
 * variant is put in storage under its hash (identical bytes once). A failed put rolls the rows back
 * (bytes already put stay as unrecorded orphans, served by nothing).
 */
export async function uploadAsset(
  ctx: AssetServices & { viewer: Viewer },
  input: UploadInput,
): Promise<AssetRow> {
  const organizationId = uuidInput.safeParse(input.organizationId);
  if (!organizationId.success) throw new AssetRefusal(400, 'organizationId: must be a UUID');
  const user = requireAssetAdmin(ctx.viewer, organizationId.data);
  const kind = z.enum(ASSET_KINDS).safeParse(input.kind);
  if (!kind.success) throw new AssetRefusal(400, `kind: must be one of ${ASSET_KINDS.join(', ')}`);

  const variants = await prepareVariants(ctx.config, kind.data, input.bytes);
  const canonical = variants.find((variant) => variant.name === 'original')!;
  const stripped = variants.map(({ bytes: _bytes, ...variant }) => variant);
  return ctx.db.transaction(async (tx) => {
    // Rows first (they lock the hashes against a concurrent delete), then the bytes, then commit.
    await recordBlobs(tx, stripped);
    const asset = await insertAsset(tx, {
      id: uuidv7(),
      organizationId: organizationId.data,
      kind: kind.data,
      sha256: canonical.sha256,
      contentType: canonical.contentType,
      width: canonical.width,
      height: canonical.height,
      byteSize: canonical.byteSize,
      variants: stripped,
      originalName: input.originalName?.replace(/[\p{Cc}\p{Cf}]/gu, '').slice(0, 255) || null,
      createdBy: user.userId,
    });
    await meterStoredBytes(tx, asset, 1);
    // Content-addressed: a put of an existing hash writes the same bytes again, harmlessly.
    const unique = new Map(variants.map((variant) => [variant.sha256, variant]));
    for (const variant of unique.values())
      await ctx.storage.put(variant.sha256, variant.bytes, variant.contentType);
    return asset;
  });
}

/**
 * `GET /assets/{sha256}`: a recorded blob's detected type, and its bytes when asked (a revalidation
 * needs none); null for an unknown hash.
 */
export async function storedAsset(ctx: AssetServices, sha256: string) {
  if (!SHA256.test(sha256)) throw new AssetRefusal(400, 'not a SHA-256 (64 lower-case hex digits)');
  const blob = await blobByHash(ctx.db, sha256);
  return blob ? { contentType: blob.contentType, bytes: () => ctx.storage.get(sha256) } : null;
}

// ---------------------------------------------------------------- GraphQL

interface AssetPageArgs {
  organizationId: string;
  kind?: AssetKind | null;
  first?: number | null;
  after?: string | null;
}

/** `brandAssets`: the organization's images, newest first, for its ADMINs and OWNERs. */
export async function brandAssets(ctx: Pick<Context, 'db' | 'viewer'>, args: AssetPageArgs) {
  requireOrgRole(ctx.viewer, args.organizationId, 'ADMIN');
  const size = pageSize(args.first);
  const beforeId = args.after ? decodeCursor(args.after) : undefined;
  const rows = await assetsOfOrganization(ctx.db, args.organizationId.toLowerCase(), {
    limit: size + 1,
    ...(args.kind ? { kind: args.kind } : {}),
    ...(beforeId ? { beforeId } : {}),
  });
  return toConnection(rows, size);
}

/** `brandAsset(id)` and entity references: public metadata (it styles public pages). */
export const brandAssetById = (ctx: Pick<Context, 'loaders'>, { id }: { id: string }) =>
  ctx.loaders.asset.load(id);

/** `BrandAsset.usedBy`: the kit fields naming it, e.g. `["logo"]`. */
export const assetUsedBy = async (ctx: Pick<Context, 'loaders'>, asset: AssetRow) =>
  (await ctx.loaders.assetUses.load(asset.id)).map((use) => use.field);

interface DeletePayload {
  deletedAssetId: string | null;
  errors: UserError[];
}

const refused = (errors: UserError[]): DeletePayload => ({ deletedAssetId: null, errors });

/**
 * `deleteBrandAsset`: ADMIN+ of the asset's organization. Refused while a kit field names it;
 * another organization's asset is answered like an unknown one. Blobs no other asset uses go with
 * it (rows and bytes, in its transaction).
 */
export const deleteBrandAsset = mutationRule(
  {
    input: z.object({ assetId: uuidInput }),
    caller: (viewer) => requireUser(viewer),
    invalid: refused,
  },
  async (ctx: Pick<Context, 'db' | 'viewer' | 'storage'>, { assetId }, user) => {
    const notFound = refused([{ code: 'NOT_FOUND', message: 'no such asset', field: ['input', 'assetId'] }]);
    return ctx.db.transaction(async (tx): Promise<DeletePayload> => {
      const asset = await lockAsset(tx, assetId);
      if (!asset || !user.organizations[asset.organizationId]) return notFound;
      requireOrgRole(ctx.viewer, asset.organizationId, 'ADMIN');
      const usedBy = (await kitFieldsUsing(tx, [asset.id])).get(asset.id) ?? [];
      if (usedBy.length) {
        const message = `the brand kit uses this asset as ${usedBy.join(', ')}; choose another image there first`;
        return refused([{ code: 'CONFLICT', message, field: ['input', 'assetId'] }]);
      }
      // Bytes go while the blob rows are locked: no upload of the same bytes can record them meanwhile.
      for (const hash of await deleteAssetAndOrphanBlobs(tx, asset)) await ctx.storage.delete(hash);
      await meterStoredBytes(tx, asset, -1);
      return { deletedAssetId: asset.id, errors: [] };
    });
  },
);
