import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32, deflateSync } from 'node:zlib';
import { startTestSubgraph, type TestSubgraph } from '@bilten/testkit';
import S3rver from 's3rver';
import sharp from 'sharp';
import { v7 as uuidv7 } from 'uuid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { s3Storage } from '../src/adapters/s3-storage.ts';
import { sha256Of } from '../src/domain/assets.ts';
import { brandingSubgraph } from '../src/server.ts';

let subgraph: TestSubgraph;
let storageDir: string;
const PUBLIC = 'https://cdn.bilten.test';

beforeAll(async () => {
  storageDir = await mkdtemp(join(tmpdir(), 'bilten-assets-'));
  subgraph = await startTestSubgraph(brandingSubgraph, 'in-process', {
    env: { ASSET_STORAGE_DIR: storageDir, PUBLIC_ASSETS_URL: PUBLIC },
  });
});

afterAll(async () => {
  await subgraph?.dispose();
  await rm(storageDir, { recursive: true, force: true });
});

// ---------------------------------------------------------------- helpers

interface AssetJson {
  id: string;
  organizationId: string;
  kind: string;
  sha256: string;
  contentType: string;
  width: number;
  height: number;
  byteSize: number;
  url: string;
  variants: Array<{
    name: string;
    sha256: string;
    contentType: string;
    width: number;
    height: number;
    url: string;
  }>;
  originalName: string | null;
}

type Variant = AssetJson['variants'][number];

const url = (path: string) => new URL(path, subgraph.service.url).toString();
const admin = (organizationId: string, role = 'ADMIN') =>
  subgraph.bearer({ orgs: { [organizationId]: role } });

async function upload(
  fields: { organizationId?: string; kind?: string; file?: Buffer; name?: string; type?: string },
  headers: Record<string, string> = {},
) {
  const form = new FormData();
  if (fields.organizationId) form.set('organizationId', fields.organizationId);
  if (fields.kind) form.set('kind', fields.kind);
  if (fields.file)
    form.set(
      'file',
      new Blob([fields.file], { type: fields.type ?? 'image/png' }),
      fields.name ?? 'logo.png',
    );
  const response = await fetch(url('/assets'), { method: 'POST', body: form, headers });
  const text = await response.text();
  return {
    status: response.status,
    type: response.headers.get('content-type'),
    body: JSON.parse(text || 'null'),
  };
}

/** How many blobs are on disk, recorded, and how many assets exist: what "nothing stored" means. */
async function storedCounts() {
  const files = (await readdir(storageDir, { recursive: true, withFileTypes: true })).filter((entry) =>
    entry.isFile(),
  );
  const [{ assets, blobs }] = await subgraph.sql<[{ assets: number; blobs: number }]>`
    select (select count(*)::int from branding.assets) as assets,
           (select count(*)::int from branding.stored_blobs) as blobs`;
  return { files: files.length, assets, blobs };
}

const png = (width = 640, height = 320, background = { r: 20, g: 80, b: 200, alpha: 1 }) =>
  sharp({ create: { width, height, channels: 4, background } })
    .png()
    .toBuffer();

/** One PNG chunk: length, type, data, CRC over type and data. */
function chunk(type: string, data: Buffer) {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([Buffer.from(type, 'latin1'), data])) >>> 0, 0);
  return Buffer.concat([head, data, crc]);
}

