import { Transform } from 'node:stream';
import type { Logger } from '@bilten/platform';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { relayAnswer, type SubgraphDispatcher, type SubgraphName, subgraphRoute } from './config.ts';
import { PROBLEM_TYPE_BASE, problemOf, sendProblem } from './problem.ts';

/**
 * Branding's asset routes at the public door (subgraphs/branding/src/adapters/asset-routes.ts):
 *  - `GET /assets/{sha256}`: brand images are public; answered as branding answers them (its
 *    detected type, nosniff, the sandbox CSP, immutable caching, the ETag; 304 on If-None-Match).
 *  - `POST /assets`: a multipart upload, passed on as a stream, never parsed here; its
 *    Content-Type (the multipart boundary) and Content-Length go with it, and the caller's
 *    credentials go through the same exchange as for /graphql (an API key or a user's token
 *    becomes identity's token with current claims). Branding checks everything else.
 * A body larger than `maxFileBytes` plus multipart framing is refused here (413), by its Content-Length before it is
 * read, or as soon as a chunked one passes the limit.
 */
export interface BrandAssetProxyOptions {
  supergraphSdl: string;
  subgraphUrls: Partial<Record<SubgraphName, string>>;
  /** The gateway's credential exchange (access-tokens.ts); throws for a credential it refuses. */
  authorizationFor(authorization: string | undefined): Promise<string | undefined>;
  timeoutMs: number;
  /** The subgraph connection pool with its TLS settings (server.ts); unset: Node's default. */
  dispatcher?: SubgraphDispatcher;
  log: Logger;
  /** Largest file passed on (GATEWAY_ASSET_MAX_BYTES): branding's ASSET_MAX_BYTES, default 10 MiB. Raise both together. */
  maxFileBytes?: number;
}

/** Room for the multipart framing and the small fields beside the file. */
const MULTIPART_OVERHEAD_BYTES = 64 * 1024;
/** An upload takes longer than a query: a 10 MB body on a slow link. */
const MIN_UPLOAD_TIMEOUT_MS = 120_000;

const BLOB_HEADERS = [
  'content-type',
  'x-content-type-options',
  'content-security-policy',
  'cache-control',
  'etag',
  'cross-origin-resource-policy',
];
const UPLOAD_ANSWER_HEADERS = ['content-type', 'cache-control'];
const SHA256 = /^[0-9a-f]{64}$/;

/** A problem with a status the shared kinds do not have (413, 502), in the same shape. */
function sendStatusProblem(
  reply: FastifyReply,
  request: FastifyRequest,
  status: number,
  title: string,
  slug: string,
  detail: string,
) {
  const problem = problemOf({
    code: status >= 500 ? 'INTERNAL' : 'BAD_USER_INPUT',
    detail,
    instance: request.id,
  });
  return sendProblem(reply, { ...problem, status, title, type: `${PROBLEM_TYPE_BASE}${slug}` });
}

/** Passes `body` on, failing it once more than `limit` bytes have gone through. */
function capped(limit: number) {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      seen += chunk.length;
      if (seen > limit) done(new UploadTooLarge());
      else done(null, chunk);
    },
  });
}

class UploadTooLarge extends Error {}

export function registerBrandAssets(app: FastifyInstance, options: BrandAssetProxyOptions) {
  const base = subgraphRoute(options, 'branding', '/');
  const maxBytes = (options.maxFileBytes ?? 10 * 1024 * 1024) + MULTIPART_OVERHEAD_BYTES;
  const tooLarge = (request: FastifyRequest, reply: FastifyReply) =>
    sendStatusProblem(
      reply,
      request,
      413,
      'File too large',
      'asset-too-large',
      `the upload is larger than ${maxBytes} bytes`,
    );
  const unavailable = (request: FastifyRequest, reply: FastifyReply, err: unknown) => {
    options.log.warn({ err: (err as Error).message }, 'branding assets unavailable');
    return sendStatusProblem(
      reply,
      request,
      502,
      'Bad gateway',
      'internal',
      'brand assets are unavailable right now',
    );
  };

  app.register(async (scope) => {
    // The body stays a stream: it is passed on unread (branding parses the multipart).
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', (_request, payload, done) => done(null, payload));

    scope.get<{ Params: { sha256: string } }>('/assets/:sha256', async (request, reply) => {
      const { sha256 } = request.params;
      if (!SHA256.test(sha256))
        return sendProblem(
          reply,
          problemOf({
            code: 'BAD_USER_INPUT',
            detail: 'not a SHA-256 (64 lower-case hex digits)',
            instance: request.id,
          }),
        );
      const match = request.headers['if-none-match'];
      try {
        const upstream = await fetch(new URL(`assets/${sha256}`, base), {
          headers: {
            'x-request-id': request.id,
            ...(typeof match === 'string' ? { 'if-none-match': match.slice(0, 200) } : {}),
          },
          signal: AbortSignal.timeout(options.timeoutMs),
          dispatcher: options.dispatcher,
        });
        return relayAnswer(reply, upstream, BLOB_HEADERS);
      } catch (err) {
        return unavailable(request, reply, err);
      }
    });

    scope.post('/assets', async (request, reply) => {
      const declared = request.headers['content-length'];
      if (declared !== undefined && Number(declared) > maxBytes) return tooLarge(request, reply);
      let authorization: string | undefined;
      try {
        authorization = await options.authorizationFor(request.headers.authorization);
      } catch (err) {
        const refused = (err as { extensions?: { code?: string } }).extensions?.code === 'UNAUTHENTICATED';
        return refused
          ? sendProblem(
              reply,
              problemOf({
                code: 'UNAUTHENTICATED',
                detail: 'the credentials are invalid or expired',
                instance: request.id,
              }),
            )
          : unavailable(request, reply, err);
      }
      if (!authorization)
        return sendProblem(
          reply,
          problemOf({
            code: 'UNAUTHENTICATED',
            detail:
              'sign in (Authorization: Bearer …) as an OWNER or ADMIN of the organization to upload brand assets',
            instance: request.id,
          }),
        );
      const headers: Record<string, string> = {
        authorization,
        'x-request-id': request.id,
        'x-forwarded-for': request.ip,
      };
      const contentType = request.headers['content-type'];
      if (contentType) headers['content-type'] = contentType;
      if (declared !== undefined) headers['content-length'] = declared;
      const body = request.body as NodeJS.ReadableStream | undefined;
      const limiter = capped(maxBytes);
      try {
        const upstream = await fetch(new URL('assets', base), {
          method: 'POST',
          headers,
          ...(body ? { body: body.pipe(limiter) as unknown as RequestInit['body'], duplex: 'half' } : {}),
          signal: AbortSignal.timeout(Math.max(options.timeoutMs, MIN_UPLOAD_TIMEOUT_MS)),
          dispatcher: options.dispatcher,
        } as RequestInit);
        return relayAnswer(reply, upstream, UPLOAD_ANSWER_HEADERS);
      } catch (err) {
        if ((err as Error).cause instanceof UploadTooLarge || limiter.errored instanceof UploadTooLarge)
          return tooLarge(request, reply);
        return unavailable(request, reply, err);
      }
    });
  });
}
