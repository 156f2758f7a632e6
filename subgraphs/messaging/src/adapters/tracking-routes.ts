import { type Logger, plainTextReply } from '@bilten/platform';
import type { FastifyInstance } from 'fastify';
import type { EngagementLinks } from '../domain/engagement.ts';

/** A 1×1 transparent GIF89a, 43 bytes. */
export const TRANSPARENT_GIF = Buffer.from(
  'R0lGODlhAQABAIAAAP///wAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw==',
  'base64',
);

/**
 * `GET /t/o/{token}.gif` (the open pixel) and `GET /t/c/{token}` (a tracked link), which the
 * gateway passes on from its public door. No login: the signed token is the credential. The pixel
 * answers the same image whatever the token, so it tells nothing; a click goes only where its
 * signature says (a URL that was in the mail), anything else is 400 and no redirect. Counting
 * failing, or not counting (no ANALYTICS consent), never keeps a reader from the page they asked for.
 */
export function registerTracking(
  app: FastifyInstance,
  deps: {
    links: EngagementLinks;
    trackOpen(deliveryId: string): Promise<unknown>;
    trackClick(deliveryId: string): Promise<unknown>;
    log: Logger;
  },
) {
  const counted = async (what: string, deliveryId: string, track: (id: string) => Promise<unknown>) => {
    try {
      await track(deliveryId);
    } catch (err) {
      deps.log.warn({ err: (err as Error).message, deliveryId }, `${what} not recorded`);
    }
  };

  // Wildcards, not `:token`: a click token carries its URL and is longer than a route parameter may be.
  app.get<{ Params: { '*': string } }>('/t/o/*', async (request, reply) => {
    const file = request.params['*'];
    const deliveryId = file.endsWith('.gif') ? deps.links.openedDelivery(file.slice(0, -4)) : null;
    if (deliveryId) await counted('open', deliveryId, deps.trackOpen);
    return reply
      .header('content-type', 'image/gif')
      .header('cache-control', 'no-store, max-age=0')
      .header('referrer-policy', 'no-referrer')
      .send(TRANSPARENT_GIF);
  });

  app.get<{ Params: { '*': string } }>('/t/c/*', async (request, reply) => {
    const link = deps.links.clickedLink(request.params['*']);
    if (!link) return plainTextReply(reply, 400, 'this link is not valid');
    await counted('click', link.deliveryId, deps.trackClick);
    return (
      reply
        .status(302)
        // Non-ASCII in the signed URL percent-encoded: the same address, as a header may carry it.
        .header('location', new URL(link.url).href)
        .header('cache-control', 'no-store')
        .header('referrer-policy', 'no-referrer')
        .send()
    );
  });
}