/** A PNG whose IHDR declares `width` × `height` over a few hundred bytes of compressed zeros. */
function pngBomb(width: number, height: number) {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8 bits, RGB, deflate, adaptive filtering, no interlace
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(Buffer.alloc(1_000_000))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** Inserts a PNG chunk right after IHDR. */
function withChunk(image: Buffer, type: string, data: Buffer) {
  const afterIhdr = 8 + 12 + 13;
  return Buffer.concat([image.subarray(0, afterIhdr), chunk(type, data), image.subarray(afterIhdr)]);
}

// ---------------------------------------------------------------- uploads

describe('POST /assets', () => {
  it('re-encodes a logo into its variants, metadata gone, each stored once by hash', async () => {
    const organizationId = uuidv7();
    // A JPEG taken "sideways" (EXIF orientation 6) with a copyright and GPS-ish text in EXIF.
    const photo = await sharp({ create: { width: 600, height: 300, channels: 3, background: '#c03030' } })
      .jpeg()
      .withMetadata({ orientation: 6 })
      .withExif({ IFD0: { Copyright: 'SECRET-EXIF-TEXT', Artist: 'Jane' } })
      .toBuffer();
    expect((await sharp(photo).metadata()).orientation).toBe(6);
    expect(photo.includes('SECRET-EXIF-TEXT')).toBe(true);
    const before = await storedCounts();

    const { status, body } = await upload(
      { organizationId, kind: 'LOGO', file: photo, name: 'logo.jpg', type: 'image/jpeg' },
      await admin(organizationId),
    );
    expect(status).toBe(201);
    const asset = body as AssetJson;
    expect(asset).toMatchObject({
      organizationId,
      kind: 'LOGO',
      contentType: 'image/png',
      originalName: 'logo.jpg',
    });
    // Orientation 6 is a quarter turn: 600×300 is shown 300×600.
    expect([asset.width, asset.height]).toEqual([300, 600]);
    expect(asset.variants.map((variant) => [variant.name, variant.contentType, variant.width])).toEqual([
      ['original', 'image/png', 300],
      ['w512', 'image/png', 300],
      ['w128', 'image/png', 128],
    ]);
    expect(asset.url).toBe(`${PUBLIC}/assets/${asset.sha256}`);

    const served = await fetch(url(`/assets/${asset.sha256}`));
    const bytes = Buffer.from(await served.arrayBuffer());
    expect(sha256Of(bytes)).toBe(asset.sha256);
    const meta = await sharp(bytes).metadata();
    expect(meta.exif).toBeUndefined();
    expect(meta.icc).toBeUndefined();
    expect(meta.orientation).toBeUndefined();
    expect(bytes.includes('SECRET-EXIF-TEXT')).toBe(false);

    // original and w512 are the same bytes (300 wide, not enlarged): stored once.
    const after = await storedCounts();
    expect(after.assets).toBe(before.assets + 1);
    expect(after.blobs - before.blobs).toBe(2);
    expect(after.files - before.files).toBe(2);
  });

  it('strips EXIF from a PNG, and uploading the same image again stores no new bytes', async () => {
    const organizationId = uuidv7();
    const image = await sharp(await png())
      .withExif({ IFD0: { Copyright: 'PNG-EXIF-SECRET' } })
      .png()
      .toBuffer();
    expect(image.includes('PNG-EXIF-SECRET')).toBe(true);
    const headers = await admin(organizationId, 'OWNER');
    const first = await upload({ organizationId, kind: 'LOGO', file: image }, headers);
    expect(first.status).toBe(201);
    const served = Buffer.from(await (await fetch(url(`/assets/${first.body.sha256}`))).arrayBuffer());
    expect(served.includes('PNG-EXIF-SECRET')).toBe(false);

    const before = await storedCounts();
    const second = await upload({ organizationId, kind: 'LOGO', file: image }, headers);
    expect(second.status).toBe(201);
    expect(second.body.sha256).toBe(first.body.sha256);
    expect(second.body.id).not.toBe(first.body.id);
    const after = await storedCounts();
    expect([after.files, after.blobs, after.assets]).toEqual([before.files, before.blobs, before.assets + 1]);
  });

  it('makes favicons square icons and covers JPEGs; a long thin favicon is refused', async () => {
    const organizationId = uuidv7();
    const headers = await admin(organizationId);
    const favicon = await upload({ organizationId, kind: 'FAVICON', file: await png(300, 280) }, headers);
    expect(favicon.status).toBe(201);
    expect(favicon.body.variants.map((v: Variant) => [v.name, v.width, v.height])).toEqual([
      ['original', 512, 512],
      ['icon180', 180, 180],
      ['icon32', 32, 32],
    ]);
    const cover = await upload({ organizationId, kind: 'COVER', file: await png(2000, 800) }, headers);
    expect(cover.status).toBe(201);
    expect(cover.body.variants.map((v: Variant) => [v.name, v.contentType, v.width])).toEqual([
      ['original', 'image/jpeg', 2000],
      ['w1600', 'image/jpeg', 1600],
      ['w800', 'image/jpeg', 800],
    ]);
    const header = await upload(
      { organizationId, kind: 'EMAIL_HEADER', file: await png(1400, 200) },
      headers,
    );
    expect(header.body.variants.map((v: Variant) => [v.name, v.contentType, v.width])).toEqual([
      ['original', 'image/jpeg', 1200],
      ['email600', 'image/jpeg', 600],
    ]);
    const before = await storedCounts();
    const thin = await upload({ organizationId, kind: 'FAVICON', file: await png(400, 100) }, headers);
    expect(thin.status).toBe(422);
    expect(thin.body.detail).toMatch(/square.*400×100/);
    expect(await storedCounts()).toEqual(before);
  });

  it('keeps a clean SVG as sanitized SVG and rasterizes its other sizes', async () => {
    const organizationId = uuidv7();
    const svg = Buffer.from(
      '<?xml version="1.0" encoding="UTF-8"?>\n<!-- made by hand -->\n<svg xmlns="http://www.w3.org/2000/svg" width="200" height="100" viewBox="0 0 200 100"><rect width="200" height="100" fill="#1a2b3c"/><circle cx="50" cy="50" r="40" fill="#fff"/></svg>',
    );
    const { status, body } = await upload(
      { organizationId, kind: 'LOGO', file: svg, name: 'logo.svg', type: 'image/svg+xml' },
      await admin(organizationId),
    );
    expect(status).toBe(201);
    expect(body.contentType).toBe('image/svg+xml');
    expect([body.width, body.height]).toEqual([200, 100]);
    expect(body.variants.map((v: Variant) => [v.name, v.contentType, v.width])).toEqual([
      ['original', 'image/svg+xml', 200],
      ['w512', 'image/png', 512],
      ['w128', 'image/png', 128],
    ]);
    const served = await fetch(url(`/assets/${body.sha256}`));
    expect(served.headers.get('content-type')).toBe('image/svg+xml');
    expect(await served.text()).toMatch(/^<svg[\s\S]*<\/svg>$/);
  });

  it('accepts an SVG with gradients, clip paths, local <use> and a non-breaking space', async () => {
    const organizationId = uuidv7();
    const svg = Buffer.from(
      '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="120" height="60" viewBox="0 0 120 60"><defs><linearGradient id="g" gradientUnits="userSpaceOnUse" x1="0" x2="120"><stop offset="0" stop-color="#f00"/><stop offset="1" stop-color="#00f"/></linearGradient><clipPath id="c"><rect width="60" height="60"/></clipPath><circle id="dot" r="5"/></defs><rect width="120" height="60" fill="url(#g)" clip-path="url(#c)"/><use xlink:href="#dot" x="90" y="30"/><text x="5" y="50">A\u00a0B</text></svg>',
    );
    const { status, body } = await upload(
      { organizationId, kind: 'LOGO', file: svg },
      await admin(organizationId),
    );
    expect(status).toBe(201);
    const served = await (await fetch(url(`/assets/${body.sha256}`))).text();
    expect(served).toContain('viewBox="0 0 120 60"');
    expect(served).toContain('<linearGradient');
    expect(served).toContain('&#160;');
  });

  it('accepts WebP; an API key, even of the organization, may not upload', async () => {
    const organizationId = uuidv7();
    const webp = await sharp(await png(200, 100))
      .webp()
      .toBuffer();
    const created = await upload(
      { organizationId, kind: 'COVER', file: webp, type: 'image/webp' },
      await admin(organizationId),
    );
    expect(created.status).toBe(201);
    expect(created.body.contentType).toBe('image/jpeg');
    const apiKey = await subgraph.bearer({
      kind: 'api_key',
      org: organizationId,
      scopes: ['events:write'],
      mode: 'LIVE',
    });
    const refused = await upload({ organizationId, kind: 'COVER', file: webp }, apiKey);
    expect(refused).toMatchObject({ status: 403, body: { detail: expect.stringMatching(/API keys/) } });
  });

  describe('refusals: a clear problem, nothing stored', () => {
    const organizationId = uuidv7();
    const refusals: Array<
      [string, () => Promise<{ file: Buffer; name?: string; type?: string }>, number, RegExp]
    > = [
      [
        'a PHP file named .png',
        async () => ({ file: Buffer.from('<?php system($_GET["c"]); ?>\n'), name: 'logo.png' }),
        415,
        /not an image/,
      ],
      [
        'a PDF named .png',
        async () => ({
          file: Buffer.from('%PDF-1.7\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n'),
          name: 'x.png',
        }),
        415,
        /application\/pdf/,
      ],
      [
        'a GIF',
        async () => ({
          file: await sharp({ create: { width: 10, height: 10, channels: 3, background: '#000' } })
            .gif()
            .toBuffer(),
        }),
        415,
        /image\/gif.*only PNG, JPEG, WebP or SVG/,
      ],
      [
        'an SVG with a script and a handler',
        async () => ({
          file: Buffer.from(
            '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>alert(1)</script><rect onclick="steal()" width="5" height="5"/></svg>',
          ),
          name: 'logo.svg',
          type: 'image/svg+xml',
        }),
        422,
        /unsafe SVG.*<script>.*onclick/,
      ],
      [
        'an SVG with foreignObject and a javascript: link',
        async () => ({
          file: Buffer.from(
            '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="10" height="10"><a xlink:href="javascript:alert(1)"><text>x</text></a><foreignObject><div>hi</div></foreignObject></svg>',
          ),
        }),
        422,
        /unsafe SVG.*xlink:href.*foreignObject/,
      ],
      [
        'an SVG loading an external image',
        async () => ({
          file: Buffer.from(
            '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><image href="https://tracker.example/p.png" width="10" height="10"/></svg>',
          ),
        }),
        422,
        /external reference.*tracker\.example/,
      ],
      [
        'an SVG with a DOCTYPE (entities)',
        async () => ({
          file: Buffer.from(
            '<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY a "aaaaaaaa">]><svg xmlns="http://www.w3.org/2000/svg">&a;</svg>',
          ),
        }),
        422,
        /DOCTYPE/,
      ],
      [
        'a 20,000 × 20,000 PNG header bomb',
        async () => ({ file: pngBomb(20_000, 20_000) }),
        422,
        /20000×20000 = 400000000 pixels.*decompression bomb/,
      ],
      [
        'a PNG with a ZIP appended (polyglot)',
        async () => ({
          file: Buffer.concat([
            await png(64, 64),
            Buffer.from(
              'PK\x03\x04\x14\x00\x00\x00\x08\x00shell.php<?php eval($_POST[1]); ?>PK\x05\x06',
              'latin1',
            ),
          ]),
        }),
        422,
        /bytes after the end of its PNG image/,
      ],
      [
        'a JPEG with PHP appended',
        async () => ({
          file: Buffer.concat([
            await sharp(await png(64, 64))
              .jpeg()
              .toBuffer(),
            Buffer.from('<?php echo 1; ?>'),
          ]),
          type: 'image/jpeg',
        }),
        422,
        /bytes after the end of its JPEG image/,
      ],
      [
        'a PNG with PHP inside a text chunk',
        async () => ({
          file: withChunk(
            await png(64, 64),
            'tEXt',
            Buffer.from('Comment\0<?php system($_GET[0]); ?>', 'latin1'),
          ),
        }),
        422,
        /metadata holds PHP code/,
      ],
      ['a PNG cut short', async () => ({ file: (await png(64, 64)).subarray(0, 60) }), 422, /corrupt/],
    ];

    it.each(refusals)('%s', async (_name, make, status, detail) => {
      const before = await storedCounts();
      const file = await make();
      const answer = await upload({ organizationId, kind: 'LOGO', ...file }, await admin(organizationId));
      expect(answer.status).toBe(status);
      expect(answer.type).toMatch(/^application\/problem\+json/);
      expect(answer.body).toMatchObject({ status, detail: expect.stringMatching(detail) });
      expect(await storedCounts()).toEqual(before);
    });

    it('a 30 MB file: 413 before it is read', async () => {
      const before = await storedCounts();
      const big = Buffer.concat([await png(64, 64), Buffer.alloc(30 * 1024 * 1024, 7)]);
      const answer = await upload({ organizationId, kind: 'LOGO', file: big }, await admin(organizationId));
      expect(answer.status).toBe(413);
      expect(answer.body.detail).toMatch(/larger than 10485760 bytes/);
      // One byte over, within the multipart allowance: refused by the parser's count instead.
      const justOver = Buffer.concat([await png(64, 64), Buffer.alloc(10 * 1024 * 1024, 7)]);
      const counted = await upload(
        { organizationId, kind: 'LOGO', file: justOver },
        await admin(organizationId),
      );
      expect(counted).toMatchObject({
        status: 413,
        body: { detail: expect.stringMatching(/larger than 10485760/) },
      });
      expect(await storedCounts()).toEqual(before);
    });

    it('who may upload: anonymous 401, a bad token 401, STAFF or another organization 403', async () => {
      const before = await storedCounts();
      const file = await png(64, 64);
      const anonymous = await upload({ organizationId, kind: 'LOGO', file });
      expect(anonymous).toMatchObject({ status: 401, body: { code: 'UNAUTHENTICATED' } });
      const forged = await upload(
        { organizationId, kind: 'LOGO', file },
        { authorization: 'Bearer not.a.token' },
      );
      expect(forged.status).toBe(401);
      const staff = await upload(
        { organizationId, kind: 'LOGO', file },
        await admin(organizationId, 'STAFF'),
      );
      expect(staff).toMatchObject({
        status: 403,
        body: { code: 'FORBIDDEN', detail: 'needs the ADMIN role in this organization' },
      });
      const other = await upload({ organizationId, kind: 'LOGO', file }, await admin(uuidv7()));
      expect(other.status).toBe(403);
      expect(await storedCounts()).toEqual(before);
    });

    it('malformed requests: missing fields, a bad kind, not multipart', async () => {
      const headers = await admin(organizationId);
      const file = await png(64, 64);
      expect((await upload({ kind: 'LOGO', file }, headers)).body.detail).toMatch(/organizationId: missing/);
      expect((await upload({ organizationId, file }, headers)).body.detail).toMatch(/kind: missing/);
      expect((await upload({ organizationId, kind: 'LOGO' }, headers)).body.detail).toMatch(/file: missing/);
      const badKind = await upload({ organizationId, kind: 'BANNER', file }, headers);
      expect(badKind).toMatchObject({
        status: 400,
        body: { detail: expect.stringMatching(/kind: must be one of/) },
      });
      const json = await fetch(url('/assets'), {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/json' },
        body: JSON.stringify({ organizationId, kind: 'LOGO' }),
      });
      expect(json.status).toBe(400);
      const broken = await fetch(url('/assets'), {
        method: 'POST',
        headers: { ...headers, 'content-type': 'multipart/form-data; boundary=xyz' },
        body: '--xyz\r\nContent-Disposition: form-data; name="kind"\r\n\r\nLOGO\r\n--xy',
      });
      expect(broken.status).toBe(400);
    });
  });
});

// ---------------------------------------------------------------- serving

describe('GET /assets/{sha256}', () => {
  it('serves the detected type with nosniff, a sandbox CSP, immutable caching and ETags', async () => {
    const organizationId = uuidv7();
    const { body } = await upload(
      { organizationId, kind: 'LOGO', file: await png(100, 50) },
      await admin(organizationId),
    );
    const served = await fetch(url(`/assets/${body.sha256}`));
    expect(served.status).toBe(200);
    expect(Object.fromEntries(served.headers)).toMatchObject({
      'content-type': 'image/png',
      'x-content-type-options': 'nosniff',
      'cache-control': 'public, max-age=31536000, immutable',
      etag: `"${body.sha256}"`,
    });
    expect(served.headers.get('content-security-policy')).toMatch(/default-src 'none'.*sandbox/);
    const again = await fetch(url(`/assets/${body.sha256}`), {
      headers: { 'if-none-match': `"${body.sha256}"` },
    });
    expect(again.status).toBe(304);
    expect(await again.text()).toBe('');

    expect((await fetch(url(`/assets/${'0'.repeat(64)}`))).status).toBe(404);
    const malformed = await fetch(url('/assets/..%2F..%2Fetc%2Fpasswd'));
    expect(malformed.status).toBe(400);
    expect((await fetch(url(`/assets/${body.sha256.toUpperCase()}`))).status).toBe(400);
  });
});

// ---------------------------------------------------------------- GraphQL

describe('brand assets in GraphQL', () => {
  const ASSET_FIELDS = 'id kind sha256 url usedBy variants { name url }';

  it('lists newest first with keyset pages, for ADMIN+ only; brandAsset is public', async () => {
    const organizationId = uuidv7();
    const headers = await admin(organizationId);
    const ids: string[] = [];
    for (const [width, kind] of [
      [60, 'LOGO'],
      [61, 'COVER'],
      [62, 'LOGO'],
    ] as const) {
      ids.push((await upload({ organizationId, kind, file: await png(width, 60) }, headers)).body.id);
    }
    const page = (after?: string, kind?: string) =>
      subgraph.gql<{
        brandAssets: {
          edges: Array<{ node: { id: string } }>;
          pageInfo: { hasNextPage: boolean; endCursor: string };
        };
      }>(
        `query($org: ID!, $after: String, $kind: BrandAssetKind) { brandAssets(organizationId: $org, first: 2, after: $after, kind: $kind) {
          edges { node { ${ASSET_FIELDS} } } pageInfo { hasNextPage endCursor } } }`,
        { org: organizationId, after, kind },
        headers,
      );
    const first = await page();
    expect(first.data?.brandAssets.edges.map((edge) => edge.node.id)).toEqual([ids[2], ids[1]]);
    expect(first.data?.brandAssets.pageInfo.hasNextPage).toBe(true);
    const second = await page(first.data!.brandAssets.pageInfo.endCursor);
    expect(second.data?.brandAssets.edges.map((edge) => edge.node.id)).toEqual([ids[0]]);
    expect(second.data?.brandAssets.pageInfo.hasNextPage).toBe(false);
    const logos = await page(undefined, 'LOGO');
    expect(logos.data?.brandAssets.edges.map((edge) => edge.node.id)).toEqual([ids[2], ids[0]]);

    const staff = await subgraph.gql(
      'query($org: ID!) { brandAssets(organizationId: $org) { edges { cursor } } }',
      { org: organizationId },
      await admin(organizationId, 'STAFF'),
    );
    expect(staff.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');

    const anonymous = await subgraph.gql<{
      brandAsset: { id: string; url: string; variants: Array<{ url: string }> };
    }>(`query($id: ID!) { brandAsset(id: $id) { ${ASSET_FIELDS} } }`, { id: ids[0] });
    expect(anonymous.data?.brandAsset.id).toBe(ids[0]);
    expect(anonymous.data?.brandAsset.variants[0]?.url).toMatch(
      new RegExp(`^${PUBLIC}/assets/[0-9a-f]{64}$`),
    );
  });

  it('refuses deleting an asset the kit uses, naming where; deletes unused ones and their blobs', async () => {
    const organizationId = uuidv7();
    const headers = await admin(organizationId);
    const image = await png(90, 45, { r: 1, g: 2, b: 3, alpha: 1 });
    const used = (await upload({ organizationId, kind: 'LOGO', file: image }, headers)).body as AssetJson;
    const twin = (await upload({ organizationId, kind: 'LOGO', file: image }, headers)).body as AssetJson;
    await subgraph.sql`insert into branding.brand_kits (id, organization_id, primary_color, accent_color, logo_asset_id, logo_on_dark_asset_id)
      values (${uuidv7()}, ${organizationId}, '#111111', '#222222', ${used.id}, ${used.id})`;

    const remove = (assetId: string, caller = headers) =>
      subgraph.gql<{
        deleteBrandAsset: { deletedAssetId: string | null; errors: Array<{ code: string; message: string }> };
      }>(
        'mutation($id: ID!) { deleteBrandAsset(input: { assetId: $id }) { deletedAssetId errors { code message field } } }',
        { id: assetId },
        caller,
      );
    const usedBy = await subgraph.gql<{ brandAsset: { usedBy: string[] } }>(
      'query($id: ID!) { brandAsset(id: $id) { usedBy } }',
      { id: used.id },
    );
    expect(usedBy.data?.brandAsset.usedBy).toEqual(['logo', 'logoOnDark']);

    const refused = await remove(used.id);
    expect(refused.data?.deleteBrandAsset).toMatchObject({
      deletedAssetId: null,
      errors: [{ code: 'CONFLICT', message: expect.stringMatching(/as logo, logoOnDark/) }],
    });
    // Another organization's admin: as if there were no such asset.
    const outsider = await remove(twin.id, await admin(uuidv7()));
    expect(outsider.data?.deleteBrandAsset.errors).toEqual([
      { code: 'NOT_FOUND', message: 'no such asset', field: ['input', 'assetId'] },
    ]);
    expect((await remove(uuidv7())).data?.deleteBrandAsset.errors[0]?.code).toBe('NOT_FOUND');
    const staff = await remove(twin.id, await admin(organizationId, 'STAFF'));
    expect(staff.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');

    // The twin shares every blob with the used asset: deleting it removes no bytes.
    const before = await storedCounts();
    expect((await remove(twin.id)).data?.deleteBrandAsset).toEqual({ deletedAssetId: twin.id, errors: [] });
    expect(await storedCounts()).toMatchObject({
      files: before.files,
      blobs: before.blobs,
      assets: before.assets - 1,
    });

    // Once the kit no longer names it, the last user of those blobs goes and so do they.
    await subgraph.sql`update branding.brand_kits set logo_asset_id = null, logo_on_dark_asset_id = null where organization_id = ${organizationId}`;
    expect((await remove(used.id)).data?.deleteBrandAsset.deletedAssetId).toBe(used.id);
    const after = await storedCounts();
    const hashes = new Set(used.variants.map((variant) => variant.sha256));
    expect(after).toMatchObject({ files: before.files - hashes.size, blobs: before.blobs - hashes.size });
    expect((await fetch(url(`/assets/${used.sha256}`))).status).toBe(404);
  });

  it('an upload racing the delete of the last asset with the same bytes keeps its bytes', async () => {
    const organizationId = uuidv7();
    const headers = await admin(organizationId);
    for (let round = 0; round < 4; round++) {
      const image = await png(70 + round, 35, { r: round, g: 9, b: 9, alpha: 1 });
      const old = (await upload({ organizationId, kind: 'LOGO', file: image }, headers)).body as AssetJson;
      const [, fresh] = await Promise.all([
        subgraph.gql(
          'mutation($id: ID!) { deleteBrandAsset(input: { assetId: $id }) { deletedAssetId } }',
          { id: old.id },
          headers,
        ),
        upload({ organizationId, kind: 'LOGO', file: image }, headers),
      ]);
      expect(fresh.status).toBe(201);
      for (const variant of (fresh.body as AssetJson).variants)
        expect((await fetch(url(`/assets/${variant.sha256}`))).status).toBe(200);
    }
  });
});

// ---------------------------------------------------------------- S3

describe('S3 storage adapter (against s3rver)', () => {
  let server: S3rver;
  let directory: string;
  let endpoint: string;

  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), 'bilten-s3rver-'));
    server = new S3rver({
      port: 0,
      address: '127.0.0.1',
      silent: true,
      directory,
      configureBuckets: [{ name: 'brand-assets' }],
    });
    const { port } = await server.run();
    endpoint = `http://127.0.0.1:${port}`;
  });

  afterAll(async () => {
    await server?.close();
    await rm(directory, { recursive: true, force: true });
  });

  it('puts (idempotently), gets with the content type, and deletes objects by hash', async () => {
    const storage = s3Storage({
      bucket: 'brand-assets',
      region: 'us-east-1',
      endpoint,
      forcePathStyle: true,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    });
    const bytes = await png(32, 32);
    const hash = sha256Of(bytes);
    expect(await storage.get(hash)).toBeNull();
    await storage.put(hash, bytes, 'image/png');
    await storage.put(hash, bytes, 'image/png');
    expect((await storage.get(hash))?.equals(bytes)).toBe(true);
    const head = await fetch(
      `${endpoint}/brand-assets/assets/${hash.slice(0, 2)}/${hash.slice(2, 4)}/${hash}`,
    );
    expect(head.headers.get('content-type')).toBe('image/png');
    await storage.delete(hash);
    expect(await storage.get(hash)).toBeNull();
    await storage.delete(hash);
    await expect(storage.put('../escape', bytes, 'image/png')).rejects.toThrow(/SHA-256/);
    storage.client.destroy();
  });
});
