import { z } from 'zod';
import { defineEvent } from './define.ts';

/**
 * What an organization's API keys used through the gateway in one hour since the last flush
 * (issue 19): the gateway has no database, so it adds up in memory and publishes each
 * (organization, hour) every USAGE_FLUSH_INTERVAL_MS; identity adds it to its rollups, once per event id.
 */
export const gatewayUsageRecorded = defineEvent({
  type: 'bilten.gateway.usage.recorded',
  aggregateType: 'organization',
  payload: z.object({
    organizationId: z.uuid(),
    hour: z.iso.datetime({ offset: true }),
    apiCalls: z.number().int().min(0),
    graphqlCost: z.number().int().min(0),
  }),
});
