import { defineSubgraph, keyRingFromEnv } from '@bilten/platform';
import { diskStorage } from './adapters/asset-storage.ts';
import { dnsRecordLookup } from './adapters/dns-records.ts';
import { brandingEnv } from './config.ts';
import { type BrandingServices, createContext } from './context.ts';
import { eventStore } from './db/schema.ts';
import { consumers } from './events.ts';
import { resolvers } from './resolvers/index.ts';

export const brandingSubgraph = defineSubgraph({
  name: 'branding',
  directory: new URL('../', import.meta.url),
  config: brandingEnv,
  port: (config) => config.BRANDING_PORT,
  resolvers,
  eventTables: eventStore,
  createContext,
  consumers,
  async setup({ config }) {
    const services: BrandingServices = {
      config,
      storage: diskStorage(config.ASSET_STORAGE_DIR),
      dns: dnsRecordLookup(config.DNS_SERVERS),
      keyRing: keyRingFromEnv(config),
    };
    return { services };
  },
});
