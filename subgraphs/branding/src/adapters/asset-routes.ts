import type { TokenVerifier, Viewer } from '@bilten/platform';
import multipart from '@fastify/multipart';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AssetRow } from '../db/schema.ts';
import { AssetRefusal, type AssetServices, assetUrl, storedAsset, uploadAsset } from '../domain/assets.ts';

/*
 * Branding's HTTP side of assets, which the gateway serves at its own door (gateway/src/brand-assets.ts):
 *  - `POST /assets`: multipart/form-data with the fields `organizationId`, `kind` and one file part
 *    `file`; 201 with the asset as JSON (the GraphQL `BrandAsset`'s fields), or a problem
 *    (RFC 9457, the gateway's shape) with a specific detail: 400, 401, 403, 413, 415 or 422.
 *  - `GET /assets/{sha256}`: the stored bytes, public, immutable (content-addressed).
 */

/** Multipart framing and the two small fields, beside the file itself. */
const MULTIPART_OVERHEAD_BYTES = 64 * 1024;

/** The problem kinds an asset route answers (`code` as the gateway's problems carry it). */
const PROBLEMS = {
  400: { title: 'Invalid input', code: 'BAD_USER_INPUT', slug: 'bad-user-input' },
  401: { title: 'Authentication required', code: 'UNAUTHENTICATED', slug: 'unauthenticated' },
  403: { title: 'Not allowed', code: 'FORBIDDEN', slug: 'forbidden' },
  404: { title: 'Not found', code: 'NOT_FOUND', slug: 'not-found' },
  413: { title: 'File too large', code: 'BAD_USER_INPUT', slug: 'asset-too-large' },
  415: { title: 'File type not allowed', code: 'BAD_USER_INPUT', slug: 'asset-type-not-allowed' },
  422: { title: 'Image refused', code: 'BAD_USER_INPUT', slug: 'asset-refused' },
} as const;

function sendProblem(
  reply: FastifyReply,
  request: FastifyRequest,
  status: keyof typeof PROBLEMS,
  detail: string,
) {
  const { title, code, slug } = PROBLEMS[status];
  return reply
    .status(status)
    .header('content-type', 'application/problem+json; charset=utf-8')
    .header('cache-control', 'no-store')
    .send(
      JSON.stringify({
        type: `https://docs.bilten.dev/errors/${slug}`,
        title,
        status,
        detail,
        instance: request.id,
        code,
      }),
    );
}

/** The asset as `POST /assets` answers it: the GraphQL `BrandAsset`'s fields. */
export function assetJson(config: AssetServices['config'], asset: AssetRow) {
  return {
    id: asset.id,
    organizationId: asset.organizationId,
    kind: asset.kind,
    sha256: asset.sha256,
    contentType: asset.contentType,
    width: asset.width,
    height: asset.height,
    byteSize: asset.byteSize,
    url: assetUrl(config, asset.sha256),
    variants: asset.variants.map((variant) => ({ ...variant, url: assetUrl(config, variant.sha256) })),
    originalName: asset.originalName,
    createdAt: asset.createdAt.toISOString(),
  };
}

/** The headers every stored blob is served with: its detected type, never sniffed, never run. */
function blobHeaders(reply: FastifyReply, sha256: string, contentType: string) {
  return reply
    .header('content-type', contentType)
    .header('x-content-type-options', 'nosniff')
    .header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'; sandbox")
    .header('cache-control', 'public, max-age=31536000, immutable')
    .header('etag', `"${sha256}"`)
    .header('cross-origin-resource-policy', 'cross-origin');
}

