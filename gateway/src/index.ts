import { readFileSync } from 'node:fs';
import { runMain } from '@bilten/platform';
import { gatewayEnv, subgraphUrlsFrom } from './config.ts';
import { gatewayOptionsFromEnv, startGateway } from './server.ts';

await runMain('gateway', gatewayEnv, (env, log) =>
  startGateway({
    ...gatewayOptionsFromEnv(env, log),
    supergraphSdl: readFileSync(new URL('../../schema/supergraph.graphql', import.meta.url), 'utf8'),
    subgraphUrls: subgraphUrlsFrom(env),
  }),
);
