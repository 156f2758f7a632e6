import { createServer, type Server } from 'node:http';

/** What the platform's ingress does for HTTP-01: `/.well-known/acme-challenge/{token}` → branding's route. */
export interface ChallengeProxy {
  /** Tokens answered 200, in order (pebble asks for each from several perspectives). */
  served: string[];
  /** Where branding listens (its /graphql URL), once known. */
  target: string | undefined;
  close(): Promise<void>;
}

export async function startChallengeProxy(port: number): Promise<ChallengeProxy> {
  const proxy: ChallengeProxy = { served: [], target: undefined, close: async () => {} };
  const server: Server = createServer(async (request, response) => {
    const match = /^\/\.well-known\/acme-challenge\/([^/?]+)$/.exec(request.url ?? '');
    if (!match || !proxy.target) {
      response.writeHead(404).end();
      return;
    }
    const upstream = await fetch(new URL(`/internal/acme-challenge/${match[1]}`, proxy.target));
    const body = await upstream.text();
    if (upstream.ok) proxy.served.push(match[1]!);
    response.writeHead(upstream.status, {
      'content-type': upstream.headers.get('content-type') ?? 'text/plain',
    });
    response.end(body);
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  proxy.close = () => new Promise((resolve) => server.close(() => resolve()));
  return proxy;
}
