import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/**
 * `GET /api/docs`, the interactive reference of `/api/v1/openapi.json` (Swagger UI), and
 * `GET /graphiql`, an explorer of `/graphql` (GraphiQL), both from npm packages installed with the
 * gateway: no CDN, so they work where the deployment has no internet (Apollo Sandbox, on GET
 * /graphql, loads from Apollo's). Each page is HTML with no inline script or style: the code that
 * starts the UI is one of its assets, so the page's CSP allows scripts, styles and requests from
 * this origin only.
 *
 * Assets are read on the first request for a page and kept in memory (about 2 MB per page). The
 * page links them with `?v=<content hash>`: such a URL never changes content, so it is cached for a
 * year; any other URL of an asset is revalidated with its ETag.
 */

const require = createRequire(import.meta.url);

interface Asset {
  body: Buffer;
  type: string;
  etag: string;
  /** The content hash the page links it with. */
  version: string;
  gzipped?: Promise<Buffer>;
}

const JS = 'text/javascript; charset=utf-8';
const CSS = 'text/css; charset=utf-8';

function asset(body: Buffer | string, type: string): Asset {
  const bytes = Buffer.from(body);
  const version = createHash('sha256').update(bytes).digest('base64url').slice(0, 16);
  return { body: bytes, type, version, etag: `"${version}"` };
}

/** A file of an installed package, found as Node finds the package (workspaces hoist it). */
const packageAsset = (name: string, file: string, type: string) =>
  asset(readFileSync(join(dirname(require.resolve(`${name}/package.json`)), file)), type);

/** Same origin only; `data:` for the icons and fonts both UIs inline in their CSS. */
const PAGE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  // 'self' covers ws: and wss: to this host too (CSP 3), for GraphiQL's subscriptions.
  "connect-src 'self'",
  "form-action 'none'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

// The starters are browser scripts, kept as text here: they run in the page, not in Node.

const API_DOCS_START = `SwaggerUIBundle({
  url: new URL('v1/openapi.json', document.baseURI).href,
  dom_id: '#reference',
  deepLinking: true,
  // Swagger UI would otherwise send the document to validator.swagger.io for a badge.
  validatorUrl: null,
  docExpansion: 'list',
  defaultModelsExpandDepth: 0,
});
`;

const GRAPHIQL_START = `const endpoint = new URL('graphql', document.baseURI);
const socket = new URL(endpoint);
socket.protocol = endpoint.protocol === 'https:' ? 'wss:' : 'ws:';
const explorer = React.createElement(GraphiQL, {
  fetcher: GraphiQL.createFetcher({ url: endpoint.href, subscriptionUrl: socket.href }),
  defaultQuery: '# Ctrl-Enter runs it. As someone:\\n' +
    '# Headers {"Authorization": "Bearer …"}\\n' +
    'query Events {\\n  events(first: 5) {\\n    edges { node { id title startsAt } }\\n  }\\n}\\n',
  visiblePlugin: 'Documentation Explorer',
});
ReactDOM.createRoot(document.getElementById('graphiql')).render(explorer);
`;

const GRAPHIQL_PAGE_CSS = 'html,body{height:100%;margin:0}#graphiql{height:100vh}\n';

interface DocsPage {
  path: string;
  title: string;
  /** Which element the UI renders into. */
  root: string;
  noscript: string;
  styles: string[];
  scripts: string[];
  assets: () => Record<string, Asset>;
}

const API_DOCS: DocsPage = {
  path: '/api/docs',
  title: 'Bilten REST API v1',
  root: 'reference',
  noscript:
    'This reference needs JavaScript. The OpenAPI document is at <a href="v1/openapi.json">/api/v1/openapi.json</a>.',
  styles: ['swagger-ui.css'],
  scripts: ['swagger-ui-bundle.js', 'api-docs.js'],
  assets: () => ({
    'swagger-ui.css': packageAsset('swagger-ui-dist', 'swagger-ui.css', CSS),
    'swagger-ui-bundle.js': packageAsset('swagger-ui-dist', 'swagger-ui-bundle.js', JS),
    'api-docs.js': asset(API_DOCS_START, JS),
  }),
};

