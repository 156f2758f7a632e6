import type { Database } from '@bilten/platform';
import type { FastifyInstance } from 'fastify';
import { verifiedDomainByHostname } from '../db/custom-domains.ts';
import { normalHostname } from '../domain/hostnames.ts';

/**
 * `GET /internal/domains/{hostname}`, for the gateway's host map (and its ask endpoint for
 * on-demand TLS): 200 `{ organizationId, state, hostname }` while the domain's ownership is proven
 * (VERIFIED or later), 404 for any other name, 400 when the name cannot be a hostname. Not public:
 * only the gateway reaches subgraphs.
 */
export function registerDomainRoutes(app: FastifyInstance, { db }: { db: Database }) {
  app.get<{ Params: { hostname: string } }>('/internal/domains/:hostname', async (request, reply) => {
    reply.header('cache-control', 'no-store');
    const hostname = normalHostname(request.params.hostname);
    if (!hostname) return reply.status(400).send({ error: 'not a hostname' });
    const domain = await verifiedDomainByHostname(db, hostname);
    if (!domain) return reply.status(404).send({ error: 'no verified custom domain has this hostname' });
    return { organizationId: domain.organizationId, state: domain.state, hostname: domain.hostname };
  });
}
