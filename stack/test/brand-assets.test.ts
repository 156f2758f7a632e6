/** Brand assets at the gateway's door: `POST /assets` streamed to branding, `GET /assets/{sha256}` public. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, type TestStack } from './support.ts';

let stack: TestStack;
let storageDir: string;

beforeAll(async () => {
  storageDir = await mkdtemp(join(tmpdir(), 'bilten-stack-assets-'));
  stack = await startTestStack('in-process', { env: { ASSET_STORAGE_DIR: storageDir } });
});

afterAll(async () => {
  await stack?.dispose();
  await rm(storageDir, { recursive: true, force: true });
});

async function upload(organizationId: string, file: Buffer, headers: Record<string, string> = {}) {
  const form = new FormData();
  form.set('organizationId', organizationId);
  form.set('kind', 'LOGO');
  form.set('file', new Blob([file], { type: 'image/png' }), 'logo.png');
  const response = await fetch(new URL('/assets', stack.url), { method: 'POST', body: form, headers });
  return { status: response.status, type: response.headers.get('content-type'), body: await response.json() };
}

const blobCount = async () =>
  (await stack.sql<[{ count: number }]>`select count(*)::int as count from branding.stored_blobs`)[0].count;

describe('brand assets through the gateway', () => {
  it('uploads for an organization ADMIN+, serves the bytes with their headers, refuses others', async () => {
    const { organizationId, owner } = await stack.organizationOwner('brand-assets');
    const image = await sharp({ create: { width: 300, height: 120, channels: 4, background: '#204080' } })
      .png()
      .toBuffer();

    const created = await upload(organizationId, image, owner.headers);
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      organizationId,
      kind: 'LOGO',
      contentType: 'image/png',
      width: 300,
    });
    const { sha256 } = created.body as { sha256: string };

    const served = await fetch(new URL(`/assets/${sha256}`, stack.url));
    expect(served.status).toBe(200);
    expect(Object.fromEntries(served.headers)).toMatchObject({
      'content-type': 'image/png',
      'x-content-type-options': 'nosniff',
      'cache-control': 'public, max-age=31536000, immutable',
      etag: `"${sha256}"`,
    });
    expect(served.headers.get('content-security-policy')).toMatch(/sandbox/);
    expect((await sharp(Buffer.from(await served.arrayBuffer())).metadata()).width).toBe(300);
    const cached = await fetch(new URL(`/assets/${sha256}`, stack.url), {
      headers: { 'if-none-match': `"${sha256}"` },
    });
    expect(cached.status).toBe(304);
    expect((await fetch(new URL(`/assets/${'a'.repeat(64)}`, stack.url))).status).toBe(404);
    expect((await fetch(new URL('/assets/not-a-hash', stack.url))).status).toBe(400);

    // GraphQL sees the same asset, with its public URL.
    const listed = await fetch(new URL('/graphql', stack.url), {
      method: 'POST',
      headers: { ...owner.headers, 'content-type': 'application/json' },
      body: JSON.stringify({
        query: 'query($org: ID!) { brandAssets(organizationId: $org) { edges { node { id sha256 url } } } }',
        variables: { org: organizationId },
      }),
    });
    const { data } = (await listed.json()) as {
      data: { brandAssets: { edges: Array<{ node: { sha256: string } }> } };
    };
    expect(data.brandAssets.edges.map((edge) => edge.node.sha256)).toEqual([sha256]);

    const before = await blobCount();
    const other = await stack.organizationOwner('brand-assets-other');
    const outsider = await upload(organizationId, image, other.owner.headers);
    expect(outsider).toMatchObject({ status: 403, body: { code: 'FORBIDDEN' } });
    expect(outsider.type).toMatch(/^application\/problem\+json/);
    const anonymous = await upload(organizationId, image);
    expect(anonymous).toMatchObject({ status: 401, body: { code: 'UNAUTHENTICATED' } });
    const badKey = await upload(organizationId, image, { authorization: 'Bearer bk_live_nope' });
    expect(badKey.status).toBe(401);

    // 30 MB: refused at the gateway by its Content-Length, never passed on.
    const huge = Buffer.concat([image, Buffer.alloc(30 * 1024 * 1024)]);
    const tooLarge = await upload(organizationId, huge, owner.headers);
    expect(tooLarge).toMatchObject({ status: 413, body: { status: 413 } });
    // Chunked (no Content-Length): cut off once past the cap, answered 413 all the same.
    const chunked = await fetch(new URL('/assets', stack.url), {
      method: 'POST',
      headers: { ...owner.headers, 'content-type': 'multipart/form-data; boundary=b0undary' },
      body: new ReadableStream({
        start(controller) {
          controller.enqueue(
            new TextEncoder().encode(
              `--b0undary\r\nContent-Disposition: form-data; name="organizationId"\r\n\r\n${organizationId}\r\n--b0undary\r\nContent-Disposition: form-data; name="kind"\r\n\r\nLOGO\r\n--b0undary\r\nContent-Disposition: form-data; name="file"; filename="big.png"\r\nContent-Type: image/png\r\n\r\n`,
            ),
          );
          for (let i = 0; i < 24; i++) controller.enqueue(new Uint8Array(1024 * 1024));
          controller.close();
        },
      }),
      duplex: 'half',
    } as RequestInit);
    expect(chunked.status).toBe(413);
    expect(await chunked.json()).toMatchObject({ status: 413 });
    // A body within the gateway's cap that branding refuses (a PHP file named .png) keeps branding's answer.
    const php = await upload(organizationId, Buffer.from('<?php system($_GET["c"]); ?>'), owner.headers);
    expect(php).toMatchObject({ status: 415, body: { detail: expect.stringMatching(/not an image/) } });
    expect(await blobCount()).toBe(before);
  });
});