export function registerAssetRoutes(
  app: FastifyInstance,
  { services, verifyToken }: { services: AssetServices; verifyToken: TokenVerifier },
) {
  const maxBytes = services.config.ASSET_MAX_BYTES;

  app.get<{ Params: { sha256: string } }>('/assets/:sha256', async (request, reply) => {
    const { sha256 } = request.params;
    try {
      const etag = `"${sha256}"`;
      const stored = await storedAsset(services, sha256);
      if (!stored) return sendProblem(reply, request, 404, 'no asset is stored under this hash');
      const matches = request.headers['if-none-match']
        ?.split(',')
        .map((tag) => tag.trim().replace(/^W\//, ''));
      if (matches?.some((tag) => tag === etag || tag === '*'))
        return blobHeaders(reply, sha256, stored.contentType).status(304).send();
      const bytes = await stored.bytes();
      if (!bytes) return sendProblem(reply, request, 404, 'no asset is stored under this hash');
      return blobHeaders(reply, sha256, stored.contentType).send(bytes);
    } catch (err) {
      if (err instanceof AssetRefusal) return sendProblem(reply, request, 400, err.message);
      throw err;
    }
  });

  app.register(async (scope) => {
    // Only multipart is read here; any other body is refused unread (400 below).
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', (_request, _payload, done) => done(null, undefined));
    await scope.register(multipart, {
      limits: {
        files: 1,
        fileSize: maxBytes,
        fields: 4,
        fieldSize: 256,
        parts: 6,
        headerPairs: 20,
      },
    });

    scope.addHook('onRequest', async (request, reply) => {
      const length = Number(request.headers['content-length'] ?? 0);
      if (length > maxBytes + MULTIPART_OVERHEAD_BYTES)
        return sendProblem(reply, request, 413, `the upload is larger than ${maxBytes} bytes`);
      if (!request.headers.authorization)
        return sendProblem(reply, request, 401, 'sign in (Authorization: Bearer …) to upload brand assets');
    });

    scope.post('/assets', async (request, reply) => {
      let viewer: Viewer;
      try {
        viewer = await verifyToken(request.headers.authorization);
      } catch (err) {
        return sendProblem(reply, request, 401, (err as Error).message);
      }
      if (!request.isMultipart())
        return sendProblem(
          reply,
          request,
          400,
          'send multipart/form-data with the fields organizationId, kind and one file part "file"',
        );
      try {
        const form = await readUploadForm(request);
        const asset = await uploadAsset({ ...services, viewer }, form);
        return reply.status(201).header('cache-control', 'no-store').send(assetJson(services.config, asset));
      } catch (err) {
        if (err instanceof AssetRefusal) return sendProblem(reply, request, err.status, err.message);
        const code = (err as { code?: string }).code;
        if (code === 'FST_REQ_FILE_TOO_LARGE')
          return sendProblem(reply, request, 413, `the file is larger than ${maxBytes} bytes`);
        if (typeof code === 'string' && code.startsWith('FST_'))
          return sendProblem(reply, request, 400, `malformed multipart body: ${(err as Error).message}`);
        if (err instanceof Error && /multipart|boundary|unexpected end of form/i.test(err.message))
          return sendProblem(reply, request, 400, `malformed multipart body: ${err.message}`);
        throw err;
      }
    });
  });
}

/** Reads the form: the two fields and the one file part, buffered up to the limit (busboy counts). */
async function readUploadForm(request: FastifyRequest) {
  const fields: Record<string, string> = {};
  let file: { bytes: Buffer; name: string | null } | undefined;
  for await (const part of request.parts()) {
    if (part.type === 'file') {
      if (part.fieldname !== 'file' || file) {
        part.file.resume();
        throw new AssetRefusal(
          400,
          `unexpected file part "${part.fieldname}": send one file part named "file"`,
        );
      }
      file = { bytes: await part.toBuffer(), name: part.filename || null };
    } else if (part.fieldname === 'organizationId' || part.fieldname === 'kind') {
      fields[part.fieldname] = String(part.value).trim();
    } else {
      throw new AssetRefusal(400, `unexpected field "${part.fieldname}": only organizationId and kind`);
    }
  }
  if (!fields.organizationId) throw new AssetRefusal(400, 'organizationId: missing');
  if (!fields.kind) throw new AssetRefusal(400, 'kind: missing (LOGO, COVER, FAVICON or EMAIL_HEADER)');
  if (!file) throw new AssetRefusal(400, 'file: missing (one file part named "file")');
  return {
    organizationId: fields.organizationId,
    kind: fields.kind,
    bytes: file.bytes,
    originalName: file.name,
  };
}
