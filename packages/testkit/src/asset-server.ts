import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface TestAssetServer {
  /** `http://127.0.0.1:<port>`: what BRAND_ASSETS_URL names. */
  url: string;
  /** Serves `bytes` at `/assets/<sha256>`: their own hash unless `as` names another (a tampered store). */
  serve(bytes: Buffer, as?: string): string;
  close(): Promise<void>;
}

/**
 * A stand-in for branding's `GET /assets/{sha256}` for the services that fetch brand images
 * (orders, billing): a real HTTP server answering what a test put there, 404 otherwise.
 */
export async function startTestAssetServer(): Promise<TestAssetServer> {
  const served = new Map<string, Buffer>();
  const server = createServer((request, response) => {
    const body = served.get(request.url ?? '');
    response.writeHead(body ? 200 : 404, { 'content-type': 'image/png' }).end(body ?? '');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    serve(bytes, as = createHash('sha256').update(bytes).digest('hex')) {
      served.set(`/assets/${as}`, bytes);
      return as;
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