const GRAPHIQL: DocsPage = {
  path: '/graphiql',
  title: 'GraphiQL',
  root: 'graphiql',
  noscript: 'GraphiQL needs JavaScript. Any GraphQL client can POST to <a href="graphql">/graphql</a>.',
  styles: ['graphiql.min.css', 'graphiql-page.css'],
  scripts: ['react.production.min.js', 'react-dom.production.min.js', 'graphiql.min.js', 'graphiql.js'],
  assets: () => ({
    'graphiql.min.css': packageAsset('graphiql', 'graphiql.min.css', CSS),
    'graphiql-page.css': asset(GRAPHIQL_PAGE_CSS, CSS),
    'react.production.min.js': packageAsset('react', 'umd/react.production.min.js', JS),
    'react-dom.production.min.js': packageAsset('react-dom', 'umd/react-dom.production.min.js', JS),
    'graphiql.min.js': packageAsset('graphiql', 'graphiql.min.js', JS),
    'graphiql.js': asset(GRAPHIQL_START, JS),
  }),
};

/** The page's HTML; asset URLs are relative ("docs/assets/…" from /api/docs), so a proxy's path prefix is kept. */
function html(page: DocsPage, assets: Record<string, Asset>): string {
  const base = `${page.path.split('/').at(-1)}/assets/`;
  const href = (name: string) => `${base}${name}?v=${assets[name]!.version}`;
  return [
    '<!doctype html>',
    '<html lang="en"><head><meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${page.title} · Bilten</title>`,
    // No icon: the browser would ask for /favicon.ico, which the gateway does not have.
    '<link rel="icon" href="data:,">',
    ...page.styles.map((name) => `<link rel="stylesheet" href="${href(name)}">`),
    ...page.scripts.map((name) => `<script defer src="${href(name)}"></script>`),
    `</head><body><noscript>${page.noscript}</noscript><div id="${page.root}"></div></body></html>`,
  ].join('\n');
}

const fresh = (request: FastifyRequest, etag: string) =>
  (request.headers['if-none-match'] ?? '')
    .split(',')
    .some((tag) => ['*', etag].includes(tag.trim().replace(/^W\//, '')));

/** Whether the client takes gzip: named (or `*`) and not refused with `q=0`. */
const acceptsGzip = (request: FastifyRequest) =>
  String(request.headers['accept-encoding'] ?? '')
    .split(',')
    .some((part) => {
      const [coding, ...parameters] = part.split(';').map((piece) => piece.trim());
      return (coding === 'gzip' || coding === '*') && !parameters.some((p) => /^q=0(?:\.0*)?$/.test(p));
    });

async function sendAsset(request: FastifyRequest, reply: FastifyReply, found: Asset) {
  const { v } = request.query as { v?: string };
  reply
    .header('etag', found.etag)
    .header('vary', 'accept-encoding')
    .header(
      'cache-control',
      v === found.version ? 'public, max-age=31536000, immutable' : 'public, no-cache',
    );
  if (fresh(request, found.etag)) return reply.status(304).send();
  reply.header('content-type', found.type);
  if (!acceptsGzip(request)) return reply.send(found.body);
  found.gzipped ??= promisify(gzip)(found.body);
  return reply.header('content-encoding', 'gzip').send(await found.gzipped);
}

function registerPage(app: FastifyInstance, page: DocsPage) {
  let loaded: { assets: Record<string, Asset>; html: string } | undefined;
  const load = () => {
    if (!loaded) {
      const assets = page.assets();
      loaded = { assets, html: html(page, assets) };
    }
    return loaded;
  };
  app.get(page.path, async (_request, reply) =>
    reply
      .header('content-type', 'text/html; charset=utf-8')
      .header('content-security-policy', PAGE_CSP)
      .header('cache-control', 'no-cache')
      .send(load().html),
  );
  app.get<{ Params: { file: string } }>(`${page.path}/assets/:file`, async (request, reply) => {
    const { assets } = load();
    // Own names only: never `constructor` and the like.
    if (!Object.hasOwn(assets, request.params.file)) return reply.callNotFound();
    return sendAsset(request, reply, assets[request.params.file]!);
  });
}

/**
 * `/api/docs` always: the REST document is public anyway. `/graphiql` only with `graphiql` (the
 * gateway's `sandbox` option), where introspection, which GraphiQL needs, is answered.
 */
export function registerDocsPages(app: FastifyInstance, options: { graphiql: boolean }) {
  registerPage(app, API_DOCS);
  if (options.graphiql) registerPage(app, GRAPHIQL);
}
